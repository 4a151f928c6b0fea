//! The commands that show the whole path working: `sample` emits findings as AWS would, `pages` shows what
//! the on-call engineer and the security officer receive.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{CommandError, Common, output};
use crate::services::Context;

/// The account of a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
fn account_of(queue_url: &str) -> Option<&str> {
    let mut parts = queue_url.trim_end_matches('/').rsplit('/');
    parts.next();
    parts.next().filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
}

/// `gd-incidents sample`.
pub async fn sample(
    ctx: &Context,
    common: &Common,
    level: crate::domain::severity::Level,
    count: usize,
    finding_type: Option<String>,
) -> Result<(), CommandError> {
    let (config, clients) = (&ctx.config, &ctx.clients);
    let finding_type = finding_type.unwrap_or_else(|| crate::services::sample::default_type(level).to_owned());
    let failed = CommandError::Sample;
    if config.aws.endpoint_url.is_some() {
        let events = clients.eventbridge();
        let account = account_of(&config.queue.url).unwrap_or("000000000000");
        let ids =
            crate::services::sample::put_events(&events, account, &config.aws.region, level, &finding_type, count)
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
        let guardduty = crate::adapters::guardduty::GuardDuty::new(clients, &config.guardduty_regions());
        let ingest = crate::services::ingest::Ingest::new(ctx.dispatch.clone());
        let store = ctx.dispatch.store().clone();
        let reconciler = crate::services::reconcile::Reconciler::new(config, guardduty.clone(), store, ingest);
        let detector = reconciler
            .detectors()
            .await
            .map_err(CommandError::Reconcile)?
            .into_iter()
            .next()
            .ok_or_else(|| CommandError::Failed("no GuardDuty detector found: enable GuardDuty first".into()))?;
        crate::services::sample::create_sample_findings(&guardduty, &detector, &finding_type, count)
            .await
            .map_err(failed)?;
        println!(
            "real AWS reserves aws.* event sources, so GuardDuty itself made sample finding(s) of type {finding_type} \
             on detector {} ({}); GuardDuty sets their severity, and EventBridge delivers them within minutes",
            detector.id, detector.region
        );
    }
    Ok(())
}

/// `gd-incidents pages`.
pub async fn pages(
    ctx: &Context,
    common: &Common,
    follow: bool,
    wait: u64,
    stop: CancellationToken,
) -> Result<(), CommandError> {
    let (config, clients) = (&ctx.config, &ctx.clients);
    let topics = [("OCE", config.paging.oce_topic_arn.as_str()), ("ISO", config.paging.iso_topic_arn.as_str())];
    let watch = crate::adapters::topic_watch::Watch::start(clients, &topics).await.map_err(CommandError::Watch)?;
    if !common.json {
        eprintln!(
            "watching the OCE and ISO topics{} (Ctrl-C stops)",
            if follow { String::new() } else { format!(" for {wait} s") }
        );
    }
    let until = (!follow).then(|| Duration::from_secs(wait));
    let result = watch.print(&stop, until, common.json).await;
    watch.stop().await;
    result.map(drop).map_err(CommandError::Watch)
}
