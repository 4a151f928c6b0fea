//! The operator's commands: `check`, `health`, `dlq`, `reconcile`.

use std::time::Duration;

use serde_json::json;

use super::{CommandError, Common, DlqCommand, output};
use crate::adapters::sqs::dead_letters::DeadLetters;
use crate::adapters::sqs::discover_dead_letter_queue;
use crate::services::Context;

/// `gd-incidents check`.
pub async fn check(ctx: &Context, common: &Common) -> Result<(), CommandError> {
    let config = &ctx.config;
    let checks = crate::services::check::run(config, &ctx.clients).await;
    let failed = checks.iter().filter(|c| c.result.is_err()).count();
    if common.json {
        let rows: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| match &c.result {
                Ok(detail) => json!({"check": c.what, "call": c.how, "ok": true, "detail": detail}),
                Err(why) => json!({"check": c.what, "call": c.how, "ok": false, "error": why.to_string()}),
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
pub async fn health(ctx: &Context, timeout: u64) -> Result<(), CommandError> {
    let listen = ctx.config.server.listen.ok_or_else(|| {
        CommandError::Failed("[server] listen is not set: the daemon serves no /healthz to check".into())
    })?;
    match crate::interfaces::http::probe(listen, "/healthz", Duration::from_secs(timeout.max(1))).await {
        Ok(200) => {
            println!("healthy");
            Ok(())
        }
        Ok(code) => Err(CommandError::Failed(format!("/healthz on {listen} answered {code}"))),
        Err(why) => Err(why.into()),
    }
}

/// `gd-incidents dlq ...`.
pub async fn dlq(ctx: &Context, command: DlqCommand) -> Result<(), CommandError> {
    let common = command.common().clone();
    let (config, clients) = (&ctx.config, &ctx.clients);
    let dlq_url = match &config.queue.dead_letter_url {
        Some(url) => url.clone(),
        None => {
            discover_dead_letter_queue(&clients.sqs, &config.queue.url).await.map_err(CommandError::NoDeadLetters)?
        }
    };
    let letters = DeadLetters::new(clients.sqs.clone(), dlq_url, config.queue.url.clone());
    let failed = CommandError::DeadLetters;
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
                    println!("    {}", crate::domain::finding::truncate(&l.body.replace('\n', " "), 160));
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
pub async fn reconcile(s: &Context, common: &Common, since: chrono::DateTime<chrono::Utc>) -> Result<(), CommandError> {
    let guardduty = crate::adapters::guardduty::GuardDuty::new(&s.clients, &s.config.guardduty_regions());
    let ingest = crate::services::ingest::Ingest::new(s.dispatch.clone());
    let reconciler =
        crate::services::reconcile::Reconciler::new(&s.config, guardduty, s.dispatch.store().clone(), ingest);
    let reports = reconciler.sweep(Some(since)).await?;
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
