//! One report as the register holds it, and its internal lifecycle status.

use serde::Serialize;
use serde_json::{Map, Value};

/// Internal lifecycle (docs/open311.md), richer than Open311's open/closed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Posted, not yet dispatched.
    Received,
    /// Dispatched to an agency.
    Assigned,
    /// The agency is working on it.
    InProgress,
    /// Done.
    Resolved,
    /// Refused (not the city's business, not a real problem).
    Rejected,
    /// Same problem as another report.
    Duplicate,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 6] = [
        Status::Received,
        Status::Assigned,
        Status::InProgress,
        Status::Resolved,
        Status::Rejected,
        Status::Duplicate,
    ];

    /// The snake_case name used in events, views and the operator API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Rejected => "rejected",
            Status::Duplicate => "duplicate",
        }
    }

    /// Parses a status name.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the city still owes the citizen an answer (Open311 `open`).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Received | Status::Assigned | Status::InProgress
        )
    }

    /// The Open311 status: `open` or `closed`.
    pub fn open311(self) -> &'static str {
        if self.is_open() { "open" } else { "closed" }
    }
}

/// A report: what the citizen sent, where it stands, and its history.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Report {
    /// Public `service_request_id`.
    pub id: String,
    /// Journal event id of the report.
    pub event_id: String,
    /// Category.
    pub service_code: String,
    /// Area id (or `unplaced`).
    pub area: String,
    /// Latitude, when given.
    pub lat: Option<f64>,
    /// Longitude, when given.
    pub lon: Option<f64>,
    /// Citizen's text, stored as text.
    pub description: Option<String>,
    /// Photo link.
    pub media_url: Option<String>,
    /// Address as the citizen wrote it.
    pub address: Option<String>,
    /// Category attributes (flood depth …).
    pub attributes: Map<String, Value>,
    /// Reporter's e-mail: admin eyes only.
    pub email: Option<String>,
    /// Reporter's phone: masked outside the admin API.
    pub phone: Option<String>,
    /// Reporter's first name: admin eyes only.
    pub first_name: Option<String>,
    /// Reporter's last name: admin eyes only.
    pub last_name: Option<String>,
    /// App's device id.
    pub device_id: Option<String>,
    /// App's account id.
    pub account_id: Option<String>,
    /// When it was received (event time), epoch ms.
    pub requested_ms: i64,
    /// When it last changed, epoch ms.
    pub updated_ms: i64,
    /// Received + the category's SLA, epoch ms.
    pub expected_ms: i64,
    /// Where it stands.
    pub status: Status,
    /// Agency responsible, once assigned.
    pub agency: Option<String>,
    /// Latest operator note (Open311 `status_notes`).
    pub status_notes: Option<String>,
    /// When it was closed (resolved, rejected or duplicate), epoch ms.
    pub closed_ms: Option<i64>,
    /// Citizen's rating 1–5, after resolution.
    pub rating: Option<u8>,
    /// Every change: time, action, detail, by whom.
    pub history: Vec<HistoryEntry>,
}

/// One change in a report's history.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    /// When, RFC 3339.
    pub at: String,
    /// `assign`, `status` or `rate`.
    pub action: String,
    /// The agency, the new status or the rating.
    pub value: Value,
    /// Who (token subject).
    pub by: String,
    /// The note given with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Report {
    /// Whether it is open past its expected time at `now_ms`.
    pub fn is_overdue(&self, now_ms: i64) -> bool {
        self.status.is_open() && now_ms > self.expected_ms
    }

    /// Hours from receipt to resolution, for resolved reports.
    pub fn resolve_hours(&self) -> Option<f64> {
        match (self.status, self.closed_ms) {
            (Status::Resolved, Some(closed)) => {
                Some((closed - self.requested_ms) as f64 / 3_600_000.0)
            }
            _ => None,
        }
    }
}

/// A phone number with all but its first two and last two digits starred (`09******78`).
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return "*".repeat(digits.len());
    }
    let mut masked: String = digits[..2].iter().collect();
    masked.push_str(&"*".repeat(digits.len() - 4));
    masked.extend(&digits[digits.len() - 2..]);
    masked
}

/// An e-mail address with its local part reduced to its first character (`n***@example.vn`).
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}
