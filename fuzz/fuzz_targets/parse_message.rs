//! Arbitrary bytes as an SQS message body: `finding::parse` never panics, and what it accepts is a finding
//! the rest of the daemon can rely on.
#![no_main]

use gd_incidents::domain::finding::{self, Reject};
use gd_incidents::domain::severity::Level;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // SQS message bodies are always UTF-8.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    match finding::parse(body) {
        Ok(f) => {
            assert!(f.severity.is_finite(), "severity {} is not finite", f.severity);
            assert!((0.0..=10.0).contains(&f.severity), "severity {} out of [0, 10]", f.severity);
            assert_eq!(Some(f.level), Level::from_score(f.severity), "level of {}", f.severity);
            for (name, value) in [
                ("id", &f.id),
                ("account_id", &f.account_id),
                ("region", &f.region),
                ("finding_type", &f.finding_type),
                ("title", &f.title),
                ("partition", &f.partition),
                ("resource.kind", &f.resource.kind),
                ("resource.summary", &f.resource.summary),
            ] {
                assert!(!value.trim().is_empty(), "{name} is blank: {value:?}");
            }
            assert!(f.resource.summary.chars().count() <= 300, "summary not truncated");
            // What the daemon does next with a finding must not panic either.
            let _ = f.console_url();
            let _ = f.version();
        }
        Err(reject) => {
            assert!(!reject.code().is_empty(), "empty code for {reject:?}");
            assert!(!reject.to_string().is_empty(), "empty message for {reject:?}");
            if body.trim().is_empty() {
                assert_eq!(reject, Reject::EmptyBody);
            }
        }
    }
});
