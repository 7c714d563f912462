//! Selecting reports: the filters of Open311 `GET requests` and of the `reports` view.

use super::record::{Report, Status};
use super::register::Register;

/// Most reports one Open311 list answers with (docs/open311.md).
pub const MAX_RESULTS: usize = 1000;

/// The default look-back of a list without dates (docs/open311.md: the last 90 days).
pub const DEFAULT_WINDOW_MS: i64 = 90 * 24 * 3600 * 1000;

/// Which reports to list. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportQuery {
    /// These ids only; when set, every other filter is ignored (Open311).
    pub ids: Option<Vec<String>>,
    /// Categories.
    pub service_codes: Vec<String>,
    /// Internal statuses (`open`/`closed` are expanded by the caller).
    pub statuses: Vec<Status>,
    /// Areas.
    pub areas: Vec<String>,
    /// Received at or after, epoch ms.
    pub start_ms: Option<i64>,
    /// Received at or before, epoch ms.
    pub end_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl ReportQuery {
    /// Whether a report passes the filters (ids excepted).
    fn admits(&self, report: &Report) -> bool {
        (self.service_codes.is_empty() || self.service_codes.contains(&report.service_code))
            && (self.statuses.is_empty() || self.statuses.contains(&report.status))
            && (self.areas.is_empty() || self.areas.contains(&report.area))
            && self
                .start_ms
                .is_none_or(|start| report.requested_ms >= start)
            && self.end_ms.is_none_or(|end| report.requested_ms <= end)
    }

    /// The matching reports, newest first, at most `limit`.
    pub fn run<'a>(&self, register: &'a Register) -> Vec<&'a Report> {
        let mut found: Vec<&Report> = match &self.ids {
            Some(ids) => {
                let mut seen = std::collections::BTreeSet::new();
                ids.iter()
                    .filter(|id| seen.insert(id.as_str()))
                    .filter_map(|id| register.get(id))
                    .collect()
            }
            None => register.all().filter(|r| self.admits(r)).collect(),
        };
        found.sort_by(|a, b| {
            b.requested_ms
                .cmp(&a.requested_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        found.truncate(self.limit);
        found
    }
}

/// The statuses an Open311 `status` value stands for (`open`, `closed`, or an internal name).
pub fn statuses_of(name: &str) -> Option<Vec<Status>> {
    match name {
        "open" => Some(Status::ALL.into_iter().filter(|s| s.is_open()).collect()),
        "closed" => Some(Status::ALL.into_iter().filter(|s| !s.is_open()).collect()),
        "all" => Some(Vec::new()),
        other => Status::parse(other).map(|s| vec![s]),
    }
}
