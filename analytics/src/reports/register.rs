//! The report register: every report and its lifecycle, rebuilt from the journal.
//!
//! State changes only through [`Register::apply`], fed journal events in journal order, and
//! reads only the events' own times, so replay reaches exactly the live state.

use super::record::{HistoryEntry, Report, Status};
use ioc_ingest::report::update::{Change, Update};
use ioc_ingest::{Event, Kind};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Why an operator's change cannot be made to a report (HTTP 409, or 404 for an unknown id).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// No report has this id.
    #[error("no report {0:?}")]
    UnknownReport(String),
    /// The lifecycle does not allow this change now.
    #[error("{0}")]
    Conflict(String),
    /// The change itself is malformed (unknown status, rating out of 1..=5, empty agency).
    #[error("{0}")]
    Invalid(String),
}

/// All reports by `service_request_id`, plus the ids of the open ones per area so that the
/// overview's per-area counts do not scan every report ever received.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Register {
    reports: BTreeMap<String, Report>,
    open_by_area: BTreeMap<String, BTreeSet<String>>,
}

/// The SLA of a category in milliseconds.
pub type SlaLookup<'a> = &'a dyn Fn(&str) -> i64;

impl Register {
    /// Applies a journaled `report` or `report_update` event; other kinds are ignored, and so
    /// is an update that the lifecycle does not allow (it lost a race with another operator).
    pub fn apply(&mut self, event: &Event, sla_ms: SlaLookup<'_>) {
        match event.kind {
            Kind::Report => self.add(event, sla_ms),
            Kind::ReportUpdate => {
                let Some(update) = Update::from_event(event) else {
                    tracing::warn!(id = %event.id, "unreadable report_update ignored");
                    return;
                };
                if let Err(error) = self.change(&update, event.ts_ms) {
                    tracing::debug!(id = %event.id, %error, "report_update not applicable");
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, event: &Event, sla_ms: SlaLookup<'_>) {
        let text = |key: &str| event.text(key).map(str::to_string);
        let id =
            text("service_request_id").unwrap_or_else(|| ioc_ingest::report::request_id(&event.id));
        if self.reports.contains_key(&id) {
            return;
        }
        let service_code = text("service_code").unwrap_or_default();
        let report = Report {
            id: id.clone(),
            event_id: event.id.clone(),
            expected_ms: event.ts_ms.saturating_add(sla_ms(&service_code)),
            service_code,
            area: event.area.clone(),
            lat: event.lat,
            lon: event.lon,
            description: text("description"),
            media_url: text("media_url"),
            address: text("address_string"),
            attributes: event
                .values
                .get("attributes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(Map::new),
            email: text("email"),
            phone: text("phone"),
            first_name: text("first_name"),
            last_name: text("last_name"),
            device_id: text("device_id"),
            account_id: text("account_id"),
            requested_ms: event.ts_ms,
            updated_ms: event.ts_ms,
            status: Status::Received,
            agency: None,
            status_notes: None,
            closed_ms: None,
            rating: None,
            history: Vec::new(),
        };
        self.open_by_area
            .entry(report.area.clone())
            .or_default()
            .insert(id.clone());
        self.reports.insert(id, report);
    }

    /// Open and overdue reports of one area at `now_ms`.
    pub fn open_counts(&self, area: &str, now_ms: i64) -> (u64, u64) {
        let Some(ids) = self.open_by_area.get(area) else {
            return (0, 0);
        };
        let overdue = ids
            .iter()
            .filter_map(|id| self.reports.get(id))
            .filter(|report| report.is_overdue(now_ms))
            .count();
        (ids.len() as u64, overdue as u64)
    }

    /// Whether `change` may be made to report `id` now; the operator API asks before
    /// journaling, and [`Register::apply`] asks again when the event comes back.
    pub fn check(&self, id: &str, change: &Change) -> Result<&Report, ChangeError> {
        let report = self
            .reports
            .get(id)
            .ok_or_else(|| ChangeError::UnknownReport(id.to_string()))?;
        let from = report.status;
        let conflict = |what: &str| {
            Err(ChangeError::Conflict(format!(
                "report {id} is {}: cannot {what}",
                from.as_str()
            )))
        };
        match change {
            Change::Assign { agency } => {
                if agency.trim().is_empty()
                    || agency.chars().count() > 200
                    || agency.chars().any(char::is_control)
                {
                    return Err(ChangeError::Invalid(
                        "agency must be 1 to 200 characters of text".into(),
                    ));
                }
                if !from.is_open() {
                    return conflict("assign a closed report");
                }
            }
            Change::Status { status } => {
                let Some(to) = Status::parse(status) else {
                    return Err(ChangeError::Invalid(format!(
                        "status {status:?} is not one of in_progress, resolved, rejected, duplicate"
                    )));
                };
                let allowed = match to {
                    Status::Received | Status::Assigned => false,
                    Status::InProgress => from == Status::Assigned,
                    Status::Resolved => matches!(from, Status::Assigned | Status::InProgress),
                    Status::Rejected | Status::Duplicate => from.is_open(),
                };
                if !allowed {
                    return conflict(&format!("move to {}", to.as_str()));
                }
            }
            Change::Rate { rating } => {
                if !(1..=5).contains(rating) {
                    return Err(ChangeError::Invalid("rating must be 1 to 5".into()));
                }
                if from != Status::Resolved {
                    return conflict("rate a report that is not resolved");
                }
                if report.rating.is_some() {
                    return conflict("rate it again: it is already rated");
                }
            }
        }
        Ok(report)
    }

    fn change(&mut self, update: &Update, ts_ms: i64) -> Result<(), ChangeError> {
        self.check(&update.report_id, &update.change)?;
        let Some(report) = self.reports.get_mut(&update.report_id) else {
            return Err(ChangeError::UnknownReport(update.report_id.clone()));
        };
        let (action, value) = match &update.change {
            Change::Assign { agency } => {
                report.agency = Some(agency.clone());
                report.status = Status::Assigned;
                ("assign", json!(agency))
            }
            Change::Status { status } => {
                if let Some(to) = Status::parse(status) {
                    report.status = to;
                    if !to.is_open() {
                        report.closed_ms = Some(ts_ms);
                        if let Some(ids) = self.open_by_area.get_mut(&report.area) {
                            ids.remove(&report.id);
                        }
                    }
                }
                ("status", json!(status))
            }
            Change::Rate { rating } => {
                report.rating = Some(*rating);
                ("rate", json!(rating))
            }
        };
        if update.note.is_some() {
            report.status_notes.clone_from(&update.note);
        }
        report.updated_ms = report.updated_ms.max(ts_ms);
        report.history.push(HistoryEntry {
            at: ioc_ingest::event::format_ts(ts_ms),
            action: action.into(),
            value,
            by: update.by.clone(),
            note: update.note.clone(),
        });
        Ok(())
    }

    /// The report with this id.
    pub fn get(&self, id: &str) -> Option<&Report> {
        self.reports.get(id)
    }

    /// Every report, in id order.
    pub fn all(&self) -> impl Iterator<Item = &Report> {
        self.reports.values()
    }

    /// Number of reports.
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    /// Whether there is no report yet.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }
}
