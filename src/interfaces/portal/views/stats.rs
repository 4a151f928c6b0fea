//! The figures page (responders and the ISO): [`crate::domain::stats`] as tables.

use maud::{Markup, html};

use super::{Chrome, layout, level, when};
use crate::domain::sla::Goal;
use crate::domain::stats::{Spread, Stats, human};

fn spread(s: &Option<Spread>) -> Markup {
    html! {
        @match s {
            Some(s) => { (human(s.median_mins)) " / " (human(s.p90_mins)) " (" (s.count) ")" }
            None => { "-" }
        }
    }
}

/// The figures of the last `days` days.
pub fn stats_page(chrome: &Chrome<'_>, stats: &Stats, days: i64) -> Markup {
    let list = |title: &str, rows: &[(String, usize)]| {
        html! {
            h2 { (title) }
            table {
                tbody {
                    @for (k, n) in rows { tr { td { (k) } td { (n) } } }
                    @if rows.is_empty() { tr { td colspan="2" { "-" } } }
                }
            }
        }
    };
    let sources: Vec<(String, usize)> = stats.by_source.iter().map(|(k, v)| (k.clone(), *v)).collect();
    layout(
        Some(chrome),
        chrome.dev,
        "Figures",
        html! {
            h1 { "Figures" }
            p.hint {
                (stats.incidents) " incidents created since " (when(stats.since)) ". "
                @for d in [7, 30, 90] {
                    @if d == days { b { (d) " days" } } @else { a href={ "/stats?days=" (d) } { (d) " days" } } " "
                }
            }
            h2 { "Response times (median / 90th percentile, from creation)" }
            table {
                thead { tr { th { "Level" } th { "Incidents" } th { "Acknowledged" } th { "Contained" } th { "Resolved" } th { "Objectives missed (ack / contain / resolve)" } } }
                tbody {
                    @for l in &stats.levels {
                        tr {
                            td { (level(l.level)) }
                            td { (l.incidents) }
                            td { (spread(&l.acknowledge)) }
                            td { (spread(&l.contain)) }
                            td { (spread(&l.resolve)) }
                            td {
                                @for (n, g) in [Goal::Acknowledge, Goal::Contain, Goal::Resolve].iter().enumerate() {
                                    @if n > 0 { " / " }
                                    (l.breaches.get(g).copied().unwrap_or(0))
                                }
                            }
                        }
                    }
                }
            }
            (list("By source", &sources))
            (list("Open incidents by age", &stats.open_by_age))
            (list("Top finding types", &stats.top_types))
            (list("Top resources", &stats.top_resources))
        },
    )
}
