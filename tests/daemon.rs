//! The daemon end to end on LocalStack: the real binary, the real template, findings through SQS, incidents
//! read back from DynamoDB, pages captured through SQS subscriptions on both topics, rejects in the DLQ.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// A version of a synthetic HIGH-capable finding: (updatedAt minute, count, severity).
fn version(id: &str, minute: u32, count: u64, severity: f64) -> String {
    let mut v = FindingEvent::version(id, minute, count, severity)
        .arn(&format!("arn:aws:guardduty:us-east-1:123456789012:detector/d/finding/{id}"))
        .title(&format!("{id} version {minute}.{count}"));
    v.0["detail"]["service"]["eventLastSeen"] = json!(format!("2026-11-20T10:{minute:02}:00.000Z"));
    v.body()
}

const FIXTURES: [(&str, &str); 12] = [
    ("ec2-instance-backdoor", "HIGH"),
    ("iam-accesskey-recon", "MEDIUM"),
    ("s3-bucket-exfil", "HIGH"),
    ("s3-object-malware", "HIGH"),
    ("eks-cluster-anonymous", "HIGH"),
    ("container-runtime-crypto", "HIGH"),
    ("rds-login-anomaly", "MEDIUM"),
    ("lambda-crypto", "HIGH"),
    ("ec2-ssh-bruteforce-low", "LOW"),
    ("ec2-critical-attack-sequence", "CRITICAL"),
    ("unicode-long-title", "HIGH"),
    ("kubernetes-malware-ebs", "HIGH"),
];

/// (incident id, severity) of each page, checking the attributes and body every page must have.
fn pages(received: &[Received], topic: &str) -> Vec<(String, String)> {
    received
        .iter()
        .map(|m| {
            let id =
                m.attributes.get("incident_id").unwrap_or_else(|| panic!("{topic} page without incident_id: {m:?}"));
            let sev = m.attributes.get("severity").unwrap_or_else(|| panic!("{topic} page without severity: {m:?}"));
            for needle in [
                id.as_str(),
                sev.as_str(),
                "Account:",
                "Region:",
                "Resource:",
                "First seen:",
                "Last seen:",
                "Count:",
                "incidents ack",
            ] {
                assert!(m.body.contains(needle), "{topic} page lacks {needle:?}:\n{}", m.body);
            }
            (id.clone(), sev.clone())
        })
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_become_incidents_pages_and_dead_letters() {
    let started = Instant::now();
    let stack = deploy_stack("ingest");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let mut daemon = Daemon::start(&config, "d1");
    let queue = stack.queue_url();
    let mut sent = 0;

    // Phase 1: real findings of every resource type, redeliveries, first versions, and bad messages.
    for (name, _) in FIXTURES {
        aws.send(queue, &fixture(name).to_string()).await;
        sent += 1;
    }
    let backdoor = fixture("ec2-instance-backdoor").to_string();
    for _ in 0..2 {
        aws.send(queue, &backdoor).await; // byte-identical redeliveries
        sent += 1;
    }
    let escalates = "e5ca1a7e5ca1a7e5ca1a7e5ca1a7e5c0";
    let goes_critical = "c417c417c417c417c417c417c417c410";
    let late = "1a7e1a7e1a7e1a7e1a7e1a7e1a7e1a70";
    aws.send(queue, &version(escalates, 1, 1, 2.0)).await;
    aws.send(queue, &version(goes_critical, 1, 1, 8.0)).await;
    aws.send(queue, &version(late, 5, 9, 5.0)).await;
    sent += 3;

    let mut no_id = fixture("lambda-crypto");
    no_id["detail"].as_object_mut().unwrap().remove("id");
    let mut sev_11 = fixture("lambda-crypto");
    sev_11["detail"]["severity"] = json!(11);
    let mut sev_text = fixture("lambda-crypto");
    sev_text["detail"]["severity"] = json!("8");
    let mut foreign = fixture("lambda-crypto");
    foreign["source"] = json!("aws.ec2");
    foreign["detail-type"] = json!("EC2 Instance State-change Notification");
    let bad: BTreeMap<String, &str> = [
        ("this is not JSON".to_string(), "not_json"),
        (foreign.to_string(), "not_guardduty_finding"),
        (no_id.to_string(), "missing_field"),
        (sev_11.to_string(), "invalid_severity"),
        (sev_text.to_string(), "invalid_severity"),
    ]
    .into_iter()
    .collect();
    for body in bad.keys() {
        aws.send(queue, body).await;
        sent += 1;
    }

    // Every bad message lands in the DLQ with its reason, once.
    let dead = aws.drain(stack.dlq_url(), bad.len(), Duration::from_secs(60), Duration::from_secs(2)).await;
    let dead: BTreeMap<String, String> = dead
        .into_iter()
        .map(|m| (m.body.clone(), m.attributes.get("reject_reason").cloned().unwrap_or_default()))
        .collect();
    assert_eq!(dead.len(), bad.len(), "dead-lettered: {dead:?}");
    for (body, reason) in &bad {
        assert_eq!(dead.get(body).map(String::as_str), Some(*reason), "reason for {body:.60}");
    }

    let expected_incidents = FIXTURES.len() + 3;
    let items = eventually("phase 1 incidents", Duration::from_secs(60), || async {
        let items = aws.incidents(stack.table()).await;
        (items.len() >= expected_incidents).then_some(items)
    })
    .await;
    assert_eq!(items.len(), expected_incidents, "one incident per finding");

    let by_finding: BTreeMap<String, _> =
        items.iter().map(|i| (s(i, "finding_id").unwrap().to_string(), i.clone())).collect();
    let id_of = |finding: &str| s(&by_finding[finding], "incident_id").unwrap().to_string();
    let mut want_pages = Vec::new();
    for (name, level) in FIXTURES {
        let f = fixture(name);
        let item = &by_finding[f["detail"]["id"].as_str().unwrap()];
        assert_eq!(s(item, "severity"), Some(level), "{name}");
        if level == "HIGH" || level == "CRITICAL" {
            want_pages.push((id_of(f["detail"]["id"].as_str().unwrap()), level.to_string()));
        }
    }
    want_pages.push((id_of(goes_critical), "HIGH".into()));

    let oce_pages = aws.drain(&oce, want_pages.len(), Duration::from_secs(60), Duration::from_secs(3)).await;
    let iso_pages = aws.drain(&iso, want_pages.len(), Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(sorted(pages(&oce_pages, "OCE")), sorted(want_pages.clone()), "OCE pages of phase 1");
    assert_eq!(sorted(pages(&iso_pages, "ISO")), sorted(want_pages.clone()), "ISO pages of phase 1");
    let mut total_pages = oce_pages.len() + iso_pages.len();

    // Phase 2: later versions escalate; an older version arrives late; a redelivery changes nothing.
    aws.send(queue, &version(escalates, 2, 2, 8.0)).await;
    aws.send(queue, &version(goes_critical, 2, 2, 9.5)).await;
    aws.send(queue, &version(late, 1, 1, 8.0)).await;
    aws.send(queue, &version(goes_critical, 2, 2, 9.5)).await;
    sent += 4;
    let want = sorted(vec![
        (id_of(escalates), "HIGH".into()),
        (id_of(goes_critical), "CRITICAL".into()),
        (id_of(late), "HIGH".into()),
    ]);
    let oce_pages = aws.drain(&oce, want.len(), Duration::from_secs(60), Duration::from_secs(3)).await;
    let iso_pages = aws.drain(&iso, want.len(), Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(sorted(pages(&oce_pages, "OCE")), want, "OCE pages of phase 2");
    assert_eq!(sorted(pages(&iso_pages, "ISO")), want, "ISO pages of phase 2");
    total_pages += oce_pages.len() + iso_pages.len();

    eventually("the work queue to empty", Duration::from_secs(30), || async {
        (aws.queue_depth(queue).await == 0).then_some(())
    })
    .await;
    let items = aws.incidents(stack.table()).await;
    assert_eq!(items.len(), expected_incidents, "still one incident per finding");
    let by_finding: BTreeMap<String, _> =
        items.iter().map(|i| (s(i, "finding_id").unwrap().to_string(), i.clone())).collect();

    // The contract's attributes, on every incident.
    let mut ids = BTreeSet::new();
    for item in &items {
        for key in [
            "record_type",
            "incident_id",
            "account_id",
            "region",
            "finding_id",
            "finding_type",
            "severity",
            "status",
            "title",
            "created_at",
            "updated_at",
        ] {
            assert!(s(item, key).is_some_and(|v| !v.is_empty()), "string attribute {key} in {item:?}");
        }
        assert_eq!(s(item, "record_type"), Some("incident"));
        for key in ["created_at", "updated_at"] {
            let t = s(item, key).unwrap();
            assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'), "{key} = {t}");
        }
        assert!(n(item, "finding_count").is_some_and(|c| c >= 1.0), "finding_count is a number");
        assert!(ids.insert(s(item, "incident_id").unwrap().to_string()), "incident ids are unique");
    }
    let esc = &by_finding[escalates];
    assert_eq!((s(esc, "severity"), n(esc, "finding_count")), (Some("HIGH"), Some(2.0)));
    assert_eq!(s(esc, "title"), Some(format!("{escalates} version 2.2").as_str()));
    let crit = &by_finding[goes_critical];
    assert_eq!((s(crit, "severity"), n(crit, "finding_count")), (Some("CRITICAL"), Some(2.0)));
    let l = &by_finding[late];
    assert_eq!(s(l, "severity"), Some("HIGH"), "an older version may raise the level");
    assert_eq!(n(l, "finding_count"), Some(9.0), "but never overwrites the newer details");
    assert_eq!(s(l, "title"), Some(format!("{late} version 5.9").as_str()));
    let unicode = &by_finding[fixture("unicode-long-title")["detail"]["id"].as_str().unwrap()];
    assert_eq!(
        s(unicode, "title"),
        fixture("unicode-long-title")["detail"]["title"].as_str(),
        "unicode and long titles are stored whole"
    );
    let backdoor_item = &by_finding[fixture("ec2-instance-backdoor")["detail"]["id"].as_str().unwrap()];
    assert_eq!(s(backdoor_item, "resource"), Some("EC2 instance i-0a1b2c3d4e5f67890 (m5.large) \"web-frontend-01\""));
    assert!(s(backdoor_item, "console_url").unwrap().contains("guardduty"));

    // Nothing is left anywhere, and SIGTERM stops it cleanly.
    assert_eq!(aws.queue_depth(stack.dlq_url()).await, 0, "no other message was dead-lettered");
    assert!(daemon.running(), "the daemon survived every bad message");
    let (status, took) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}; log:\n{}", daemon.log());
    assert!(daemon.log().contains("consumer stopped"));
    eprintln!(
        "FIGURES ingest: {sent} messages sent, {} incidents, {total_pages} pages, {} dead-lettered, SIGTERM exit in {:.2}s, test {:.1}s",
        items.len(),
        bad.len(),
        took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_daemons_never_double_an_incident_or_a_page() {
    let stack = deploy_stack("concurrent");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "batch_size = 3\nmax_in_flight = 8");
    let daemons: Vec<Daemon> = (0..3).map(|i| Daemon::start(&config, &format!("d{i}"))).collect();

    // 20 findings; each delivered three times and raised once, interleaved, so the daemons race on every one.
    let ids: Vec<String> = (0..20).map(|i| format!("{:032x}", 0xc0c0_0000u64 + i)).collect();
    let mut bodies = Vec::new();
    for id in &ids {
        bodies.push(version(id, 1, 1, 8.0));
        bodies.push(version(id, 1, 1, 8.0));
        bodies.push(version(id, 2, 2, 8.5));
    }
    for body in &bodies {
        aws.send(stack.queue_url(), body).await;
    }

    let items = eventually("20 incidents", Duration::from_secs(90), || async {
        let items = aws.incidents(stack.table()).await;
        (items.len() >= ids.len()).then_some(items)
    })
    .await;
    eventually("the work queue to empty", Duration::from_secs(60), || async {
        (aws.queue_depth(stack.queue_url()).await == 0).then_some(())
    })
    .await;
    assert_eq!(aws.incidents(stack.table()).await.len(), ids.len(), "no duplicate incident");
    let want: Vec<(String, String)> =
        sorted(items.iter().map(|i| (s(i, "incident_id").unwrap().to_string(), "HIGH".to_string())).collect());
    let oce_pages = aws.drain(&oce, want.len(), Duration::from_secs(60), Duration::from_secs(3)).await;
    let iso_pages = aws.drain(&iso, want.len(), Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(sorted(pages(&oce_pages, "OCE")), want, "one OCE page per incident");
    assert_eq!(sorted(pages(&iso_pages, "ISO")), want, "one ISO page per incident");
    for mut d in daemons {
        let (status, _) = d.terminate(Duration::from_secs(20));
        assert!(status.success(), "{} exit {status:?}", d.name);
    }
    let items = aws.incidents(stack.table()).await;
    assert!(items.iter().all(|i| n(i, "finding_count") == Some(2.0)), "the newest version won everywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_clearly_when_the_table_is_missing() {
    let stack = deploy_stack("badtable");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let text = std::fs::read_to_string(&config).unwrap().replace(stack.table(), "no-such-table");
    std::fs::write(&config, text).unwrap();
    let out = std::process::Command::new(binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot use incident table no-such-table"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urgent_queue_pages_once_whichever_copy_is_processed_first() {
    let stack = deploy_stack("urgent");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let iso = aws.capture(stack.iso_topic(), &format!("{}-iso-capture", stack.name)).await;
    let dir = tempfile::tempdir().unwrap();
    let urgent = stack.output("UrgentQueueUrl").to_owned();
    let config = write_config(dir.path(), &stack, &format!("urgent_url = \"{urgent}\"\nurgent_max_in_flight = 4"));

    // A backlog of LOW findings on the work queue; the HIGH and CRITICAL ones on both queues, as the two rules
    // deliver them. Everything is waiting when the daemon starts, so both copies of a finding race.
    let lows: Vec<String> = (0..30).map(|i| format!("{:032x}", 0x1010_0000u64 + i)).collect();
    let highs: Vec<(String, f64, &str)> = (0..6)
        .map(|i| {
            let (severity, level) = if i % 2 == 0 { (8.0, "HIGH") } else { (9.5, "CRITICAL") };
            (format!("{:032x}", 0x0e9e_0000u64 + i), severity, level)
        })
        .collect();
    for id in &lows {
        aws.send(stack.queue_url(), &version(id, 1, 1, 2.0)).await;
    }
    for (id, severity, _) in &highs {
        let body = version(id, 1, 1, *severity);
        aws.send(stack.queue_url(), &body).await;
        aws.send(&urgent, &body).await;
    }
    let mut daemon = Daemon::start(&config, "d1");

    let items = eventually("36 incidents", Duration::from_secs(90), || async {
        let items = aws.incidents(stack.table()).await;
        (items.len() >= lows.len() + highs.len()).then_some(items)
    })
    .await;
    eventually("both queues to empty", Duration::from_secs(60), || async {
        (aws.queue_depth(stack.queue_url()).await == 0 && aws.queue_depth(&urgent).await == 0).then_some(())
    })
    .await;
    assert_eq!(aws.incidents(stack.table()).await.len(), lows.len() + highs.len(), "no duplicate incident");
    let level_of: BTreeMap<&str, &str> = highs.iter().map(|(id, _, level)| (id.as_str(), *level)).collect();
    let want: Vec<(String, String)> = sorted(
        items
            .iter()
            .filter_map(|i| {
                let level = level_of.get(s(i, "finding_id")?)?;
                Some((s(i, "incident_id")?.to_string(), level.to_string()))
            })
            .collect(),
    );
    assert_eq!(want.len(), highs.len());
    let oce_pages = aws.drain(&oce, want.len(), Duration::from_secs(60), Duration::from_secs(3)).await;
    let iso_pages = aws.drain(&iso, want.len(), Duration::from_secs(60), Duration::from_secs(1)).await;
    assert_eq!(sorted(pages(&oce_pages, "OCE")), want, "one OCE page per HIGH/CRITICAL incident, at its level");
    assert_eq!(sorted(pages(&iso_pages, "ISO")), want, "one ISO page per HIGH/CRITICAL incident, at its level");
    assert_eq!(aws.queue_depth(stack.dlq_url()).await, 0, "nothing was dead-lettered");
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}; log:\n{}", daemon.log());
    assert!(daemon.log().contains(&urgent), "the daemon consumed the urgent queue:\n{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_reads_well_on_a_phone_in_a_queue_and_in_chat() {
    let stack = deploy_stack("formats");
    let aws = Aws::new().await;
    let queue = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    let phone = format!("+1555{:07}", std::process::id() % 10_000_000);
    aws.phone(stack.oce_topic(), &phone).await;
    let chat = aws.hook(stack.oce_topic()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let env = [
        ("GD_INCIDENTS__PAGING__PORTAL_URL", "https://incidents.example.com"),
        ("GD_INCIDENTS__PAGING__ACK_LINK_KEY", "a-key-of-at-least-thirty-two-characters"),
    ];
    let mut daemon = Daemon::start_with_env(&config, "d1", &env);
    let id = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    aws.send(stack.queue_url(), &version(id, 1, 3, 8.0)).await;

    // A queue: structured JSON with the facts and a dedup key, the attributes, and the text for a person.
    let got = aws.drain(&queue, 1, Duration::from_secs(60), Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let page = got[0].json.clone().unwrap_or_else(|| panic!("a queue gets JSON: {}", got[0].raw));
    let incident = got[0].attributes["incident_id"].clone();
    assert_eq!(page["schema"], "gd-incidents.message/1");
    assert_eq!(page["kind"], "page");
    assert_eq!(page["dedup_key"], format!("{incident}/HIGH"));
    assert_eq!((page["incident_id"].as_str(), page["level"].as_str()), (Some(incident.as_str()), Some("HIGH")));
    assert_eq!((page["finding_id"].as_str(), page["count"].as_u64()), (Some(id), Some(3)));
    let ack = page["ack_url"].as_str().expect("the acknowledgement link");
    assert!(ack.starts_with("https://incidents.example.com/ack/"), "{ack}");
    assert!(got[0].body.contains("To acknowledge") && got[0].body.contains(ack), "{}", got[0].body);
    assert_eq!(got[0].attributes["severity"], "HIGH");

    // A phone: one short line with the level, the title and the link.
    let texts = eventually("the text message", Duration::from_secs(30), || async {
        let texts = aws.texts(&phone).await;
        (!texts.is_empty()).then_some(texts)
    })
    .await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("[HIGH] f0f0f0f0") && texts[0].ends_with(ack), "{}", texts[0]);
    assert!(!texts[0].contains('\n'), "{}", texts[0]);

    // Chat (an HTTPS subscriber such as Amazon Q Developer): the custom notification card.
    let cards = eventually("the chat card", Duration::from_secs(30), || async {
        let cards = chat.messages();
        (!cards.is_empty()).then_some(cards)
    })
    .await;
    let card: serde_json::Value = serde_json::from_str(&cards[0]).unwrap_or_else(|e| panic!("{e}: {}", cards[0]));
    assert_eq!((card["version"].as_str(), card["source"].as_str()), (Some("1.0"), Some("custom")));
    assert!(card["content"]["title"].as_str().unwrap_or_default().starts_with("[HIGH] f0f0f0f0"), "{card}");
    assert!(card["content"]["description"].as_str().unwrap_or_default().contains(&incident), "{card}");
    assert_eq!(card["content"]["nextSteps"][0], format!("Acknowledge in the portal: {ack}"));
    assert_eq!(card["metadata"]["threadId"], incident.as_str());
    assert_eq!(card["metadata"]["additionalContext"]["dedup_key"], format!("{incident}/HIGH"));

    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}; log:\n{}", daemon.log());
}
