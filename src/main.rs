//! The `gd-incidents` binary: parses arguments, loads the configuration and sets up telemetry once, handles
//! signals in one place, and starts the daemon, the portal or a command. Nothing else.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use gd_incidents::app::{self, signals};
use gd_incidents::config::{Config, LogConfig};
use gd_incidents::interfaces::cli::{self, Cli, Command};
use gd_incidents::interfaces::portal::PortalError;
use gd_incidents::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = cli.command.config_path().to_owned();
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gd-incidents: {e}");
            return ExitCode::from(2);
        }
    };
    // The daemon and the portal log as configured; a command prints its results and logs only warnings.
    let log = match cli.command {
        Command::Run { .. } | Command::Portal { .. } => config.log.clone(),
        _ => LogConfig { level: "warn".into(), ..config.log.clone() },
    };
    telemetry::logs::init(&log);
    let runtime = match runtime(config.daemon.worker_threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gd-incidents: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = tokio::spawn(signals::cancel_on_signal(shutdown.clone()));
        let code = start(cli.command, config, &path, shutdown).await;
        signals.abort();
        code
    })
}

/// The async runtime: everything on this thread unless `[daemon] worker_threads` asks for more.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
}

/// Runs what the command asks until it ends or `shutdown` stops it.
async fn start(command: Command, config: Config, path: &std::path::Path, shutdown: CancellationToken) -> ExitCode {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "gd-incidents cannot run");
        eprintln!("gd-incidents: {e}");
        ExitCode::FAILURE
    };
    match command {
        Command::Run { .. } => match app::daemon::run(config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => failed(&e),
        },
        Command::Portal { .. } => {
            let served = match app::portal::bind(&config, path).await {
                Ok(listener) => app::portal::run(config, listener, shutdown).await,
                Err(e) => Err(e),
            };
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(e @ PortalError::Config(_)) => {
                    eprintln!("gd-incidents: {e}");
                    ExitCode::from(2)
                }
                Err(e) => failed(&e),
            }
        }
        command => {
            let ctx = app::connect(config).await;
            let watches = command.watches_shutdown();
            let run = cli::execute(command, &ctx, shutdown.clone());
            let result = tokio::select! {
                r = run => r,
                _ = shutdown.cancelled(), if !watches => return ExitCode::from(130),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gd-incidents: {e}");
                    cli::exit_code(&e)
                }
            }
        }
    }
}
