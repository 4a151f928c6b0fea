//! `gd-incidents report`: a member of staff reports an incident (procedure 3.2).

use serde_json::json;
use uuid::Uuid;

use super::incidents::sent_all;
use super::{CommandError, ReportArgs, output};
use crate::domain::incident::PageState;
use crate::domain::lifecycle::{self, Report};
use crate::services::Context;

/// Files a staff report as an incident, and pages as its level says.
pub async fn file(ctx: &Context, args: ReportArgs) -> Result<(), CommandError> {
    let dispatch = &ctx.dispatch;
    let claimant = Uuid::new_v4().to_string();
    let r = Report {
        by: args.by,
        title: args.title,
        description: args.description,
        level: args.severity,
        confidential: args.confidential,
    };
    let actor = super::incidents::Actor::verified(ctx, None).await?;
    let (incident, event) = lifecycle::report(Uuid::new_v4().to_string(), &r, &dispatch.rules().ctx(&claimant))?;
    let event = actor.sign(event);
    let (stored, pending) = dispatch.create(&incident, event, &claimant).await?;
    sent_all(&stored, pending.map(|e| e.reason))?;
    if args.common.json {
        output::json(&json!({ "incident": stored }));
    } else {
        let paged: Vec<String> =
            stored.pages.iter().filter(|(_, p)| p.state == PageState::Sent).map(|(k, _)| k.clone()).collect();
        println!("reported incident {} ({})", stored.incident_id, stored.severity);
        if paged.is_empty() {
            println!("nobody paged ({} does not page)", stored.severity);
        } else {
            println!("paged: {}", paged.join(", "));
        }
    }
    Ok(())
}
