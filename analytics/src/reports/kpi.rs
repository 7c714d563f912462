//! The report KPIs that Hanoi and Hue publish (docs/open311.md): received, open, overdue, resolved
//! on time, median time to resolve, satisfaction.

use super::record::{Report, Status};
use serde::Serialize;

/// The KPIs of a set of reports at one moment.
///
/// Definitions: `resolved_on_time_pct` = resolved no later than expected ÷ resolved;
/// `median_resolve_hours` = median of (resolved − received) over resolved reports;
/// `rating_avg` and `rated_4plus_pct` over rated reports. A ratio with nothing to divide by is
/// `null`, not 0, so "no data" never reads as "all late".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportKpi {
    /// Reports received.
    pub received: u64,
    /// Still open (received, assigned, in progress).
    pub open: u64,
    /// Open past their expected time.
    pub overdue: u64,
    /// Resolved.
    pub resolved: u64,
    /// Closed as rejected or duplicate.
    pub rejected: u64,
    /// Resolved within the SLA, percent of resolved.
    pub resolved_on_time_pct: Option<f64>,
    /// Median hours from receipt to resolution.
    pub median_resolve_hours: Option<f64>,
    /// Reports with a rating.
    pub rated: u64,
    /// Mean rating, 1–5.
    pub rating_avg: Option<f64>,
    /// Rated 4 or 5, percent of rated.
    pub rated_4plus_pct: Option<f64>,
}

impl ReportKpi {
    /// The KPIs of `reports` as of `now_ms` (which only decides what is overdue).
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a Report>, now_ms: i64) -> ReportKpi {
        let mut kpi = ReportKpi::default();
        let mut on_time = 0_u64;
        let mut hours = Vec::new();
        let mut ratings = Vec::new();
        for report in reports {
            kpi.received += 1;
            if report.status.is_open() {
                kpi.open += 1;
            }
            if report.is_overdue(now_ms) {
                kpi.overdue += 1;
            }
            match report.status {
                Status::Resolved => {
                    kpi.resolved += 1;
                    if report
                        .closed_ms
                        .is_some_and(|closed| closed <= report.expected_ms)
                    {
                        on_time += 1;
                    }
                    hours.extend(report.resolve_hours());
                }
                Status::Rejected | Status::Duplicate => kpi.rejected += 1,
                _ => {}
            }
            ratings.extend(report.rating);
        }
        kpi.resolved_on_time_pct = percent(on_time, kpi.resolved);
        kpi.median_resolve_hours = median(&mut hours).map(round2);
        kpi.rated = ratings.len() as u64;
        if !ratings.is_empty() {
            let sum: u64 = ratings.iter().map(|r| u64::from(*r)).sum();
            kpi.rating_avg = Some(round2(sum as f64 / ratings.len() as f64));
            let high = ratings.iter().filter(|r| **r >= 4).count() as u64;
            kpi.rated_4plus_pct = percent(high, kpi.rated);
        }
        kpi
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round2(100.0 * part as f64 / whole as f64))
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
