//! The `gd-incidents` binary: parses arguments and starts things; nothing else.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use gd_incidents::cli::{self, Cli, Command};
use gd_incidents::config::{Config, LogConfig, LogFormat};
use gd_incidents::{daemon, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gd-incidents: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run { config } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gd-incidents: {e}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init(&config.log);
            runtime.block_on(async {
                let shutdown = CancellationToken::new();
                let signals = tokio::spawn(daemon::cancel_on_signal(shutdown.clone()));
                let result = daemon::run(config, shutdown).await;
                signals.abort();
                match result {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        tracing::error!(error = %e, "gd-incidents cannot run");
                        eprintln!("gd-incidents: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        command => {
            // Commands print their results; only warnings and errors are logged, as text.
            telemetry::init(&LogConfig { format: LogFormat::Text, level: "warn".into() });
            match runtime.block_on(cli::execute(command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gd-incidents: {e}");
                    cli::exit_code(&e)
                }
            }
        }
    }
}
