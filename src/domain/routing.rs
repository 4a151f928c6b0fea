//! Who else is told (procedure §3.3: "notify the Infra Operations person, Information Security Officer, and
//! any other relevant stakeholder"; the client procedure's "prompt notification to designated client
//! contacts"): `[[paging.routes]]` add stakeholder topics by level and account, `[[clients]]` map accounts to
//! a client's topic. Pure: which targets an incident owes at a level, and each target's topic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::severity::Level;

/// Who receives a page: the contract's two topics, a stakeholder route, or a client's contacts.
///
/// Stored as text: `oce`, `iso`, `route:<name>`, `client:<name>` (incidents stored before routes existed
/// hold only the first two, and read as before).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Target {
    /// The on-call engineer's topic.
    Oce,
    /// The information security officer's topic.
    Iso,
    /// A `[[paging.routes]]` entry, by name.
    Route(String),
    /// A `[[clients]]` entry, by name: customer-facing notices, never pages.
    Client(String),
}

impl Target {
    /// The stored spelling.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Target::Oce => "oce".into(),
            Target::Iso => "iso".into(),
            Target::Route(name) => format!("route:{name}").into(),
            Target::Client(name) => format!("client:{name}").into(),
        }
    }

    /// Whether this is a client's target (customer-facing notices, not internal pages).
    pub fn is_client(&self) -> bool {
        matches!(self, Target::Client(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.as_str().into_owned()
    }
}

/// A stored page target that is none of the known spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a page target: expected oce, iso, route:<name> or client:<name>")]
pub struct NotATarget(pub String);

impl TryFrom<String> for Target {
    type Error = NotATarget;

    fn try_from(s: String) -> Result<Target, NotATarget> {
        match s.split_once(':') {
            None if s == "oce" => Ok(Target::Oce),
            None if s == "iso" => Ok(Target::Iso),
            Some(("route", name)) if !name.is_empty() => Ok(Target::Route(name.to_owned())),
            Some(("client", name)) if !name.is_empty() => Ok(Target::Client(name.to_owned())),
            _ => Err(NotATarget(s)),
        }
    }
}

/// Who is paged when an incident reaches a paging level, whatever else is configured.
pub const PAGE_TARGETS: [Target; 2] = [Target::Oce, Target::Iso];

/// `[[paging.routes]]`: a stakeholder topic paged like the OCE and the ISO from a level on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Unique; names the route in page keys (`HIGH:route:<name>`): letters, digits, `-` and `_`.
    pub name: String,
    /// The SNS topic paged.
    pub topic_arn: String,
    /// The lowest level paged: `HIGH` (HIGH and CRITICAL) or `CRITICAL`.
    pub min_level: Level,
    /// Only incidents in these accounts; empty: every account (staff reports included).
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// `[[clients]]`: a client whose accounts' incidents are announced on the client's topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Unique; names the client in notice keys (`HIGH:client:<name>`): letters, digits, `-` and `_`.
    pub name: String,
    /// The client's AWS account ids (12 digits); an account belongs to one client at most.
    pub accounts: Vec<String>,
    /// The SNS topic of the client's designated contacts.
    pub topic_arn: String,
    /// The lowest level announced: `HIGH` (the default) or `CRITICAL`.
    #[serde(default = "default_client_level")]
    pub min_level: Level,
}

fn default_client_level() -> Level {
    Level::High
}

/// No routes and no clients, to borrow for as long as needed.
pub static EMPTY: Routing = Routing::NONE;

/// The routes and clients of a configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routing {
    /// Stakeholder routes.
    pub routes: Vec<Route>,
    /// Clients.
    pub clients: Vec<Client>,
}

impl Routing {
    /// No routes and no clients: the contract's two topics alone.
    pub const NONE: Routing = Routing { routes: Vec::new(), clients: Vec::new() };

    /// The routes and the client an incident in `account_id` owes a page or notice at `level`, besides the
    /// OCE and the ISO. Confidential incidents owe none (the caller does not ask).
    pub fn targets(&self, account_id: &str, level: Level) -> Vec<Target> {
        let routes = self
            .routes
            .iter()
            .filter(|r| level >= r.min_level && (r.accounts.is_empty() || r.accounts.iter().any(|a| a == account_id)))
            .map(|r| Target::Route(r.name.clone()));
        let client =
            self.client_of(account_id).filter(|c| level >= c.min_level).map(|c| Target::Client(c.name.clone()));
        routes.chain(client).collect()
    }

    /// The client an account belongs to.
    pub fn client_of(&self, account_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.accounts.iter().any(|a| a == account_id))
    }

    /// The topic of a route or client target, if it is configured (the OCE's and ISO's come from `[paging]`).
    pub fn topic(&self, target: &Target) -> Option<&str> {
        match target {
            Target::Route(name) => self.routes.iter().find(|r| &r.name == name).map(|r| r.topic_arn.as_str()),
            Target::Client(name) => self.clients.iter().find(|c| &c.name == name).map(|c| c.topic_arn.as_str()),
            Target::Oce | Target::Iso => None,
        }
    }

    /// Checks what serde cannot; returns the key (`paging.routes[1].min_level`) and the reason.
    pub fn validate(&self) -> Result<(), (String, String)> {
        fn name_ok(name: &str) -> bool {
            !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        fn account_ok(a: &str) -> bool {
            a.len() == 12 && a.chars().all(|c| c.is_ascii_digit())
        }
        fn arn_ok(v: &str) -> bool {
            let parts: Vec<&str> = v.split(':').collect();
            parts.len() >= 6 && parts[0] == "arn" && parts[2] == "sns"
        }
        const NAME: &str = "must be 1 to 64 letters, digits, `-` or `_` (it is part of page keys)";
        const ARN: &str = "is not an sns ARN: expected arn:<partition>:sns:<region>:<account>:<name>";
        for (i, r) in self.routes.iter().enumerate() {
            let key = |field: &str| format!("paging.routes[{i}].{field}");
            if !name_ok(&r.name) {
                return Err((key("name"), format!("`{}` {NAME}", r.name)));
            }
            if let Some(j) = self.routes[..i].iter().position(|o| o.name == r.name) {
                return Err((key("name"), format!("`{}` is already the name of paging.routes[{j}]", r.name)));
            }
            if !arn_ok(&r.topic_arn) {
                return Err((key("topic_arn"), format!("`{}` {ARN}", r.topic_arn)));
            }
            if !r.min_level.pages() {
                return Err((
                    key("min_level"),
                    format!("{} never pages: use HIGH (HIGH and CRITICAL) or CRITICAL", r.min_level),
                ));
            }
            if let Some(a) = r.accounts.iter().find(|a| !account_ok(a)) {
                return Err((key("accounts"), format!("`{a}` is not an AWS account id (12 digits)")));
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            let key = |field: &str| format!("clients[{i}].{field}");
            if !name_ok(&c.name) {
                return Err((key("name"), format!("`{}` {NAME}", c.name)));
            }
            if let Some(j) = self.clients[..i].iter().position(|o| o.name == c.name) {
                return Err((key("name"), format!("`{}` is already the name of clients[{j}]", c.name)));
            }
            if !arn_ok(&c.topic_arn) {
                return Err((key("topic_arn"), format!("`{}` {ARN}", c.topic_arn)));
            }
            if !c.min_level.pages() {
                return Err((
                    key("min_level"),
                    format!("{} is not announced to clients: use HIGH (the default) or CRITICAL", c.min_level),
                ));
            }
            if c.accounts.is_empty() {
                return Err((key("accounts"), "must list at least one account id".into()));
            }
            for a in &c.accounts {
                if !account_ok(a) {
                    return Err((key("accounts"), format!("`{a}` is not an AWS account id (12 digits)")));
                }
                if let Some(j) = self.clients[..i].iter().position(|o| o.accounts.contains(a)) {
                    return Err((
                        key("accounts"),
                        format!(
                            "account {a} is already client `{}`'s (clients[{j}]): an account has one client",
                            self.clients[j].name
                        ),
                    ));
                }
                if c.accounts.iter().filter(|x| *x == a).count() > 1 {
                    return Err((key("accounts"), format!("account {a} is listed twice")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing() -> Routing {
        Routing {
            routes: vec![
                Route {
                    name: "infra-ops".into(),
                    topic_arn: "arn:aws:sns:us-east-1:1:infra".into(),
                    min_level: Level::High,
                    accounts: vec![],
                },
                Route {
                    name: "management".into(),
                    topic_arn: "arn:aws:sns:us-east-1:1:mgmt".into(),
                    min_level: Level::Critical,
                    accounts: vec![],
                },
                Route {
                    name: "prod-team".into(),
                    topic_arn: "arn:aws:sns:us-east-1:1:prod".into(),
                    min_level: Level::High,
                    accounts: vec!["111111111111".into()],
                },
            ],
            clients: vec![Client {
                name: "acme".into(),
                accounts: vec!["222222222222".into()],
                topic_arn: "arn:aws:sns:us-east-1:1:acme".into(),
                min_level: Level::Critical,
            }],
        }
    }

    #[test]
    fn targets_follow_level_and_account() {
        let r = routing();
        let route = |n: &str| Target::Route(n.into());
        let table: &[(&str, Level, Vec<Target>)] = &[
            ("333333333333", Level::Medium, vec![]),
            ("333333333333", Level::High, vec![route("infra-ops")]),
            ("333333333333", Level::Critical, vec![route("infra-ops"), route("management")]),
            ("111111111111", Level::High, vec![route("infra-ops"), route("prod-team")]),
            ("222222222222", Level::High, vec![route("infra-ops")]),
            (
                "222222222222",
                Level::Critical,
                vec![route("infra-ops"), route("management"), Target::Client("acme".into())],
            ),
        ];
        for (account, level, want) in table {
            assert_eq!(&r.targets(account, *level), want, "{account} {level}");
        }
        assert_eq!(r.topic(&route("management")), Some("arn:aws:sns:us-east-1:1:mgmt"));
        assert_eq!(r.topic(&Target::Client("acme".into())), Some("arn:aws:sns:us-east-1:1:acme"));
        assert_eq!(r.topic(&route("gone")), None);
        assert!(Routing::NONE.targets("1", Level::Critical).is_empty());
    }

    #[test]
    fn bad_entries_name_the_key_and_the_reason() {
        assert_eq!(routing().validate(), Ok(()));
        type Change = Box<dyn Fn(&mut Routing)>;
        let cases: Vec<(&str, Change, &str, &str)> = vec![
            (
                "low route",
                Box::new(|r| r.routes[1].min_level = Level::Medium),
                "paging.routes[1].min_level",
                "never pages",
            ),
            ("dup route", Box::new(|r| r.routes[2].name = "infra-ops".into()), "paging.routes[2].name", "already"),
            ("bad name", Box::new(|r| r.routes[0].name = "a:b".into()), "paging.routes[0].name", "letters"),
            ("bad arn", Box::new(|r| r.routes[0].topic_arn = "infra".into()), "paging.routes[0].topic_arn", "sns ARN"),
            (
                "bad account",
                Box::new(|r| r.routes[2].accounts = vec!["12".into()]),
                "paging.routes[2].accounts",
                "12 digits",
            ),
            (
                "shared account",
                Box::new(|r| {
                    let mut other = r.clients[0].clone();
                    other.name = "globex".into();
                    r.clients.push(other);
                }),
                "clients[1].accounts",
                "already client `acme`'s",
            ),
            ("no accounts", Box::new(|r| r.clients[0].accounts.clear()), "clients[0].accounts", "at least one"),
            ("low client", Box::new(|r| r.clients[0].min_level = Level::Low), "clients[0].min_level", "not announced"),
        ];
        for (name, change, key, says) in cases {
            let mut r = routing();
            change(&mut r);
            let (k, reason) = r.validate().expect_err(name);
            assert_eq!(k, key, "{name}");
            assert!(reason.contains(says), "{name}: {reason}");
        }
    }
}
