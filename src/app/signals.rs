//! Signals, handled in one place: the first SIGTERM or SIGINT cancels the process's shutdown token.

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Cancels `shutdown` on the first SIGTERM or SIGINT; exits at once on a second one.
pub async fn cancel_on_signal(shutdown: CancellationToken) {
    wait_for_signal().await;
    info!("signal received: shutting down");
    shutdown.cancel();
    wait_for_signal().await;
    warn!("second signal: exiting now");
    std::process::exit(130);
}

/// Waits for SIGTERM or SIGINT.
#[cfg(unix)]
pub async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
pub async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
