//! `[portal]`: the incident portal's listener, sign-in and people.

use serde::Deserialize;

/// `[portal]`: the incident portal, a web server of its own (`gd-incidents portal`) behind an AWS Application
/// Load Balancer that signs people in with OIDC. Checked by [`PortalConfig::validate`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Address the portal listens on, e.g. `0.0.0.0:8080` behind the load balancer.
    pub listen: std::net::SocketAddr,
    /// ARN of the load balancer whose signed `x-amzn-oidc-data` header identifies people (required unless
    /// `dev_user` is set).
    #[serde(default)]
    pub alb_arn: Option<String>,
    /// Base URL of the load balancer's public keys (`<url>/<kid>`); default
    /// `https://public-keys.auth.elb.<region of alb_arn>.amazonaws.com`. Plain `http://` only on loopback.
    #[serde(default)]
    pub public_key_url: Option<String>,
    /// E-mail addresses of the responders (OCE, Infra Operations): they see and work every incident but
    /// confidential staff reports.
    #[serde(default)]
    pub responders: Vec<String>,
    /// E-mail addresses of the information security officers: they see and work every incident.
    #[serde(default)]
    pub iso: Vec<String>,
    /// The claim of the load balancer's token that lists the person's groups at the identity provider
    /// (`groups`, `cognito:groups`): an array of names, or one string of names separated by commas or
    /// spaces. Absent: roles come from the address lists alone.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Groups whose members are responders, besides `responders` (exact names; needs `groups_claim`).
    #[serde(default)]
    pub responder_groups: Vec<String>,
    /// Groups whose members are information security officers, besides `iso` (exact names; needs
    /// `groups_claim`).
    #[serde(default)]
    pub iso_groups: Vec<String>,
    /// Local development only: everyone is this e-mail address, unauthenticated. Refused unless `listen` is
    /// a loopback address.
    #[serde(default)]
    pub dev_user: Option<String>,
    /// Key of the forms' CSRF tokens (at least 32 characters), shared by every portal task behind one load
    /// balancer; set it from a secret with `GD_INCIDENTS__PORTAL__CSRF_KEY`. Default: random per process.
    #[serde(default)]
    pub csrf_key: Option<String>,
    /// Sign in only people whose address the identity provider verified (the `email_verified` claim true).
    /// `false` only for an identity provider that never sends the claim and verifies every address itself.
    #[serde(default = "yes")]
    pub require_email_verified: bool,
    /// Staff reports one person may file per hour through one portal task; more are refused with a clear
    /// message (each report pages people). 0: no limit.
    #[serde(default = "default_reports_per_hour")]
    pub reports_per_hour: u32,
}

fn yes() -> bool {
    true
}

fn default_reports_per_hour() -> u32 {
    10
}

impl PortalConfig {
    /// What serde cannot check: the key and the reason.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let email = |key: &'static str, v: &str| {
            let v = v.trim();
            match v.split_once('@') {
                Some((user, domain)) if !user.is_empty() && !domain.is_empty() && !v.contains(char::is_whitespace) => {
                    if v.is_ascii() {
                        Ok(())
                    } else {
                        Err((key, format!("`{v}` is not a plain ASCII address (sign-in refuses those)")))
                    }
                }
                _ => Err((key, format!("`{v}` is not an e-mail address"))),
            }
        };
        match (&self.dev_user, &self.alb_arn) {
            (Some(dev), None) => {
                email("portal.dev_user", dev)?;
                if !self.listen.ip().is_loopback() {
                    return Err((
                        "portal.dev_user",
                        format!(
                            "development mode signs everyone in as {dev} without authentication, so it is allowed \
                             only when portal.listen is a loopback address (127.0.0.1 or [::1]), not {}",
                            self.listen
                        ),
                    ));
                }
            }
            (Some(_), Some(_)) => {
                return Err(("portal.dev_user", "cannot be combined with portal.alb_arn: remove one of them".into()));
            }
            (None, None) => {
                return Err((
                    "portal.alb_arn",
                    "missing: the ARN of the load balancer that signs x-amzn-oidc-data (or portal.dev_user for \
                     local development on a loopback address)"
                        .into(),
                ));
            }
            (None, Some(arn)) => {
                let parts: Vec<&str> = arn.split(':').collect();
                if parts.len() < 6 || parts[0] != "arn" || parts[2] != "elasticloadbalancing" || parts[3].is_empty() {
                    return Err((
                        "portal.alb_arn",
                        format!(
                            "`{arn}` is not a load balancer ARN: expected \
                             arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>"
                        ),
                    ));
                }
            }
        }
        if let Some(url) = &self.public_key_url {
            let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://[::1]:"];
            if !url.starts_with("https://") && !loopback.iter().any(|p| url.starts_with(p)) {
                return Err((
                    "portal.public_key_url",
                    format!("`{url}` must be an https:// URL (plain http:// only on a loopback address, for tests)"),
                ));
            }
        }
        for v in &self.responders {
            email("portal.responders", v)?;
        }
        for v in &self.iso {
            email("portal.iso", v)?;
        }
        for (key, groups) in
            [("portal.responder_groups", &self.responder_groups), ("portal.iso_groups", &self.iso_groups)]
        {
            if !groups.is_empty() && self.groups_claim.is_none() {
                return Err((key, "needs portal.groups_claim, the token claim that lists a person's groups".into()));
            }
            if let Some(g) = groups.iter().find(|g| g.trim().is_empty()) {
                return Err((key, format!("`{g}` is not a group name")));
            }
        }
        if self.groups_claim.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(("portal.groups_claim", "is empty: name the claim, e.g. groups or cognito:groups".into()));
        }
        if let Some(key) = &self.csrf_key
            && key.len() < 32
        {
            return Err(("portal.csrf_key", format!("is {} characters long: use at least 32", key.len())));
        }
        Ok(())
    }
}
