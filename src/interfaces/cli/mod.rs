//! The command line: the daemon, and the commands responders, staff and operators use on the same table.
//! `args` declares them; [`execute`] runs one on the connected [`Context`].

mod args;
mod contain;
mod demo;
mod error;
mod incidents;
mod ops;
mod output;
mod report;

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::domain::incident::Status;
use crate::domain::severity::Level;
use crate::services::Context;

pub use args::*;
pub use error::CommandError;

impl Command {
    /// The configuration file the command names.
    pub fn config_path(&self) -> &Path {
        match self {
            Command::Run { config } | Command::Portal { config } | Command::Health { config, .. } => config,
            Command::Incidents { command } => &command.common().config,
            Command::Report(args) => &args.common.config,
            Command::Dlq { command } => &command.common().config,
            Command::Check { common }
            | Command::Reconcile { common, .. }
            | Command::Sample { common, .. }
            | Command::Pages { common, .. }
            | Command::Stats { common, .. } => &common.config,
        }
    }

    /// Whether the command stops by itself on `shutdown` (the others are simply interrupted).
    pub fn watches_shutdown(&self) -> bool {
        matches!(self, Command::Pages { .. })
    }
}

/// Runs a command other than `run` and `portal` on the connected `ctx`, printing its result.
pub async fn execute(command: Command, ctx: &Context, shutdown: CancellationToken) -> Result<(), CommandError> {
    match command {
        Command::Run { .. } | Command::Portal { .. } => Ok(()),
        Command::Report(args) => report::file(ctx, args).await,
        Command::Incidents { command } => incidents::execute(ctx, command).await,
        Command::Check { common } => ops::check(ctx, &common).await,
        Command::Stats { since, confidential, common } => {
            let now = ctx.dispatch.rules().now();
            let stats = crate::services::stats::gather(ctx.dispatch.store(), since, confidential, now).await?;
            if common.json {
                output::json(&serde_json::json!(stats));
            } else {
                print!("{}", crate::domain::stats::text(&stats));
            }
            Ok(())
        }
        Command::Health { timeout, .. } => ops::health(ctx, timeout).await,
        Command::Dlq { command } => ops::dlq(ctx, command).await,
        Command::Reconcile { common, since } => ops::reconcile(ctx, &common, since).await,
        Command::Sample { common, severity, count, finding_type } => {
            demo::sample(ctx, &common, severity, count.into(), finding_type).await
        }
        Command::Pages { common, follow, wait } => demo::pages(ctx, &common, follow, wait, shutdown).await,
    }
}

pub(crate) fn parse_level(s: &str) -> Result<Level, String> {
    s.parse::<Level>().map_err(|e| e.to_string())
}

pub(crate) fn parse_status(s: &str) -> Result<Status, String> {
    s.parse::<Status>()
}

/// RFC 3339, or an age before now such as `90s`, `30m`, `24h`, `7d`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    crate::domain::timestamp::parse_time_or_age(s, Utc::now())
}

/// What a command's failure means for the exit code: 2 for a bad configuration, 1 for the rest.
pub fn exit_code(failed: &CommandError) -> ExitCode {
    match failed {
        CommandError::Config(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_ages() {
        assert_eq!(
            parse_time("2026-11-20T10:00:00Z").unwrap(),
            crate::domain::timestamp::parse("2026-11-20T10:00:00Z").unwrap()
        );
        let age = Utc::now() - parse_time("24h").unwrap();
        assert!((age.num_seconds() - 86_400).abs() < 5);
        let week = parse_time("7d").unwrap();
        assert!(((Utc::now() - week).num_seconds() - 7 * 86_400).abs() < 5);
        for bad in ["yesterday", "24", "h", "5w", "", "99999999999999999999d"] {
            assert!(parse_time(bad).unwrap_err().contains("expected RFC 3339"), "{bad}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
