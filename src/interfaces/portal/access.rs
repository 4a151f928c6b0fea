//! Who sees what (pure). Roles come from the configuration's e-mail lists; everyone else signed in is staff.
//!
//! | role      | incident list | an incident's page                         | works incidents        |
//! |-----------|---------------|--------------------------------------------|------------------------|
//! | staff     | no            | only the reports they filed (status view)  | no                     |
//! | responder | all but confidential | all but confidential; own reports  | all but confidential   |
//! | ISO       | all           | all                                        | all                    |
//!
//! A confidential incident is not merely forbidden to a responder: it does not exist for them (no row, no
//! count, no search hit, and its URL answers 404 like an unknown id).

use std::collections::HashSet;
use std::fmt;

use crate::domain::incident::Incident;

/// What a signed-in person is, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everyone signed in who is not listed: reports incidents and follows their own reports.
    Staff,
    /// Listed in `[portal] responders`: sees and works every incident but confidential ones.
    Responder,
    /// Listed in `[portal] iso`: sees and works every incident.
    Iso,
}

impl Role {
    /// How the pages name the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Responder => "responder",
            Role::Iso => "information security officer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role lists of the configuration: addresses normalised (trimmed, lowercase), and the identity
/// provider's groups that give a role (compared exactly).
#[derive(Debug, Clone, Default)]
pub struct Roles {
    responders: HashSet<String>,
    iso: HashSet<String>,
    responder_groups: HashSet<String>,
    iso_groups: HashSet<String>,
}

/// The form in which e-mail addresses are compared and recorded: trimmed, ASCII letters lowercased. Only
/// ASCII is folded: Unicode case rules would make look-alikes (U+212A KELVIN SIGN) into other people's
/// addresses, and sign-in refuses non-ASCII addresses anyway.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

impl Roles {
    /// The roles of the configured address lists.
    pub fn new(responders: &[String], iso: &[String]) -> Roles {
        Roles {
            responders: responders.iter().map(|e| normalise_email(e)).collect(),
            iso: iso.iter().map(|e| normalise_email(e)).collect(),
            ..Roles::default()
        }
    }

    /// These roles, and also the roles of the members of these groups.
    pub fn with_groups(self, responder_groups: &[String], iso_groups: &[String]) -> Roles {
        Roles {
            responder_groups: responder_groups.iter().map(|g| g.trim().to_owned()).collect(),
            iso_groups: iso_groups.iter().map(|g| g.trim().to_owned()).collect(),
            ..self
        }
    }

    /// The person signed in as `email`, with their role (the ISO list wins over the responders').
    pub fn user(&self, email: &str) -> User {
        self.member(email, &[])
    }

    /// The person signed in as `email`, member of `groups`: the ISO if either names them the ISO, else a
    /// responder if either names them one, else staff.
    pub fn member(&self, email: &str, groups: &[String]) -> User {
        let email = normalise_email(email);
        let in_any = |set: &HashSet<String>| groups.iter().any(|g| set.contains(g));
        let role = if self.iso.contains(&email) || in_any(&self.iso_groups) {
            Role::Iso
        } else if self.responders.contains(&email) || in_any(&self.responder_groups) {
            Role::Responder
        } else {
            Role::Staff
        };
        User { email, role }
    }
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Their e-mail address, normalised: also what the incident log records as who did what.
    pub email: String,
    /// What they may do.
    pub role: Role,
}

/// What a person may do with one incident they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// See everything and act (responders on non-confidential incidents, the ISO on all).
    Work,
    /// Follow a report they filed: what it says and where it stands, not the responders' log.
    Reporter,
}

impl User {
    /// Whether the incident list (and its search and counts) is theirs to see.
    pub fn lists_incidents(&self) -> bool {
        matches!(self.role, Role::Responder | Role::Iso)
    }

    /// Whether confidential incidents exist for them in lists, searches and counts.
    pub fn sees_confidential(&self) -> bool {
        self.role == Role::Iso
    }

    /// Whether they filed `incident`.
    pub fn reported(&self, incident: &Incident) -> bool {
        incident.reported_by.as_deref().is_some_and(|by| normalise_email(by) == self.email)
    }

    /// What they may do with `incident`; `None`: for them it does not exist (answer 404).
    pub fn access(&self, incident: &Incident) -> Option<Access> {
        let works = match self.role {
            Role::Iso => true,
            Role::Responder => !incident.confidential,
            Role::Staff => false,
        };
        if works {
            Some(Access::Work)
        } else if self.reported(incident) {
            Some(Access::Reporter)
        } else {
            None
        }
    }

    /// Whether `incident` belongs in their incident list (and its counts and search results).
    pub fn lists(&self, incident: &Incident) -> bool {
        self.lists_incidents() && (self.sees_confidential() || !incident.confidential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::incident::Ctx;
    use crate::domain::lifecycle::{self, Report};
    use crate::domain::policy::Policy;
    use crate::domain::severity::Level;

    fn report(by: &str, confidential: bool) -> Incident {
        let policy = Policy::default();
        let ctx = Ctx::defaults(chrono::Utc::now(), &policy);
        let r = Report { by: by.into(), title: "t".into(), description: "d".into(), level: Level::High, confidential };
        lifecycle::report("id-1".into(), &r, &ctx).unwrap().0
    }

    #[test]
    fn roles_come_from_the_lists_case_insensitively_and_the_iso_wins() {
        let roles = Roles::new(&["Rita@Example.com ".into(), "both@example.com".into()], &["both@example.com".into()]);
        assert_eq!(roles.user("rita@example.COM").role, Role::Responder);
        assert_eq!(roles.user("rita@example.com").email, "rita@example.com");
        assert_eq!(roles.user("both@example.com").role, Role::Iso);
        assert_eq!(roles.user("sam@example.com").role, Role::Staff);
    }

    #[test]
    fn groups_give_roles_too_and_the_iso_wins() {
        let roles = Roles::new(&["rita@x.io".into()], &[]).with_groups(&["oce".into()], &["security-officers".into()]);
        let g = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(roles.member("sam@x.io", &g(&["oce"])).role, Role::Responder);
        assert_eq!(roles.member("sam@x.io", &g(&["staff", "security-officers"])).role, Role::Iso);
        assert_eq!(roles.member("rita@x.io", &g(&["security-officers"])).role, Role::Iso);
        assert_eq!(roles.member("rita@x.io", &[]).role, Role::Responder);
        // Exact names: no case folding, no prefixes.
        assert_eq!(roles.member("sam@x.io", &g(&["OCE", "oce-readers", "security"])).role, Role::Staff);
    }

    #[test]
    fn who_sees_what() {
        let roles = Roles::new(&["rita@x.io".into()], &["iso@x.io".into()]);
        let (staff, other, responder, iso) =
            (roles.user("sam@x.io"), roles.user("olga@x.io"), roles.user("rita@x.io"), roles.user("iso@x.io"));
        let open = report("sam@x.io", false);
        let secret = report("SAM@x.io", true);
        let responders_secret = report("rita@x.io", true);

        assert_eq!(staff.access(&open), Some(Access::Reporter));
        assert_eq!(staff.access(&secret), Some(Access::Reporter), "their own confidential report");
        assert_eq!(other.access(&open), None, "another member of staff's report does not exist for them");
        assert_eq!(responder.access(&open), Some(Access::Work));
        assert_eq!(responder.access(&secret), None, "confidential: 404 for a responder");
        assert_eq!(responder.access(&responders_secret), Some(Access::Reporter), "but they follow their own");
        assert_eq!(iso.access(&secret), Some(Access::Work));

        assert!(!staff.lists(&open) && !staff.lists_incidents());
        assert!(responder.lists(&open) && !responder.lists(&secret) && !responder.lists(&responders_secret));
        assert!(iso.lists(&open) && iso.lists(&secret));
        assert!(!responder.sees_confidential() && iso.sees_confidential());
    }
}
