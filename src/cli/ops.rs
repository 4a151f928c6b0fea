//! The operator commands: `check`, `health`, `dlq`.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::incidents::CommandError;
use super::output;
use super::{Common, DlqCommand};
use crate::aws::Clients;
use crate::config::Config;
use crate::consumer::discover_dead_letter_queue;
use crate::dlq::DeadLetters;

/// `gd-incidents check`.
pub async fn check(common: &Common) -> Result<(), CommandError> {
    let config = Config::load(&common.config)?;
    let clients = Clients::new(&config.aws).await;
    let checks = crate::check::run(&config, &clients).await;
    let failed = checks.iter().filter(|c| c.result.is_err()).count();
    if common.json {
        let rows: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| match &c.result {
                Ok(detail) => json!({"check": c.what, "call": c.how, "ok": true, "detail": detail}),
                Err(why) => json!({"check": c.what, "call": c.how, "ok": false, "error": why}),
            })
            .collect();
        output::json(&json!({ "config": common.config, "checks": rows, "failed": failed }));
    } else {
        println!("ok    config             {} (region {})", common.config.display(), config.aws.region);
        for c in &checks {
            match &c.result {
                Ok(detail) => println!("ok    {:<18} {}: {detail}", c.what, c.how),
                Err(why) => println!("FAIL  {:<18} {}: {why}", c.what, c.how),
            }
        }
    }
    if failed > 0 {
        return Err(CommandError::Failed(format!("{failed} of {} checks failed", checks.len() + 1)));
    }
    Ok(())
}

/// `gd-incidents health`.
pub async fn health(config: &Path, timeout: u64) -> Result<(), CommandError> {
    let config = Config::load(config)?;
    let listen = config.server.listen.ok_or_else(|| {
        CommandError::Failed("[server] listen is not set: the daemon serves no /healthz to check".into())
    })?;
    match crate::server::probe(listen, "/healthz", Duration::from_secs(timeout.max(1))).await {
        Ok(200) => {
            println!("healthy");
            Ok(())
        }
        Ok(code) => Err(CommandError::Failed(format!("/healthz on {listen} answered {code}"))),
        Err(why) => Err(CommandError::Failed(why)),
    }
}

/// `gd-incidents dlq ...`.
pub async fn dlq(command: DlqCommand) -> Result<(), CommandError> {
    let common = match &command {
        DlqCommand::List { common, .. } | DlqCommand::Redrive { common, .. } => common.clone(),
    };
    let config = Config::load(&common.config)?;
    let clients = Clients::new(&config.aws).await;
    let dlq_url = match &config.queue.dead_letter_url {
        Some(url) => url.clone(),
        None => discover_dead_letter_queue(&clients.sqs, &config.queue.url)
            .await
            .map_err(|e| CommandError::Failed(e.to_string()))?,
    };
    let letters = DeadLetters::new(clients.sqs.clone(), dlq_url, config.queue.url.clone());
    let failed = |e: crate::dlq::DlqError| CommandError::Failed(e.to_string());
    match command {
        DlqCommand::List { limit, .. } => {
            let list = letters.list(limit).await.map_err(failed)?;
            if common.json {
                output::json(&json!({ "dead_letter_queue": letters.url(), "messages": list }));
            } else if list.is_empty() {
                println!("the dead-letter queue {} is empty", letters.url());
            } else {
                for l in &list {
                    println!(
                        "{}  {}  {}",
                        l.message_id,
                        l.reason.as_deref().unwrap_or("(redrive policy: failed too often)"),
                        l.detail.as_deref().unwrap_or("")
                    );
                    println!("    {}", crate::finding::truncate(&l.body.replace('\n', " "), 160));
                }
            }
        }
        DlqCommand::Redrive { ids, limit, .. } => {
            let moved = letters.redrive(&ids, limit).await.map_err(failed)?;
            let missing: Vec<&String> = ids.iter().filter(|id| !moved.contains(id)).collect();
            if common.json {
                output::json(&json!({ "redriven": moved, "not_found": missing }));
            } else {
                println!("sent {} message(s) back to {}", moved.len(), config.queue.url);
            }
            if !missing.is_empty() {
                let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                return Err(CommandError::Failed(format!("not in the dead-letter queue: {}", missing.join(", "))));
            }
        }
    }
    Ok(())
}

/// `gd-incidents reconcile`.
pub async fn reconcile(common: &Common, since: chrono::DateTime<chrono::Utc>) -> Result<(), CommandError> {
    let s = super::incidents::session(common).await?;
    let guardduty = crate::guardduty::GuardDuty::new(&s.clients.shared, &s.config.guardduty_regions());
    let ingest = crate::ingest::Ingest::new(s.dispatch.clone());
    let reconciler = crate::reconcile::Reconciler::new(&s.config, guardduty, s.dispatch.store().clone(), ingest);
    let reports = reconciler.sweep(Some(since)).await.map_err(|e| CommandError::Failed(e.to_string()))?;
    if common.json {
        output::json(&json!({ "detectors": reports }));
    } else if reports.is_empty() {
        println!("no GuardDuty detector found in {}", s.config.guardduty_regions().join(", "));
    } else {
        println!(
            "{:<14} {:<34} {:>6} {:>7} {:>7} {:>9} {:>8} {:>6} {:>5}",
            "REGION", "DETECTOR", "LISTED", "CREATED", "UPDATED", "UNCHANGED", "REJECTED", "FAILED", "PAGES"
        );
        for r in &reports {
            println!(
                "{:<14} {:<34} {:>6} {:>7} {:>7} {:>9} {:>8} {:>6} {:>5}",
                r.region, r.detector_id, r.listed, r.created, r.updated, r.unchanged, r.rejected, r.failed, r.pages
            );
        }
    }
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    if failed > 0 {
        return Err(CommandError::Failed(format!("{failed} finding(s) could not be recorded; run it again")));
    }
    Ok(())
}

/// The account of a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
fn account_of(queue_url: &str) -> Option<&str> {
    let mut parts = queue_url.trim_end_matches('/').rsplit('/');
    parts.next();
    parts.next().filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
}

/// `gd-incidents sample`.
pub async fn sample(
    common: &Common,
    level: crate::severity::Level,
    count: usize,
    finding_type: Option<String>,
) -> Result<(), CommandError> {
    let config = Config::load(&common.config)?;
    let clients = Clients::new(&config.aws).await;
    let finding_type = finding_type.unwrap_or_else(|| crate::sample::default_type(level).to_owned());
    let failed = |e: crate::sample::SampleError| CommandError::Failed(e.0);
    if config.aws.endpoint_url.is_some() {
        let events = clients.eventbridge();
        let account = account_of(&config.queue.url).unwrap_or("000000000000");
        let ids = crate::sample::put_events(&events, account, &config.aws.region, level, &finding_type, count)
            .await
            .map_err(failed)?;
        if common.json {
            output::json(&json!({ "via": "eventbridge", "finding_ids": ids, "severity": level, "type": finding_type }));
        } else {
            println!(
                "put {} {level} sample finding(s) of type {finding_type} on the default EventBridge bus ({}), as aws.guardduty",
                ids.len(),
                config.aws.region
            );
            for id in &ids {
                println!("  finding {id}");
            }
        }
    } else {
        let guardduty = crate::guardduty::GuardDuty::new(&clients.shared, &config.guardduty_regions());
        let ingest = crate::ingest::Ingest::new(super::incidents::session(common).await?.dispatch);
        let store = crate::store::Store::new(clients.dynamodb.clone(), &config.incidents.table);
        let reconciler = crate::reconcile::Reconciler::new(&config, guardduty.clone(), store, ingest);
        let detector = reconciler
            .detectors()
            .await
            .map_err(|e| CommandError::Failed(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| CommandError::Failed("no GuardDuty detector found: enable GuardDuty first".into()))?;
        crate::sample::create_sample_findings(&guardduty, &detector, &finding_type, count).await.map_err(failed)?;
        println!(
            "real AWS reserves aws.* event sources, so GuardDuty itself made sample finding(s) of type {finding_type} \
             on detector {} ({}); GuardDuty sets their severity, and EventBridge delivers them within minutes",
            detector.id, detector.region
        );
    }
    Ok(())
}

/// `gd-incidents pages`.
pub async fn pages(common: &Common, follow: bool, wait: u64) -> Result<(), CommandError> {
    let config = Config::load(&common.config)?;
    let clients = Clients::new(&config.aws).await;
    let topics = [("OCE", config.paging.oce_topic_arn.as_str()), ("ISO", config.paging.iso_topic_arn.as_str())];
    let watch = crate::watch::Watch::start(&clients, &topics).await.map_err(|e| CommandError::Failed(e.0))?;
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::daemon::wait_for_signal().await;
            stop.cancel();
        })
    };
    if !common.json {
        eprintln!(
            "watching the OCE and ISO topics{} (Ctrl-C stops)",
            if follow { String::new() } else { format!(" for {wait} s") }
        );
    }
    let until = (!follow).then(|| Duration::from_secs(wait));
    let result = watch.print(&stop, until, common.json).await;
    on_signal.abort();
    watch.stop().await;
    result.map(drop).map_err(|e| CommandError::Failed(e.0))
}
