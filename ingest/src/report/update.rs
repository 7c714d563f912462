//! Operators' changes to a report, journaled as `report_update` events: the fields their
//! `values` hold, built and read in one place.

use crate::event::{Event, Kind, Values};
use serde_json::Value;

/// What an operator did to a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Dispatched to an agency (received → assigned, or reassigned).
    Assign {
        /// The responsible agency.
        agency: String,
    },
    /// Moved to `in_progress`, `resolved`, `rejected` or `duplicate`.
    Status {
        /// The new internal status.
        status: String,
    },
    /// The citizen's rating, 1 to 5, after resolution.
    Rate {
        /// The rating.
        rating: u8,
    },
}

/// One journaled change: which report, what, by whom, with an optional note.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The report's `service_request_id`.
    pub report_id: String,
    /// The change.
    pub change: Change,
    /// Who made it (token subject).
    pub by: String,
    /// A note shown as Open311 `status_notes`.
    pub note: Option<String>,
}

impl Update {
    /// The event that journals this change, made at `ts_ms`, placed in the report's area.
    pub fn into_event(self, id: String, area: String, ts_ms: i64) -> Event {
        let mut values = Values::with_capacity(5);
        values.insert("report_id", Value::String(self.report_id));
        values.insert("by", Value::String(self.by.clone()));
        match self.change {
            Change::Assign { agency } => {
                values.insert("action", "assign".into());
                values.insert("agency", Value::String(agency));
            }
            Change::Status { status } => {
                values.insert("action", "status".into());
                values.insert("status", Value::String(status));
            }
            Change::Rate { rating } => {
                values.insert("action", "rate".into());
                values.insert("rating", Value::from(rating));
            }
        }
        if let Some(note) = self.note {
            values.insert("note", Value::String(note));
        }
        Event {
            id,
            source: format!("operator:{}", self.by),
            kind: Kind::ReportUpdate,
            area,
            ts_ms,
            lat: None,
            lon: None,
            values,
        }
    }

    /// Reads a journaled `report_update` event back; `None` if it is not one.
    pub fn from_event(event: &Event) -> Option<Update> {
        if event.kind != Kind::ReportUpdate {
            return None;
        }
        let text = |key: &str| event.text(key).map(str::to_string);
        let change = match text("action")?.as_str() {
            "assign" => Change::Assign {
                agency: text("agency")?,
            },
            "status" => Change::Status {
                status: text("status")?,
            },
            "rate" => Change::Rate {
                rating: u8::try_from(event.values.get("rating")?.as_u64()?).ok()?,
            },
            _ => return None,
        };
        Some(Update {
            report_id: text("report_id")?,
            change,
            by: text("by").unwrap_or_default(),
            note: text("note"),
        })
    }
}
