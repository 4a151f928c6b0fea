//! Nothing lost, nothing doubled, through the real binary on LocalStack: kill -9 at random points, three
//! daemons at once, an outage of DynamoDB and SNS, hostile messages, and SIGTERM with work in flight.
//! Each test prints a FIGURES line (`deploy/test.sh --test resilience -- --nocapture | grep FIGURES`).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// A small deterministic generator, seeded per run (printed, and settable with RESILIENCE_SEED).
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("RESILIENCE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7)
        });
        eprintln!("RESILIENCE_SEED={seed}");
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn level(severity: f64) -> &'static str {
    match severity {
        s if s < 4.0 => "LOW",
        s if s < 7.0 => "MEDIUM",
        s if s < 9.0 => "HIGH",
        _ => "CRITICAL",
    }
}

fn rank(level: &str) -> u8 {
    ["LOW", "MEDIUM", "HIGH", "CRITICAL"].iter().position(|l| *l == level).unwrap_or(0) as u8
}

fn version(id: &str, minute: u64, count: u64, severity: f64) -> String {
    FindingEvent::version(id, minute as u32, count, severity).title(&format!("{id} v{minute}")).body()
}

/// The corpus: findings with versions that escalate and de-escalate, byte-identical redeliveries, and
/// messages that are not findings. Returns (bodies in send order, expected level per finding, rejects).
struct Corpus {
    bodies: Vec<String>,
    expected: BTreeMap<String, &'static str>,
    rejects: BTreeSet<String>,
}

fn corpus(rng: &mut Rng, findings: usize, tag: u32) -> Corpus {
    const SEVERITIES: [f64; 6] = [2.0, 3.5, 5.0, 7.5, 8.0, 9.5];
    let mut bodies = Vec::new();
    let mut expected = BTreeMap::new();
    for n in 0..findings {
        let id = format!("{tag:08x}{:024x}", n);
        let mut max = "LOW";
        for v in 0..=rng.below(3) {
            let sev = SEVERITIES[rng.below(SEVERITIES.len() as u64) as usize];
            if rank(level(sev)) > rank(max) {
                max = level(sev);
            }
            let body = version(&id, v + 1, v + 1, sev);
            if rng.below(10) < 3 {
                bodies.push(body.clone()); // a byte-identical redelivery
            }
            bodies.push(body);
        }
        expected.insert(id, max);
    }
    let mut rejects = BTreeSet::new();
    let base = version("ba5e0000000000000000000000000000", 1, 1, 8.0);
    let mut missing_id: Value = serde_json::from_str(&base).unwrap();
    missing_id["detail"].as_object_mut().unwrap().remove("id");
    let mut foreign: Value = serde_json::from_str(&base).unwrap();
    foreign["source"] = json!("aws.securityhub");
    rejects.insert("not json at all".to_string());
    rejects.insert(format!("{{\"tag\": {tag}, \"truncated\": "));
    rejects.insert(missing_id.to_string());
    rejects.insert(foreign.to_string());
    rejects.insert(base.replace("\"severity\":8.0", "\"severity\":NaN"));
    rejects.insert(base.replace("\"severity\":8.0", "\"severity\":-1"));
    rejects.insert(base.replace("\"severity\":8.0", "\"severity\":\"HIGH\""));
    rejects.insert(base.replace("\"severity\":8.0", "\"severity\":1e999"));
    rejects.insert(format!("{}{}", "[".repeat(5000), "]".repeat(5000)));
    rejects.insert(format!("{{\"huge\": \"{}", "x".repeat(250_000)));
    rejects.insert(
        base.replace("\"detail\":{", &format!("\"detail\":{{\"resource\":{}{},", "[".repeat(1000), "]".repeat(1000))),
    );
    bodies.extend(rejects.iter().cloned());
    // Shuffle: SQS keeps no order anyway.
    for i in (1..bodies.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        bodies.swap(i, j);
    }
    Corpus { bodies, expected, rejects }
}

async fn send_all(aws: &Aws, queue: &str, bodies: &[String]) {
    for chunk in bodies.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(b)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = aws.sqs.send_message_batch().queue_url(queue).set_entries(Some(entries)).send().await.unwrap();
        assert!(out.failed.is_empty(), "send failed: {:?}", out.failed);
    }
}

/// Waits until every finding has its incident and the work queue is empty, then checks the outcome:
/// one incident per finding at the right level, every paging level paged to both topics, the rejects (and
/// only they) dead-lettered. Returns (incidents, pages, duplicate pages).
async fn settle_and_check(
    aws: &Aws,
    stack: &Stack,
    c: &Corpus,
    captures: (&str, &str),
    limit: Duration,
) -> (usize, usize, usize) {
    eventually("every finding recorded and the queue empty", limit, || async {
        let done = aws.incidents(stack.table()).await.len() >= c.expected.len()
            && aws.queue_depth(stack.queue_url()).await == 0;
        done.then_some(())
    })
    .await;
    let items = aws.incidents(stack.table()).await;
    let mut by_finding: HashMap<String, (String, String)> = HashMap::new();
    for i in &items {
        let f = s(i, "finding_id").unwrap().to_owned();
        let previous = by_finding
            .insert(f.clone(), (s(i, "incident_id").unwrap().to_owned(), s(i, "severity").unwrap().to_owned()));
        assert!(previous.is_none(), "two incidents for finding {f}");
    }
    for (finding, want) in &c.expected {
        let (_, got) = by_finding.get(finding).unwrap_or_else(|| panic!("no incident for {finding}"));
        assert_eq!(got, want, "level of {finding}");
    }
    assert_eq!(items.len(), c.expected.len(), "no incident for anything that is not a finding");

    let dead = aws.drain(stack.dlq_url(), c.rejects.len(), Duration::from_secs(60), Duration::from_secs(2)).await;
    let dead: BTreeSet<String> = dead.into_iter().map(|m| m.body).collect();
    assert_eq!(dead, c.rejects, "exactly the rejects are dead-lettered (each at least once)");

    let incident_level: HashMap<String, String> = by_finding.values().cloned().collect();
    let mut pages = 0;
    let mut copies: HashMap<(String, String, String), usize> = HashMap::new();
    for (topic, queue) in [("OCE", captures.0), ("ISO", captures.1)] {
        let got = aws.drain(queue, 0, Duration::from_secs(1), Duration::from_secs(5)).await;
        pages += got.len();
        for p in got {
            let key = (p.attributes["incident_id"].clone(), p.attributes["severity"].clone(), topic.to_owned());
            *copies.entry(key).or_default() += 1;
        }
    }
    for (incident, level) in &incident_level {
        for topic in ["OCE", "ISO"] {
            let paged = |l: &str| copies.contains_key(&(incident.clone(), l.to_owned(), topic.to_owned()));
            match level.as_str() {
                "HIGH" => assert!(paged("HIGH"), "{incident} HIGH not paged to {topic}"),
                "CRITICAL" => assert!(paged("CRITICAL"), "{incident} CRITICAL not paged to {topic}"),
                _ => assert!(!paged("HIGH") && !paged("CRITICAL"), "{incident} {level} paged"),
            }
        }
    }
    let duplicates = copies.values().map(|n| n - 1).sum();
    for ((incident, level, topic), n) in copies.iter().filter(|(_, n)| **n > 1) {
        let item = items.iter().find(|i| s(i, "incident_id") == Some(incident.as_str()));
        eprintln!(
            "duplicate: {n} {level} pages of {incident} to {topic}; stored pages: {:?}",
            item.and_then(|i| i.get("pages"))
        );
    }
    (items.len(), pages, duplicates)
}

/// A config for tests that kill and starve daemons: messages and claims come back fast, no re-pages, no
/// sweeps; `replace` edits the text ((from, to) pairs).
fn resilient_config(dir: &Path, stack: &Stack, claim_secs: u64, replace: &[(&str, &str)]) -> std::path::PathBuf {
    let path = write_config_with(
        dir,
        stack,
        "visibility_timeout_secs = 5\nretry_delay_secs = 1\nrequeue_after_receives = 3",
        "[paging]\n",
    );
    let mut text = std::fs::read_to_string(&path).unwrap().replace("[paging]\n\n", "").replace(
        "[paging]\n",
        &format!(
            "[escalation]\nack_timeout_secs = 0\n\n[guardduty]\nreconcile_interval_secs = 0\n\n[paging]\nclaim_timeout_secs = {claim_secs}\n"
        ),
    );
    for (from, to) in replace {
        assert!(text.contains(from), "{from} not in the config");
        text = text.replace(from, to);
    }
    std::fs::write(&path, text).unwrap();
    path
}

async fn captures(aws: &Aws, stack: &Stack) -> (String, String) {
    (
        aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await,
        aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_at_random_points_loses_nothing() {
    let started = Instant::now();
    let mut rng = Rng::seeded();
    let stack = deploy_stack("kill9");
    let aws = Aws::new().await;
    let (oce, iso) = captures(&aws, &stack).await;
    let dir = tempfile::tempdir().unwrap();
    // Short claims: a killed daemon's pages are taken over within seconds (at the price of a duplicate when
    // a publish and its record straddle a kill, which is what this test measures).
    let config = resilient_config(dir.path(), &stack, 5, &[]);
    let c = corpus(&mut rng, 100, 0x0000_0009);
    send_all(&aws, stack.queue_url(), &c.bodies).await;

    let mut daemon = Daemon::start(&config, "d0");
    let kills = 8;
    for k in 1..=kills {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1700))).await;
        Command::new("kill").args(["-KILL", &daemon.pid().to_string()]).status().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        daemon = Daemon::start(&config, &format!("d{k}"));
    }
    let (incidents, pages, duplicates) =
        settle_and_check(&aws, &stack, &c, (&oce, &iso), Duration::from_secs(240)).await;
    assert!(daemon.running(), "the last daemon is still up");
    eprintln!(
        "FIGURES kill -9: {} messages ({} findings, {} rejects), {kills} kills, {incidents} incidents, {pages} pages, {duplicates} duplicate pages, {:.1}s",
        c.bodies.len(),
        c.expected.len(),
        c.rejects.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_never_double_an_incident_or_a_page() {
    let started = Instant::now();
    let mut rng = Rng::seeded();
    let stack = deploy_stack("three");
    let aws = Aws::new().await;
    let (oce, iso) = captures(&aws, &stack).await;
    let dir = tempfile::tempdir().unwrap();
    let config = resilient_config(dir.path(), &stack, 60, &[]);
    let c = corpus(&mut rng, 100, 0x0000_0003);
    let mut daemons: Vec<Daemon> = (0..3).map(|i| Daemon::start(&config, &format!("d{i}"))).collect();
    send_all(&aws, stack.queue_url(), &c.bodies).await;
    let (incidents, pages, duplicates) =
        settle_and_check(&aws, &stack, &c, (&oce, &iso), Duration::from_secs(180)).await;
    assert_eq!(duplicates, 0, "three daemons, no crash: no page twice");
    for d in &mut daemons {
        assert!(d.running(), "{} survived every hostile message", d.name);
    }
    eprintln!(
        "FIGURES three daemons: {} messages, {incidents} incidents, {pages} pages, {duplicates} duplicate pages, {:.1}s",
        c.bodies.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_dynamodb_then_sns_is_waited_out() {
    let started = Instant::now();
    let mut rng = Rng::seeded();
    let stack = deploy_stack("outage");
    let aws = Aws::new().await;
    let (oce, iso) = captures(&aws, &stack).await;
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults");
    let fault_line = format!("attempt_timeout_secs = 2\nfault_injection_file = \"{}\"", faults.display());
    let config = resilient_config(dir.path(), &stack, 5, &[("attempt_timeout_secs = 5", fault_line.as_str())]);
    let c = corpus(&mut rng, 40, 0x0000_00a7);
    let mut daemon = Daemon::start(&config, "d1");
    eventually("the daemon consuming", Duration::from_secs(30), || async {
        daemon.log().contains("consuming").then_some(())
    })
    .await;
    // DynamoDB refuses connections (nothing listens on port 1) while the burst arrives...
    std::fs::write(&faults, "DynamoDB http://127.0.0.1:1\n").unwrap();
    send_all(&aws, stack.queue_url(), &c.bodies).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    // ...then SNS does, while DynamoDB is back...
    std::fs::write(&faults, "SNS http://127.0.0.1:1\n").unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    // ...then everything is back.
    std::fs::remove_file(&faults).unwrap();
    let outage_over = started.elapsed();
    let (incidents, pages, duplicates) =
        settle_and_check(&aws, &stack, &c, (&oce, &iso), Duration::from_secs(180)).await;
    assert!(daemon.running(), "the daemon stayed up through the outage");
    let log = daemon.log();
    let retried = log.matches("failed for a passing reason").count();
    assert!(retried > 0, "the outage made work fail and come back");
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success());
    eprintln!(
        "FIGURES outage: {} messages, 16s outage, {retried} retried failures, {incidents} incidents, {pages} pages, {duplicates} duplicates, caught up {:.1}s after the outage",
        c.bodies.len(),
        (started.elapsed() - outage_over).as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_work_in_flight_exits_in_time_and_the_work_comes_back() {
    let stack = deploy_stack("sigterm");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    // A server that accepts and never answers: DynamoDB calls hang until their attempt timeout.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole = black_hole.local_addr().unwrap();
    let held = std::thread::spawn(move || black_hole.incoming().take(64).filter_map(Result::ok).collect::<Vec<_>>());
    let faults = dir.path().join("faults");
    let stuck =
        write_config_with(dir.path(), &stack, "visibility_timeout_secs = 30", "[daemon]\nshutdown_grace_secs = 3\n");
    let text = std::fs::read_to_string(&stuck).unwrap().replace(
        "max_attempts = 3\n",
        &format!("max_attempts = 3\nfault_injection_file = \"{}\"\noperation_timeout_secs = 60\n", faults.display()),
    );
    let text = text.replace("attempt_timeout_secs = 5", "attempt_timeout_secs = 30");
    std::fs::write(&stuck, text).unwrap();
    let mut a = Daemon::start(&stuck, "stuck");
    eventually("the daemon consuming", Duration::from_secs(30), || async {
        a.log().contains("consuming").then_some(())
    })
    .await;
    std::fs::write(&faults, format!("DynamoDB http://{hole}\n")).unwrap();
    let ids: Vec<String> = (0..5).map(|n| format!("{:032x}", 0x5157_0000u64 + n)).collect();
    for id in &ids {
        aws.send(stack.queue_url(), &version(id, 1, 1, 8.0)).await;
    }
    eventually("the messages in flight", Duration::from_secs(30), || async {
        let log = a.log();
        (log.matches("\"message_id\"").count() >= 5 || aws.queue_depth(stack.queue_url()).await == 5).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, took) = a.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}:\n{}", a.log());
    assert!(took < Duration::from_secs(20));
    assert!(a.log().contains("released unfinished message"), "{}", a.log());

    // Released, not left to time out: another daemon picks them up well before the 30 s visibility timeout.
    let fresh =
        write_config(dir.path(), &Stack { name: format!("{}-b", stack.name), outputs: stack.outputs.clone() }, "");
    let released_at = Instant::now();
    let _b = Daemon::start(&fresh, "b");
    eventually("the released work done by another daemon", Duration::from_secs(20), || async {
        (aws.incidents(stack.table()).await.len() == ids.len()).then_some(())
    })
    .await;
    eprintln!(
        "FIGURES sigterm: 5 messages in flight, exit 0 in {:.1}s, picked up by another daemon {:.1}s later",
        took.as_secs_f64(),
        released_at.elapsed().as_secs_f64()
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_cut_off_by_sigterm_gives_back_what_it_took() {
    let stack = deploy_stack("cutoff");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    // Long polls and a long visibility timeout, as in production: at SIGTERM the daemon waits in a poll.
    let config = write_config(dir.path(), &stack, "visibility_timeout_secs = 300");
    let text = std::fs::read_to_string(&config).unwrap().replace("wait_time_secs = 1\n", "wait_time_secs = 20\n");
    std::fs::write(&config, text).unwrap();
    let mut daemon = Daemon::start(&config, "d1");
    eventually("the daemon polling", Duration::from_secs(30), || async {
        daemon.log().contains("consuming").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // SIGTERM, and a finding arriving just after it: the pending poll may take it.
    let stopping = std::thread::spawn(move || {
        let (status, _) = daemon.terminate(Duration::from_secs(20));
        (status, daemon.log())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    aws.send(stack.queue_url(), &version("c0ff0000000000000000000000000001", 1, 1, 2.0)).await;
    let (status, log) = stopping.join().unwrap();
    assert!(status.success(), "exit {status:?}:\n{log}");

    // Not hidden for the 300 s visibility timeout: the message can be received again at once.
    let got = aws.drain(stack.queue_url(), 1, Duration::from_secs(10), Duration::from_millis(500)).await;
    assert_eq!(got.len(), 1, "the message is on the queue, visible; log:\n{log}");
    assert!(!log.contains("incident created"), "a stopping daemon takes no new work:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_finding_body_is_logged_at_info() {
    let stack = deploy_stack("logs");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let text =
        std::fs::read_to_string(&config).unwrap().replace("level = \"gd_incidents=debug,info\"", "level = \"info\"");
    std::fs::write(&config, text).unwrap();
    let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-SECRETMARKER";
    let mut d = Daemon::start_with_env(&config, "d1", &[("AWS_SECRET_ACCESS_KEY", secret)]);
    let mut v = fixture("ec2-instance-backdoor");
    v["detail"]["description"] = json!("DESCRIPTION-MARKER of the finding body");
    aws.send(stack.queue_url(), &v.to_string()).await;
    aws.send(stack.queue_url(), "BODY-MARKER not json").await;
    eventually("the finding and the reject handled", Duration::from_secs(60), || async {
        (aws.incidents(stack.table()).await.len() == 1 && aws.queue_depth(stack.dlq_url()).await == 1).then_some(())
    })
    .await;
    let (status, _) = d.terminate(Duration::from_secs(20));
    assert!(status.success());
    let log = d.log();
    assert!(log.contains("incident created"), "{log}");
    for marker in [secret, "DESCRIPTION-MARKER", "BODY-MARKER", "instanceDetails"] {
        assert!(!log.contains(marker), "{marker} logged at info:\n{log}");
    }
}
