//! The command line's arguments (clap): every command, flag and its help text.

// Help texts name TOML sections in brackets (`[server] listen`), which clap shows as written.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

mod incidents;

pub use incidents::*;

use super::{parse_level, parse_time};
use crate::domain::severity::Level;

/// Turns AWS GuardDuty findings into tracked security incidents and pages the right people.
#[derive(Debug, Parser)]
#[command(name = "gd-incidents", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The configuration file, and the output format, that every command but `run` takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// The TOML configuration file (the same one the daemon uses; see config/ for examples).
    #[arg(long, value_name = "FILE", env = "GD_INCIDENTS_CONFIG")]
    pub config: PathBuf,
    /// Print JSON instead of text, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground: consume GuardDuty findings from SQS, keep incidents in DynamoDB,
    /// page the on-call engineer and the security officer on SNS, re-page what nobody acknowledges.
    /// Stops cleanly on SIGTERM or SIGINT.
    Run {
        /// The TOML configuration file (see config/ for examples).
        #[arg(long, value_name = "FILE", env = "GD_INCIDENTS_CONFIG")]
        config: PathBuf,
    },
    /// Work incidents: list, show, acknowledge, assign, note, classify, change status, close, reopen,
    /// evidence, and the post-incident report.
    Incidents {
        /// What to do with incidents.
        #[command(subcommand)]
        command: IncidentsCommand,
    },
    /// Report an incident as a member of staff (procedure 3.2); HIGH and CRITICAL page like a finding.
    Report(ReportArgs),
    /// The figures the ISO reports: incidents by level and source, time to acknowledge, contain and
    /// resolve (median and 90th percentile per level), missed objectives, open incidents by age, top finding
    /// types and resources.
    Stats {
        /// Incidents created since TIME: RFC 3339 or an age (30d).
        #[arg(long, value_name = "TIME", value_parser = parse_time, default_value = "30d")]
        since: DateTime<Utc>,
        /// Count confidential staff reports too (the information security officer's view).
        #[arg(long)]
        confidential: bool,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Check the configuration and every resource and permission the daemon needs, with harmless calls:
    /// one line per check, and exit 1 if any fails.
    Check {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Exit 0 if the running daemon's /healthz (at [server] listen) answers 200, else 1: for container
    /// health checks in images without curl.
    Health {
        /// The TOML configuration file (the daemon's).
        #[arg(long, value_name = "FILE", env = "GD_INCIDENTS_CONFIG")]
        config: PathBuf,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Sweep GuardDuty once, by hand: findings updated since TIME that are missing or outdated become
    /// incidents (and page) exactly as if they had come through the queue. The daemon's watermark is left
    /// alone. Exit 1 if any finding could not be recorded.
    Reconcile {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
        /// List findings updated since TIME: RFC 3339 or an age (24h, 7d).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        since: DateTime<Utc>,
    },
    /// Serve the incident portal at [portal] listen: web pages where staff report incidents and follow their
    /// reports, and responders and the security officer work incidents. Runs behind an AWS load balancer
    /// that signs people in (OIDC); stops on SIGTERM or SIGINT.
    Portal {
        /// The TOML configuration file, with a [portal] section (see config/ for examples).
        #[arg(long, value_name = "FILE", env = "GD_INCIDENTS_CONFIG")]
        config: PathBuf,
    },
    /// Emit realistic GuardDuty findings the way AWS delivers them: on LocalStack (an endpoint is
    /// configured) as `aws.guardduty` events on the default EventBridge bus, which the stack's rule routes to
    /// the queue; on real AWS, with GuardDuty's CreateSampleFindings on the configured or discovered detector.
    Sample {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
        /// The level of the findings: LOW, MEDIUM, HIGH or CRITICAL.
        #[arg(long, value_name = "LEVEL", value_parser = parse_level, default_value = "HIGH")]
        severity: Level,
        /// How many findings.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
        count: u16,
        /// The finding type (default: a typical one for the level).
        #[arg(long = "type", value_name = "TYPE")]
        finding_type: Option<String>,
    },
    /// Show the pages the on-call engineer and the security officer receive: subscribes a temporary queue to
    /// both topics and prints pages as they arrive (start it before `sample`); cleans up on exit.
    Pages {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
        /// Keep printing until Ctrl-C (otherwise stop after --wait).
        #[arg(long)]
        follow: bool,
        /// Seconds to wait for pages without --follow.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Inspect the dead-letter queue, and send messages back to the work queue after a fix.
    Dlq {
        /// What to do with dead letters.
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// `gd-incidents dlq ...`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters with the reason each was dead-lettered (they stay in the queue).
    List {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Send dead letters back to the work queue and delete them from the dead-letter queue.
    Redrive {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
        /// Only these message ids (repeatable; see `dlq list`).
        #[arg(long = "id", value_name = "MESSAGE_ID", required_unless_present = "all")]
        ids: Vec<String>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

/// `gd-incidents report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The configuration file and the output format.
    #[command(flatten)]
    pub common: Common,
    /// Who reports (name or e-mail).
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// One line saying what happened.
    #[arg(long)]
    pub title: String,
    /// What was observed, where and when.
    #[arg(long)]
    pub description: String,
    /// Your classification: LOW, MEDIUM, HIGH or CRITICAL (HIGH and CRITICAL page at once).
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub severity: Level,
    /// Insider misconduct: only the information security officer is paged, and the report is kept in
    /// `[incidents] confidential_table`, which only the ISO, the daemon and the portal may read (so a
    /// responder's credentials cannot file one there: staff use the portal).
    #[arg(long)]
    pub confidential: bool,
}

impl DlqCommand {
    /// The options every `dlq` command takes.
    pub fn common(&self) -> &Common {
        match self {
            DlqCommand::List { common, .. } | DlqCommand::Redrive { common, .. } => common,
        }
    }
}
