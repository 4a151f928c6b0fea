//! The new user's path, through the real delivery path: `sample` puts GuardDuty findings on the default
//! EventBridge bus, the stack's rule and queue policy deliver them to the queue, the daemon makes incidents
//! and pages, and `pages --follow` shows what the on-call engineer and the security officer receive.
//! (Other tests put messages straight on the queue; this one fails if the rule or the queue policy does not
//! deliver, or if the urgent rule routes by severity wrongly.) One test in its binary: every stack's rule sees
//! every event of the default bus.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn sample(config: &std::path::Path, severity: &str) -> String {
    let out = gd_json(config, &["sample", "--severity", severity]);
    assert_eq!(out["via"], "eventbridge");
    out["finding_ids"][0].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_finding_becomes_an_incident_and_a_page_through_eventbridge() {
    let stack = deploy_stack("first");
    let aws = Aws::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stack, "");
    let _daemon = Daemon::start(&config, "d1");

    // Watch queues of other runs (one killed mid-test leaves its queue) are not this watcher's.
    let watch_queues = || async {
        let queues = aws.sqs.list_queues().queue_name_prefix("gd-incidents-pages-").send().await.unwrap();
        queues.queue_urls().iter().cloned().collect::<std::collections::BTreeSet<String>>()
    };
    let before = watch_queues().await;
    // What the on-call engineer and the security officer see, as a user would watch it.
    let mut watcher = Command::new(binary())
        .args(["pages", "--follow", "--json", "--config"])
        .arg(&config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = watcher.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    // The watch queue exists once it is subscribed.
    let ours = eventually("the pages watcher to subscribe", Duration::from_secs(30), || async {
        let new: Vec<String> = watch_queues().await.difference(&before).cloned().collect();
        (!new.is_empty()).then_some(new)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let started = Instant::now();
    let high = sample(&config, "HIGH");
    let incident = eventually("the HIGH sample's incident", Duration::from_secs(60), || async {
        aws.incidents(stack.table()).await.into_iter().find(|i| s(i, "finding_id") == Some(high.as_str()))
    })
    .await;
    assert_eq!(s(&incident, "severity"), Some("HIGH"));
    let incident_id = s(&incident, "incident_id").unwrap().to_owned();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 && Instant::now() < deadline {
        if let Ok(page) = rx.recv_timeout(Duration::from_secs(1)) {
            seen.push(page);
        }
    }
    let mut topics: Vec<&str> = seen.iter().map(|p| p["topic"].as_str().unwrap()).collect();
    topics.sort();
    assert_eq!(topics, vec!["ISO", "OCE"], "one page on each topic: {seen:?}");
    for p in &seen {
        assert_eq!(p["incident_id"], incident_id.as_str());
        assert_eq!(p["severity"], "HIGH");
        assert!(p["title"].as_str().unwrap().starts_with("[SAMPLE]"));
    }
    let to_page = started.elapsed();

    // A LOW sample: an incident, and no page.
    let low = sample(&config, "LOW");
    eventually("the LOW sample's incident", Duration::from_secs(60), || async {
        aws.incidents(stack.table()).await.into_iter().find(|i| s(i, "finding_id") == Some(low.as_str()))
    })
    .await;
    assert!(rx.recv_timeout(Duration::from_secs(4)).is_err(), "a LOW finding pages no one");

    // The urgent rule copied the HIGH finding (severity >= 7) to the urgent queue, and not the LOW one. This
    // daemon does not read that queue (the contract's config alone works), so the copies are still there.
    // Other sessions' events on the shared bus may be there too: only these two findings count.
    let urgent = aws.drain(stack.output("UrgentQueueUrl"), 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    let urgent_ids: Vec<String> = urgent
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(&m.body).ok())
        .filter_map(|e| e["detail"]["id"].as_str().map(str::to_owned))
        .collect();
    assert!(urgent_ids.contains(&high), "the HIGH finding reached the urgent queue: {urgent_ids:?}");
    assert!(!urgent_ids.contains(&low), "the LOW finding did not reach the urgent queue: {urgent_ids:?}");
    let listed = gd_json(&config, &["incidents", "list"]);
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 2);

    // Ctrl-C: the watcher cleans up its queue.
    Command::new("kill").args(["-INT", &watcher.id().to_string()]).status().unwrap();
    let status = watcher.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let left = watch_queues().await;
    assert!(ours.iter().all(|q| !left.contains(q)), "the watch queue {ours:?} is deleted: {left:?}");
    eprintln!("FIGURES first five minutes: sample HIGH to both pages on screen in {:.1}s", to_page.as_secs_f64());
}
