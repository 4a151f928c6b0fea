//! The findings the bench sends: real GuardDuty finding events made from one fixture, at the levels and with
//! the copies a burst has. Generated deterministically, so that two runs send the same burst and compare.

use serde_json::json;

use crate::ACCOUNT;
use crate::support::FindingEvent;
use crate::support::localstack::REGION;

/// A finding's severity level, as the daemon rates GuardDuty's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Severity 2.
    Low,
    /// Severity 5.
    Medium,
    /// Severity 8: paged.
    High,
    /// Severity 9.5: paged.
    Critical,
}

impl Level {
    /// The GuardDuty severity number the bench gives a finding of this level.
    pub fn severity(self) -> f64 {
        match self {
            Level::Low => 2.0,
            Level::Medium => 5.0,
            Level::High => 8.0,
            Level::Critical => 9.5,
        }
    }
    /// The level's name, as it appears in titles.
    pub fn name(self) -> &'static str {
        match self {
            Level::Low => "LOW",
            Level::Medium => "MEDIUM",
            Level::High => "HIGH",
            Level::Critical => "CRITICAL",
        }
    }
    /// Whether the daemon pages for a finding of this level.
    pub fn pages(self) -> bool {
        self >= Level::High
    }
}

/// A small deterministic generator (xorshift64*), so that two runs send the same burst.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Fisher-Yates shuffle of `v`.
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Makes finding events from the repository's EC2 backdoor fixture (a real GuardDuty finding, ~3.7 KB).
pub struct Findings {
    /// The fixture's event.
    template: FindingEvent,
    /// `createdAt` of every finding: an hour before the run.
    base: chrono::DateTime<chrono::Utc>,
}

impl Findings {
    /// The generator, its findings created an hour ago.
    pub fn new() -> Findings {
        let template = FindingEvent::from_fixture("ec2-instance-backdoor", "template");
        Findings { template, base: chrono::Utc::now() - chrono::Duration::hours(1) }
    }

    /// Version `version` (0 = first) of finding `id` at `level`.
    pub fn body(&self, id: &str, level: Level, version: u32) -> String {
        let ts = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut event = self
            .template
            .clone()
            .set("id", json!(id))
            .arn(&format!(
                "arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/7ac0b9d4e3f2418a9c6e5d1b0a2f3e4d/finding/{id}"
            ))
            .severity(level.severity())
            .title(&format!("Benchmark {} finding {id} (C&C domain queried by i-0a1b2c3d4e5f67890)", level.name()))
            .created_at(&ts(self.base))
            .updated_at(&ts(self.base + chrono::Duration::minutes(i64::from(version))))
            .count(u64::from(3 + version));
        // The envelope's own id and time, as EventBridge sets them per delivery.
        event.0["id"] = json!(uuid::Uuid::new_v4().to_string());
        event.0["time"] = json!(ts(chrono::Utc::now()));
        event.body()
    }
}

/// One message of a burst.
#[derive(Debug, Clone)]
pub struct Msg {
    /// The finding's id.
    pub finding: String,
    /// Its level.
    pub level: Level,
    /// The message body: the EventBridge event.
    pub body: String,
}

/// The mixed burst: `n` findings with exact level shares (85/10/4/1 per hundred), a second version of 5% and
/// a byte-identical redelivery of 3%, each copy placed a little after its original.
pub fn mixed_burst(f: &Findings, prefix: &str, n: usize, rng: &mut Rng) -> Vec<Msg> {
    let mut levels: Vec<Level> = (0..n)
        .map(|i| match i % 100 {
            0..85 => Level::Low,
            85..95 => Level::Medium,
            95..99 => Level::High,
            _ => Level::Critical,
        })
        .collect();
    rng.shuffle(&mut levels);
    let mut keyed: Vec<(usize, Msg)> = Vec::with_capacity(n + n / 10);
    for (i, &level) in levels.iter().enumerate() {
        let finding = format!("{prefix}{i:06}");
        keyed.push((i * 4, Msg { body: f.body(&finding, level, 0), finding, level }));
    }
    let mut picks: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut picks);
    let (updates, rest) = picks.split_at(n * 5 / 100);
    let window = (n / 20).max(10);
    for &i in updates {
        let orig = &keyed[i].1;
        let msg = Msg { body: f.body(&orig.finding, orig.level, 1), ..orig.clone() };
        keyed.push(((i + 1 + rng.below(window)) * 4 + 1, msg));
    }
    for &i in &rest[..n * 3 / 100] {
        let copy = keyed[i].1.clone();
        keyed.push(((i + 1 + rng.below(window)) * 4 + 2, copy));
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, m)| m).collect()
}

/// `n` distinct LOW findings, `<prefix><i>`: the like-for-like load of the ceiling, the LOW phase, the peer and
/// the soak.
pub fn low_burst(f: &Findings, prefix: &str, n: usize) -> Vec<Msg> {
    low_range(f, prefix, 0..n)
}

/// The LOW findings `<prefix><i>` for `i` in `range` (the soak generates its load a chunk at a time).
pub fn low_range(f: &Findings, prefix: &str, range: std::ops::Range<usize>) -> Vec<Msg> {
    range
        .map(|i| {
            let finding = format!("{prefix}{i:06}");
            Msg { body: f.body(&finding, Level::Low, 0), finding, level: Level::Low }
        })
        .collect()
}
