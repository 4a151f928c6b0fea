//! The incident list at a year's scale (issue 21): a table filled with 10,000 and then 100,000 incidents
//! (written through the program's own store, so their items and index entries are the real ones), and the
//! store calls the portal and the CLI make timed on it: the newest page, a page ten pages in, and a search
//! that matches one incident and must look through every other.

use std::time::Instant;

use chrono::Utc;
use futures_util::StreamExt;
use gd_incidents::adapters::dynamodb::{ListFilter, Store};
use gd_incidents::domain::finding;
use gd_incidents::domain::incident::{Ctx, Incident};
use gd_incidents::domain::policy::Policy;

use crate::findings::{Findings, Level};
use crate::stats::pct;
use crate::support::{Aws, Stack};
use crate::{Result, log};

/// Incidents written at once while filling the table.
const WRITERS: usize = 32;
/// Times each query is made, for its median.
const TRIES: usize = 5;
/// The portal's page.
const PAGE: usize = 50;

/// The figures at one size.
pub struct AtSize {
    /// Incidents in the table.
    pub incidents: usize,
    /// Seconds to fill the table up to this size.
    pub fill_secs: f64,
    /// The newest page, seconds (each try).
    pub first_page: Vec<f64>,
    /// The tenth page, reached by its cursor, seconds (each try).
    pub tenth_page: Vec<f64>,
    /// A search matching one incident, to its last page, seconds (each try).
    pub search: Vec<f64>,
    /// Whether every search found the one incident.
    pub search_found: bool,
}

impl AtSize {
    /// The median of a set of tries.
    pub fn median(tries: &[f64]) -> Option<f64> {
        pct(tries, 50.0)
    }
}

/// One incident of the fill: LOW, created `n` × 5 minutes before now (a year is about 100,000 of them), the
/// `needle` in the title of the one that searches look for.
fn incident(findings: &Findings, id: &str, n: usize, needle: Option<&str>, policy: &Policy) -> Option<Incident> {
    let body = findings.body(&format!("{id}-{n:06}"), Level::Low, 0);
    let mut f = finding::parse(&body).ok()?;
    if let Some(needle) = needle {
        f.title = format!("Benchmark finding {needle}");
    }
    let now = Utc::now() - chrono::Duration::minutes(5 * n as i64);
    let ctx = Ctx { claimant: "bench", ..Ctx::defaults(now, policy) };
    Some(Incident::create(uuid::Uuid::new_v4().to_string(), &f, &ctx).0)
}

/// Writes incidents `range` of the fill through `store`, `WRITERS` at once.
async fn fill(
    store: &Store,
    findings: &Findings,
    id: &str,
    range: std::ops::Range<usize>,
    needle_at: usize,
) -> Result<()> {
    let policy = Policy::default();
    let writes = range.map(|n| {
        let needle = (n == needle_at).then_some(NEEDLE);
        let incident = incident(findings, id, n, needle, &policy);
        async move {
            match incident {
                Some(i) => store.commit(&i, None, &[], None).await.map(drop).map_err(|e| e.to_string()),
                None => Err("a bench finding does not parse".to_owned()),
            }
        }
    });
    let results: Vec<Result<()>> = futures_util::stream::iter(writes).buffer_unordered(WRITERS).collect().await;
    results.into_iter().collect()
}

/// The one title word searches look for.
const NEEDLE: &str = "xylophone-7f3a";

/// Times `f` `TRIES` times.
async fn timed<F, Fut, T>(mut f: F) -> Result<(Vec<f64>, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..TRIES {
        let t = Instant::now();
        last = Some(f().await?);
        times.push(t.elapsed().as_secs_f64());
    }
    last.map(|l| (times, l)).ok_or_else(|| "no try".to_owned())
}

/// Fills `stack`'s table to each of `sizes` in turn and times the queries at each.
pub async fn run(aws: &Aws, stack: &Stack, findings: &Findings, id: &str, sizes: &[usize]) -> Result<Vec<AtSize>> {
    let store = aws.store(stack.table(), None);
    let mut at = Vec::new();
    let mut filled = 0;
    for &size in sizes {
        let t = Instant::now();
        // The needle among the oldest of the first fill: a search must look through all the newer ones.
        fill(&store, findings, id, filled..size, sizes[0] - 1).await?;
        let fill_secs = t.elapsed().as_secs_f64();
        filled = size;
        log(format!("queries: {size} incidents in the table (filled in {fill_secs:.0}s); timing the list"));
        let all = ListFilter::default();
        let (first_page, _) = timed(|| async { store.list(&all, PAGE, None).await.map_err(|e| e.to_string()) }).await?;
        // The tenth page's own time, reached through the nine before it.
        let mut tenth_page = Vec::new();
        for _ in 0..TRIES {
            let mut next = None;
            for _ in 0..9 {
                next = store.list(&all, PAGE, next.as_deref()).await.map_err(|e| e.to_string())?.next;
            }
            let t = Instant::now();
            store.list(&all, PAGE, next.as_deref()).await.map_err(|e| e.to_string())?;
            tenth_page.push(t.elapsed().as_secs_f64());
        }
        let search = ListFilter { text: Some(NEEDLE.into()), ..ListFilter::default() };
        let (search_times, found) = timed(|| async {
            let (mut next, mut found) = (None::<String>, Vec::new());
            loop {
                let page = store.list(&search, PAGE, next.as_deref()).await.map_err(|e| e.to_string())?;
                found.extend(page.incidents.into_iter().map(|i| i.title));
                next = page.next;
                if next.is_none() {
                    return Ok(found);
                }
            }
        })
        .await?;
        let search_found = found.len() == 1 && found[0].contains(NEEDLE);
        let median = |t: &[f64]| AtSize::median(t).unwrap_or(f64::NAN);
        log(format!(
            "queries: {size} incidents: newest page {:.3}s, tenth page {:.3}s, search {:.3}s (medians), found {search_found}",
            median(&first_page),
            median(&tenth_page),
            median(&search_times)
        ));
        at.push(AtSize { incidents: size, fill_secs, first_page, tenth_page, search: search_times, search_found });
    }
    Ok(at)
}
