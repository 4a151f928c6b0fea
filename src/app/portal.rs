//! `gd-incidents portal`: the portal's routes on the shared wiring, served on a listener until shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::interfaces::portal::{Portal, PortalError, router};

/// Binds `[portal] listen` of the configuration loaded from `path` (named in the error when the section is
/// missing).
pub async fn bind(config: &Config, path: &Path) -> Result<TcpListener, PortalError> {
    let portal = config.portal.as_ref().ok_or_else(|| no_section(path))?;
    let addr = portal.listen;
    TcpListener::bind(addr).await.map_err(|source| PortalError::Bind { addr, source })
}

/// Connects and serves the portal on `listener` until `shutdown` is cancelled.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), PortalError> {
    let Some(portal_config) = config.portal.clone() else {
        return Err(PortalError::Start("the configuration has no [portal] section".into()));
    };
    let ctx = super::connect(config).await;
    let archive_on_close = ctx.config.guardduty.archive_on_close;
    let ack_link_key = ctx.config.paging.ack_link_key.as_ref().map(|k| k.as_bytes().to_vec());
    let portal =
        Arc::new(Portal::new(&portal_config, ctx.dispatch.clone(), archive_on_close)?.with_ack_links(ack_link_key));
    let bound = listener.local_addr().unwrap_or(portal_config.listen);
    if let Some(dev) = &portal_config.dev_user {
        let says = format!(
            "DEVELOPMENT MODE ([portal] dev_user): NO AUTHENTICATION, everyone reaching http://{bound} is signed in as {dev}"
        );
        warn!(dev_user = %dev, listen = %bound, "{says}");
        eprintln!("gd-incidents portal: WARNING: {says}");
    }
    info!(listen = %bound, table = %ctx.config.incidents.table, "portal started");
    eprintln!("gd-incidents portal: serving http://{bound} (table {})", ctx.config.incidents.table);
    let served = axum::serve(listener, router(portal)).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    info!("portal stopped");
    eprintln!("gd-incidents portal: stopped");
    served.map_err(PortalError::Serve)
}

fn no_section(path: &Path) -> PortalError {
    PortalError::Config(ConfigError::Key {
        path: PathBuf::from(path),
        line: None,
        key: "portal".into(),
        reason: "missing: `gd-incidents portal` needs a [portal] section (listen, alb_arn, responders, iso)".into(),
    })
}
