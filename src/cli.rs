//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Turns AWS GuardDuty findings into tracked security incidents and pages the right people.
#[derive(Debug, Parser)]
#[command(name = "gd-incidents", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground: consume GuardDuty findings from SQS, keep incidents in DynamoDB,
    /// page the on-call engineer and the security officer on SNS. Stops cleanly on SIGTERM or SIGINT.
    Run {
        /// The TOML configuration file (see config/ for examples).
        #[arg(long, value_name = "FILE", env = "GD_INCIDENTS_CONFIG")]
        config: PathBuf,
    },
}
