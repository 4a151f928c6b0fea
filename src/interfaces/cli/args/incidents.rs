//! `gd-incidents incidents ...`: the responders' commands and their arguments.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use super::Common;
use crate::domain::containment::Action as ContainAction;
use crate::domain::incident::Status;
use crate::domain::severity::Level;
use crate::interfaces::cli::{parse_level, parse_status, parse_time};

/// Statuses that `incidents status` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkStatus {
    /// Being investigated.
    Investigating,
    /// The exploitation is contained.
    Contained,
    /// Remediated; close it with notes next.
    Resolved,
}

impl From<WorkStatus> for Status {
    fn from(s: WorkStatus) -> Status {
        match s {
            WorkStatus::Investigating => Status::Investigating,
            WorkStatus::Contained => Status::Contained,
            WorkStatus::Resolved => Status::Resolved,
        }
    }
}

/// The format of the post-incident report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A Markdown document for people.
    Markdown,
    /// One JSON object for tools.
    Json,
}

/// A yes/no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum YesNo {
    /// Yes.
    Yes,
    /// No.
    No,
}

/// `gd-incidents incidents ...`.
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    List {
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
        /// Only this status (repeatable): open, acknowledged, investigating, contained, resolved, closed, suppressed.
        #[arg(long, value_parser = parse_status)]
        status: Vec<Status>,
        /// Only this level (repeatable): LOW, MEDIUM, HIGH, CRITICAL.
        #[arg(long, value_parser = parse_level)]
        severity: Vec<Level>,
        /// Only incidents created since TIME: RFC 3339 (2026-11-20T10:00:00Z) or an age (30m, 24h, 7d).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        since: Option<DateTime<Utc>>,
        /// At most this many per page.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Continue after the page that printed this token.
        #[arg(long, value_name = "TOKEN")]
        next: Option<String>,
        /// Include confidential staff reports (the information security officer's view).
        #[arg(long)]
        confidential: bool,
    },
    /// Show one incident with its pages and whole timeline.
    Show {
        /// The incident id.
        id: String,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Acknowledge: you take the incident, and re-paging stops.
    Ack {
        /// The incident id.
        id: String,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Assign a person or team to handle the incident (procedure 3.4).
    Assign {
        /// The incident id.
        id: String,
        /// The person or team.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Add a timeline entry, e.g. what the attacker did and when (--at).
    Note {
        /// The incident id.
        id: String,
        /// The entry.
        text: String,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// When what the note describes happened: RFC 3339 or an age (2h).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        at: Option<DateTime<Utc>>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Set the working status: investigating, contained or resolved.
    Status {
        /// The incident id.
        id: String,
        /// The new status.
        status: WorkStatus,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Set the level by your decision (procedure 3.3: the OCE identifies the severity), with the reason.
    /// Raising pages as reaching that level does (a level already paged is not paged again); lowering pages no
    /// one. Later versions of the finding raise the level again only if their severity rises above the
    /// finding's severity at the time of this decision.
    Classify {
        /// The incident id.
        id: String,
        /// The level: LOW, MEDIUM, HIGH or CRITICAL.
        #[arg(value_name = "LEVEL", value_parser = parse_level)]
        level: Level,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Why (kept in the timeline).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Record data loss or service impact (closing then requires the post-mortem).
    Mark {
        /// The incident id.
        id: String,
        /// Data was lost.
        #[arg(long)]
        data_loss: bool,
        /// Services were impacted.
        #[arg(long)]
        service_impact: bool,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Close with notes. A CRITICAL incident, or one marked with data loss or service impact, also needs the
    /// post-mortem: root cause, lessons learned, mitigations, cost estimate, legal counsel, customers notified;
    /// a CRITICAL one also whether the authorities were notified.
    Close(CloseArgs),
    /// Reopen a closed incident.
    Reopen {
        /// The incident id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Write the post-incident report (procedure 3.5): summary, timeline, cause, effect, lessons learned,
    /// mitigations, cost, evidence with SHA-256 hashes, who was paged and when, and for CRITICAL whether the
    /// authorities were notified. Not to be confused with `gd-incidents report`, which files a staff report.
    Report {
        /// The incident id.
        id: String,
        /// The document's format (`--json` means json).
        #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
        format: ReportFormat,
        /// Write it to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// List the incident's evidence (every version of its finding as received), verify the SHA-256 of
    /// each, and print them with --print. Exits 1 if any hash does not match.
    Evidence {
        /// The incident id.
        id: String,
        /// Print each version's JSON.
        #[arg(long)]
        print: bool,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Follow-up actions (procedure 3.1: corrective and preventive actions tracked to closure): add, done,
    /// list. Closing an incident that was CRITICAL needs at least one.
    Action {
        /// What to do with them.
        #[command(subcommand)]
        command: FollowUpCommand,
    },
    /// Containment (seed 000): ask the daemon to carry out an action on the incident's resource, under its
    /// containment role. Without --action, lists the actions that apply with their plans. With --dry-run,
    /// prints the plan and changes nothing. Exits 0 once requested (or already requested or done).
    Contain {
        /// The incident id.
        id: String,
        /// isolate-instance, snapshot-volumes or deactivate-access-key.
        #[arg(long, value_parser = parse_action)]
        action: Option<ContainAction>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Wait up to SECONDS for the daemon to carry it out, and print the outcome (0: do not wait).
        #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
        wait: u64,
        /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
        /// verifies (STS GetCallerIdentity) is recorded beside it, never replaced by it.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Ask the daemon to reverse a containment action carried out: the former security groups back, the
    /// access key active again. Snapshots are evidence and are never deleted.
    Undo {
        /// The incident id.
        id: String,
        /// The action to reverse.
        #[arg(value_parser = parse_action)]
        action: ContainAction,
        /// Wait up to SECONDS for the daemon to carry it out, and print the outcome (0: do not wait).
        #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
        wait: u64,
        /// Your display name in the log (default: your AWS identity's session or user name).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Move the confidential reports still kept in the incident table (filed before the confidential
    /// table existed) into [incidents] confidential_table, where only the information security officer,
    /// the daemon and the portal can read them. Each gets the id `confidential-<old id>`; the command
    /// prints both. Run it as the information security officer.
    MoveConfidential {
        /// List what would move, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Your display name in the moved reports' logs (default: your AWS session or user name).
        #[arg(long)]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
}

/// `gd-incidents incidents action ...`.
#[derive(Debug, Subcommand)]
pub enum FollowUpCommand {
    /// Add a follow-up action someone owns and must do by a time.
    Add {
        /// The incident id.
        id: String,
        /// What is to be done.
        text: String,
        /// Who owns it (a person or a team).
        #[arg(long, value_name = "NAME")]
        owner: String,
        /// By when: RFC 3339, a date (2026-12-31: the end of that day, UTC) or a time from now (8h, 14d).
        #[arg(long, value_name = "TIME", value_parser = check_due)]
        due: String,
        /// Your display name in the log (default: your AWS identity's session or user name).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// Mark follow-up action N done.
    Done {
        /// The incident id.
        id: String,
        /// The action's number (incidents action list).
        n: u32,
        /// Your display name in the log (default: your AWS identity's session or user name).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
    /// List the incident's follow-up actions: open, overdue or done.
    List {
        /// The incident id.
        id: String,
        /// The configuration file and the output format.
        #[command(flatten)]
        common: Common,
    },
}

/// A due time as `--due` takes it (read again, against the configured clock, when the command runs).
fn check_due(s: &str) -> Result<String, String> {
    crate::domain::follow_up::parse_due(s, Utc::now()).map(|_| s.to_owned())
}

/// `gd-incidents incidents close`.
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The incident id.
    pub id: String,
    /// Your display name in the log (default: your AWS identity's session or user name); the identity AWS
    /// verifies is recorded beside it.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Closure notes: the investigation and the corrective actions taken (required).
    #[arg(long)]
    pub notes: String,
    /// Post-mortem: what caused it.
    #[arg(long)]
    pub root_cause: Option<String>,
    /// Post-mortem: what was learned.
    #[arg(long)]
    pub lessons_learned: Option<String>,
    /// Post-mortem: long-term mitigations recommended.
    #[arg(long)]
    pub mitigations: Option<String>,
    /// Post-mortem: the estimated cost (free text, e.g. "12 person-days, 4000 EUR").
    #[arg(long)]
    pub cost_estimate: Option<String>,
    /// Post-mortem: whether a lawyer is involved (ISO/CEO decision).
    #[arg(long, value_name = "yes|no")]
    pub legal_counsel: Option<YesNo>,
    /// Post-mortem: whether affected customers were, or must be, notified.
    #[arg(long, value_name = "yes|no")]
    pub customers_notified: Option<YesNo>,
    /// Whether the appropriate authorities were notified (procedure 3.7): required to close a CRITICAL
    /// incident.
    #[arg(long, value_name = "yes|no")]
    pub authorities_notified: Option<YesNo>,
    /// The configuration file and the output format.
    #[command(flatten)]
    pub common: Common,
}

impl IncidentsCommand {
    /// The options every `incidents` command takes.
    pub fn common(&self) -> &Common {
        match self {
            IncidentsCommand::Close(args) => &args.common,
            IncidentsCommand::List { common, .. }
            | IncidentsCommand::Show { common, .. }
            | IncidentsCommand::Ack { common, .. }
            | IncidentsCommand::Assign { common, .. }
            | IncidentsCommand::Note { common, .. }
            | IncidentsCommand::Status { common, .. }
            | IncidentsCommand::Classify { common, .. }
            | IncidentsCommand::Mark { common, .. }
            | IncidentsCommand::Reopen { common, .. }
            | IncidentsCommand::Report { common, .. }
            | IncidentsCommand::Evidence { common, .. }
            | IncidentsCommand::Contain { common, .. }
            | IncidentsCommand::Undo { common, .. }
            | IncidentsCommand::MoveConfidential { common, .. } => common,
            IncidentsCommand::Action { command } => match command {
                FollowUpCommand::Add { common, .. }
                | FollowUpCommand::Done { common, .. }
                | FollowUpCommand::List { common, .. } => common,
            },
        }
    }
}

/// A containment action's name.
fn parse_action(s: &str) -> Result<ContainAction, String> {
    s.parse()
}
