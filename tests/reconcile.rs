//! Reconciliation with the GuardDuty API and archiving on close, through the real binary against LocalStack
//! and a wire-compatible fake GuardDuty (`AWS_ENDPOINT_URL_GUARDDUTY`), which LocalStack does not emulate.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::guardduty::{FakeGuardDuty, api_finding};
use support::*;

const DETECTOR: &str = "5ec0ffee5ec0ffee5ec0ffee5ec0ffee";
const ACCOUNT: &str = "123456789012";

fn hex_id(n: usize) -> String {
    format!("{:032x}", 0xfeed_0000_u64 + n as u64)
}

/// `minute` minutes after a fixed start two hours ago (fixed, so that the same minute is the same instant).
fn at(minute: usize) -> String {
    static START: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| chrono::Utc::now() - chrono::Duration::hours(2));
    let t = start + chrono::Duration::minutes(minute as i64);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn put(fake: &FakeGuardDuty, n: usize, severity: f64, minute: usize, count: u64) -> String {
    let id = hex_id(n);
    let f = api_finding(
        &id,
        ACCOUNT,
        "us-east-1",
        "Backdoor:EC2/C&CActivity.B!DNS",
        severity,
        &at(minute),
        count,
        &format!("finding {n}"),
    );
    fake.put_finding(DETECTOR, f);
    id
}

/// The findings-updated-since (epoch ms) of every ListFindings call.
fn list_calls(fake: &FakeGuardDuty) -> Vec<(i64, Option<String>)> {
    fake.calls()
        .into_iter()
        .filter(|c| c.request == format!("POST /detector/{DETECTOR}/findings"))
        .map(|c| {
            let since =
                c.body["findingCriteria"]["criterion"]["updatedAt"]["greaterThanOrEqual"].as_i64().unwrap_or(-1);
            (since, c.body["nextToken"].as_str().map(str::to_owned))
        })
        .collect()
}

async fn finding_ids(aws: &Aws, stack: &Stack) -> Vec<String> {
    aws.incidents(stack.table()).await.iter().filter_map(|i| s(i, "finding_id").map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_missed_on_the_queue_become_incidents_once_and_the_watermark_survives_a_restart() {
    let fake = FakeGuardDuty::start().await;
    fake.add_detector(DETECTOR);
    let stack = deploy_stack("reconcile");
    let aws = Aws::new().await;
    let oce = aws.capture(stack.oce_topic(), &format!("{}-oce-capture", stack.name)).await;
    // 120 findings only in GuardDuty: three pages of ListFindings, three GetFindings batches.
    let mut ids: Vec<String> = (0..118).map(|n| put(&fake, n, 2.0, n % 60, 1)).collect();
    let high = put(&fake, 500, 8.0, 61, 1);
    let both_ways = put(&fake, 501, 8.5, 62, 4);
    ids.push(high.clone());
    ids.push(both_ways.clone());

    // The same finding also arrives through the queue, as EventBridge would deliver it.
    let queued = FindingEvent::from_fixture("ec2-instance-backdoor", &both_ways)
        .account(ACCOUNT)
        .set("region", json!("us-east-1"))
        .severity(8.5)
        .count(4)
        .updated_at(&at(62));
    aws.send(stack.queue_url(), &queued.body()).await;

    let dir = tempfile::tempdir().unwrap();
    let tail = format!(
        "[guardduty]\nreconcile_interval_secs = 3\ndetectors = [{{ region = \"us-east-1\", id = \"{DETECTOR}\" }}]\n"
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let env = [("AWS_ENDPOINT_URL_GUARDDUTY", fake.endpoint())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut daemon = Daemon::start_with_env(&config, "d1", &env);

    let got = eventually("120 incidents", Duration::from_secs(120), || async {
        let got = finding_ids(&aws, &stack).await;
        (got.len() >= ids.len()).then_some(got)
    })
    .await;
    assert_eq!(got.iter().collect::<BTreeSet<_>>(), ids.iter().collect::<BTreeSet<_>>(), "every finding, once");
    let pages = aws.drain(&oce, 2, Duration::from_secs(60), Duration::from_secs(4)).await;
    let mut paged: Vec<String> = pages.iter().map(|p| p.attributes["incident_id"].clone()).collect();
    paged.sort();
    paged.dedup();
    assert_eq!(pages.len(), 2, "one page per HIGH incident, the one seen both ways included: {paged:?}");

    let calls = list_calls(&fake);
    assert!(calls.iter().filter(|(_, token)| token.is_some()).count() >= 2, "paginated: {calls:?}");
    let gets = fake.calls().into_iter().filter(|c| c.request.ends_with("/findings/get")).count();
    assert!(gets >= 3, "GetFindings in batches of 50: {gets}");

    // Stop; a finding appears; restart: the new sweep starts from the stored watermark, not from scratch.
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    assert!(status.success());
    let newest_before: i64 = chrono::DateTime::parse_from_rfc3339(&at(62)).unwrap().timestamp_millis();
    let late = put(&fake, 600, 5.0, 70, 1);
    let calls_before = list_calls(&fake).len();
    let _daemon = Daemon::start_with_env(&config, "d2", &env);
    eventually("the late finding", Duration::from_secs(60), || async {
        finding_ids(&aws, &stack).await.contains(&late).then_some(())
    })
    .await;
    let (since, _) = list_calls(&fake)[calls_before];
    assert_eq!(since, newest_before - 5 * 60 * 1000, "resumed from the watermark (minus the overlap)");
    assert_eq!(finding_ids(&aws, &stack).await.len(), ids.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_archives_the_finding_and_a_failure_is_reported_and_retried() {
    let fake = FakeGuardDuty::start().await;
    fake.add_detector(DETECTOR);
    let stack = deploy_stack("archive");
    let first = put(&fake, 1, 5.0, 1, 1);
    let second = put(&fake, 2, 5.0, 2, 1);
    let dir = tempfile::tempdir().unwrap();
    let endpoint = fake.endpoint();
    let env = [("AWS_ENDPOINT_URL_GUARDDUTY", endpoint.as_str())];

    // A sweep by hand, from the command line, reports what it found.
    let tail = "[guardduty]\nreconcile_interval_secs = 0\narchive_on_close = true\n";
    let config = write_config_with(dir.path(), &stack, "", tail);
    let since = at(0);
    let (code, out, err) = gd_env(&config, &["reconcile", "--since", &since, "--json"], &env);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["detectors"][0]["detector_id"], DETECTOR, "discovered with ListDetectors");
    assert_eq!(
        (report["detectors"][0]["listed"].clone(), report["detectors"][0]["created"].clone()),
        (json!(2), json!(2))
    );
    let (_, out, _) = gd_env(&config, &["reconcile", "--since", &since, "--json"], &env);
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["detectors"][0]["unchanged"], 2, "a second sweep changes nothing");

    let incident_of = |finding: &str| {
        let listed = gd_json(&config, &["incidents", "list"]);
        listed["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["finding_id"] == finding)
            .map(|i| i["incident_id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let close = |id: &str| gd_env(&config, &["incidents", "close", id, "--by", "alice", "--notes", "benign"], &env);

    let (code, _, err) = close(&incident_of(&first));
    assert_eq!(code, 0, "{err}");
    assert_eq!(fake.archived(), vec![first.clone()], "closing archived the finding in GuardDuty");

    // An organization's administrator sees its members' findings, each naming the member's detector; only
    // the administrator may archive, with its own detector of the region.
    let member = FindingEvent::version("4e4b4e4b4e4b4e4b4e4b4e4b4e4b4e4b", 1, 1, 5.0).account("111122223333");
    let mut body: Value = serde_json::from_str(&member.body()).unwrap();
    body["detail"]["service"]["detectorId"] = json!("0123456789abcdef0123456789abcdef");
    Aws::new().await.send(stack.queue_url(), &body.to_string()).await;
    let member_daemon = Daemon::start_with_env(&config, "member", &env);
    let member_incident = eventually("the member's incident", Duration::from_secs(60), || async {
        let listed = gd_json(&config, &["incidents", "list"]);
        let found = listed["incidents"].as_array()?.iter().find(|i| i["finding_id"] == member.id())?.clone();
        found["incident_id"].as_str().map(str::to_owned)
    })
    .await;
    drop(member_daemon);
    let (code, _, err) = close(&member_incident);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fake.archived(), vec![first.clone(), member.id().to_owned()], "archived with this account's detector");

    // Archiving fails: the close is kept, the failure is reported, and the daemon retries until it works.
    fake.fail_archives(2);
    let incident = incident_of(&second);
    let (code, out, err) = close(&incident);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("is closed, but archiving its finding in GuardDuty failed") && err.contains("AccessDenied"),
        "{err}"
    );
    let shown = gd_json(&config, &["incidents", "show", &incident]);
    assert_eq!(shown["incident"]["status"], "closed");
    let daemon_config = write_config_with(
        dir.path(),
        &Stack { name: format!("{}-daemon", stack.name), outputs: stack.outputs.clone() },
        "",
        "[guardduty]\nreconcile_interval_secs = 1\narchive_on_close = true\n",
    );
    let _daemon = Daemon::start_with_env(&daemon_config, "d1", &env);
    eventually("the retried archive", Duration::from_secs(60), || async {
        fake.archived().contains(&second).then_some(())
    })
    .await;
    assert!(fake.archive_calls().len() >= 4, "two failures, then success: {:?}", fake.archive_calls());
    let shown = eventually("the archive in the timeline", Duration::from_secs(30), || async {
        let shown = gd_json(&config, &["incidents", "show", &incident]);
        let actions: Vec<String> =
            shown["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        actions.contains(&"finding.archived".to_string()).then_some(actions)
    })
    .await;
    assert!(shown.contains(&"archive.failed".to_string()), "{shown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_daemons_sweep_once_per_interval() {
    let fake = FakeGuardDuty::start().await;
    fake.add_detector(DETECTOR);
    let stack = deploy_stack("lease");
    put(&fake, 1, 2.0, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let tail = format!(
        "[guardduty]\nreconcile_interval_secs = 4\ndetectors = [{{ region = \"us-east-1\", id = \"{DETECTOR}\" }}]\n"
    );
    let config = write_config_with(dir.path(), &stack, "", &tail);
    let endpoint = fake.endpoint();
    let env = [("AWS_ENDPOINT_URL_GUARDDUTY", endpoint.as_str())];
    let daemons: Vec<Daemon> = (0..3).map(|i| Daemon::start_with_env(&config, &format!("d{i}"), &env)).collect();
    tokio::time::sleep(Duration::from_secs(13)).await;
    let sweeps = list_calls(&fake).len();
    // 13 s at one sweep per 4 s: at start, then about three more; three daemons without a lease would make 12.
    assert!((2..=5).contains(&sweeps), "{sweeps} sweeps in 13 s");
    drop(daemons);
}
