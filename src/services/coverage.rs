//! `gd-incidents check`'s coverage of an organisation's regions (`[guardduty] regions`): in each, a
//! GuardDuty detector (in an organisation, the delegated administrator's), a rule that brings its events here
//! (the core stack's rules in this region; `gd-incidents-forward.yaml` elsewhere, found by its target, the
//! central bus), and whether GuardDuty reported anything there lately.

use chrono::Utc;

use crate::adapters::clients::Clients;
use crate::adapters::guardduty::GuardDuty;
use crate::config::Config;
use crate::services::check::{Check, CheckFailure};

/// Days back "findings seen recently" looks.
const RECENT_DAYS: i64 = 7;

/// One check per region of `[guardduty] regions`; none when the list is not set (one region, the
/// daemon's own, which the other checks cover).
pub async fn run(config: &Config, clients: &Clients) -> Vec<Check> {
    let regions = &config.guardduty.regions;
    if regions.is_empty() {
        return Vec::new();
    }
    let home = &config.aws.region;
    let Some((account, queue)) = queue_of(&config.queue.url) else {
        let why = CheckFailure::Wrong(format!("{} is not an SQS queue URL", config.queue.url));
        return vec![Check { what: "coverage", how: "the queue URL".into(), result: Err(why) }];
    };
    let queue_arn = format!("arn:aws:sqs:{home}:{account}:{queue}");
    let bus_arn = format!("arn:aws:events:{home}:{account}:event-bus/default");
    let guardduty = GuardDuty::new(clients, regions);
    let mut checks = Vec::new();
    for region in regions {
        let (target, what) = if region == home {
            (queue_arn.as_str(), "to the work queue".to_owned())
        } else {
            (bus_arn.as_str(), format!("forwarding to {bus_arn}"))
        };
        let how = format!("{region}: guardduty:ListDetectors, events:ListRuleNamesByTarget, guardduty:ListFindings");
        checks.push(Check {
            what: "coverage",
            how,
            result: region_coverage(clients, &guardduty, region, target, &what).await,
        });
    }
    checks
}

async fn region_coverage(
    clients: &Clients,
    guardduty: &GuardDuty,
    region: &str,
    target: &str,
    what: &str,
) -> Result<String, CheckFailure> {
    let detectors = guardduty.detectors(region).await.map_err(|e| CheckFailure::Call(e.into()))?;
    let Some(detector) = detectors.first() else {
        return Err(CheckFailure::Wrong(format!("{region}: no GuardDuty detector (enable GuardDuty there)")));
    };
    let rules = clients
        .eventbridge_in(region)
        .list_rule_names_by_target()
        .target_arn(target)
        .send()
        .await
        .map_err(|e| CheckFailure::Call(e.into()))?
        .rule_names
        .unwrap_or_default();
    if rules.is_empty() {
        let fix = if what.starts_with("forwarding") {
            format!("deploy gd-incidents-forward.yaml in {region} with CentralEventBusArn={target}")
        } else {
            "deploy the core stack here".to_owned()
        };
        return Err(CheckFailure::Wrong(format!("{region}: detector {}, but no rule {what}: {fix}", detector.id)));
    }
    let since = (Utc::now() - chrono::Duration::days(RECENT_DAYS)).timestamp_millis();
    let recent = guardduty.any_finding_since(detector, since).await.map_err(|e| CheckFailure::Call(e.into()))?;
    let recent = if recent { "findings in the last 7 days" } else { "no finding in the last 7 days" };
    Ok(format!("{region}: detector {}; {} rule(s) {what} ({}); {recent}", detector.id, rules.len(), rules.join(", ")))
}

/// The account and name of a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
fn queue_of(url: &str) -> Option<(String, String)> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next()?;
    let account = parts.next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| (account.to_owned(), name.to_owned()))
}
