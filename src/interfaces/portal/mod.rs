//! The incident portal (`gd-incidents portal --config FILE`): web pages for staff, responders and the
//! information security officer, served by a process of its own (`[portal] listen`) behind an AWS
//! Application Load Balancer that signs people in with OIDC.
//!
//! - **Pages** are rendered on the server ([`views`], maud) and work without JavaScript: the incident list
//!   (filters, search, newest first), an incident's page (details, resource, timeline, evidence with hashes,
//!   pages sent, and the actions), the report form and "my reports".
//! - **Rules** are the command line's: [`crate::domain::lifecycle::act`] (or
//!   [`crate::domain::lifecycle::classify`] for a classification) through
//!   [`crate::services::dispatch::Dispatcher::apply`] for every action (then
//!   [`crate::services::archive::request`] on a close, when `[guardduty] archive_on_close` is on: the daemon
//!   archives), and
//!   [`crate::domain::lifecycle::report`] then [`crate::services::dispatch::Dispatcher::create`] for a
//!   report. Nothing here decides what an incident may become; a refusal is shown as the rules give it.
//! - **Identity** ([`auth`]): the load balancer's signed `x-amzn-oidc-data` header, verified (ES256, signer,
//!   expiry); roles ([`access`]) from `[portal] responders` and `iso`; a missing or invalid header is 401.
//! - **Who sees what** ([`access`]): staff report and follow their own reports; responders see and work every
//!   incident but confidential ones, which do not exist for them (404); the ISO sees and works everything.
//! - **Safety**: a CSRF token in every form ([`csrf`]), state changed only by POST (then 303), every value
//!   escaped, a Content-Security-Policy without inline anything, and the usual security headers.

pub mod access;
pub mod auth;
pub mod csrf;
pub mod forms;
mod handlers;
mod keys;
pub mod limit;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use crate::config::{ConfigError, PortalConfig};
use crate::services::dispatch::Dispatcher;

use access::Roles;
use auth::{AlbVerifier, Identity};
use csrf::Csrf;

/// Most incidents one list page shows.
pub const MAX_LIST: usize = 1000;

/// The Content-Security-Policy of every answer: nothing inline, nothing from elsewhere, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self'; img-src 'self'; script-src 'none'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Why the portal cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The configuration is unusable (or has no `[portal]` section).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr} ([portal] listen): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The load balancer's keys cannot be fetched over TLS.
    #[error(transparent)]
    Keys(#[from] auth::NoTlsRoots),
    /// Something needed at start is unavailable (the key fetcher's TLS roots, randomness).
    #[error("{0}")]
    Start(String),
    /// Serving failed.
    #[error("the portal stopped: {0}")]
    Serve(std::io::Error),
}

/// What every request handler shares.
#[derive(Debug)]
pub struct Portal {
    dispatch: Dispatcher,
    identity: Identity,
    roles: Roles,
    csrf: Csrf,
    /// `[guardduty] archive_on_close`: closing asks the daemon to archive the finding (the portal's role may
    /// not call GuardDuty).
    archive_on_close: bool,
    /// Staff reports per person and hour.
    reports: limit::ReportLimit,
    /// `[paging] ack_link_key`: the key of the acknowledgement links in pages, if pages carry them.
    ack_link_key: Option<Vec<u8>>,
}

impl Portal {
    /// This portal, accepting the acknowledgement links that pages carry (signed with `key`).
    pub fn with_ack_links(self, key: Option<Vec<u8>>) -> Portal {
        Portal { ack_link_key: key, ..self }
    }
}

impl Portal {
    /// The portal of a `[portal]` section, on the store and pager given.
    pub fn new(portal: &PortalConfig, dispatch: Dispatcher, archive_on_close: bool) -> Result<Portal, PortalError> {
        let identity = match (&portal.dev_user, &portal.alb_arn) {
            (Some(dev), _) => Identity::Dev(access::normalise_email(dev)),
            (None, Some(arn)) => {
                let url = portal.public_key_url.clone().unwrap_or_else(|| auth::default_key_url(arn));
                let rules = auth::SignInRules {
                    verified_email: portal.require_email_verified,
                    groups_claim: portal.groups_claim.clone(),
                };
                Identity::Alb(Box::new(AlbVerifier::new(arn, &url, rules)?))
            }
            (None, None) => {
                return Err(PortalError::Start("[portal] needs alb_arn (or dev_user on loopback)".into()));
            }
        };
        let csrf = Csrf::new(portal.csrf_key.as_deref())
            .map_err(|e| PortalError::Start(format!("no randomness for the CSRF key: {e}")))?;
        Ok(Portal {
            dispatch,
            identity,
            roles: Roles::new(&portal.responders, &portal.iso)
                .with_groups(&portal.responder_groups, &portal.iso_groups),
            csrf,
            archive_on_close,
            reports: limit::ReportLimit::new(portal.reports_per_hour),
            ack_link_key: None,
        })
    }
}

/// The portal's routes, with the security headers on every answer.
pub fn router(portal: Arc<Portal>) -> Router {
    Router::new()
        .route("/", get(handlers::home))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/static/portal.css", get(handlers::stylesheet))
        .route("/incidents", get(handlers::list))
        .route("/incidents/{id}", get(handlers::show))
        .route("/incidents/{id}/evidence/{sha256}", get(handlers::evidence))
        .route("/incidents/{id}/{action}", post(handlers::act))
        .route("/report", get(handlers::report_form).post(handlers::file_report))
        .route("/reports/mine", get(handlers::my_reports))
        .route("/stats", get(handlers::stats))
        .route("/ack/{token}", get(handlers::ack_link))
        .fallback(handlers::not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(portal)
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    h.insert(HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        // Incidents are confidential: no copy in any cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
