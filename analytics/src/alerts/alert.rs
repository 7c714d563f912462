//! An alert and the journal events that carry its transitions.
//!
//! Every transition is an [`Event`] of kind [`Kind::Alert`] in the journal, so alerts come back
//! after a restart exactly as they were, and replay reaches the same book as the live run.

use super::rules::Severity;
use ioc_ingest::event::format_ts;
use ioc_ingest::{Event, Kind, Values};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Source name of the engine's own alert events in the journal.
pub const ALERT_SOURCE: &str = "ioc-alerts";

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised, nobody has taken it yet.
    Active,
    /// An operator has taken it.
    Acknowledged,
    /// Over: its condition cleared, or an operator closed it.
    Resolved,
}

impl AlertState {
    /// Every state, in lifecycle order.
    pub const ALL: [AlertState; 3] = [
        AlertState::Active,
        AlertState::Acknowledged,
        AlertState::Resolved,
    ];

    /// The snake_case name, as views and metrics show it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Active => "active",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(text: &str) -> Option<AlertState> {
        match text {
            "active" => Some(AlertState::Active),
            "acknowledged" => Some(AlertState::Acknowledged),
            "resolved" => Some(AlertState::Resolved),
            _ => None,
        }
    }
}

/// One alert, as views and the API show it (docs/views.md `alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id: `AL-<raised ms>-<hash of rule and subject>`.
    pub id: String,
    /// The rule that raised it.
    pub rule: String,
    /// The rule's type (`threshold`, `rate_of_change`, `stale`, `report_burst`, `anomaly`).
    #[serde(rename = "type")]
    pub rule_type: String,
    /// How urgent it is.
    pub severity: Severity,
    /// Lifecycle state.
    pub state: AlertState,
    /// What it is about: a source id, an area id, or a report cluster.
    pub subject: String,
    /// Area it belongs to.
    pub area: String,
    /// The sensor, when the rule watches sensors.
    pub source: Option<String>,
    /// The metric watched (`water_level.level_cm`, `aqi`, report category …).
    pub metric: String,
    /// The value that raised it.
    pub value: Option<f64>,
    /// The limit it crossed.
    pub threshold: Option<f64>,
    /// Vietnamese text for the operator.
    pub message: String,
    /// Where, for alerts with a place (report clusters, located sensors).
    pub lat: Option<f64>,
    /// Where, for alerts with a place.
    pub long: Option<f64>,
    /// Raised at (RFC 3339).
    pub raised_at: String,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// When it was acknowledged.
    pub acked_at: Option<String>,
    /// When it was resolved.
    pub resolved_at: Option<String>,
    /// Who resolved it (`None` when the engine did because its condition cleared).
    pub resolved_by: Option<String>,
    /// The value when it was resolved automatically.
    pub resolved_value: Option<f64>,
}

impl Alert {
    /// Whether it still needs attention.
    pub fn is_open(&self) -> bool {
        self.state != AlertState::Resolved
    }

    /// Its JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The id of an alert raised by `rule` for `subject` at `raised_ms`.
pub fn alert_id(rule: &str, subject: &str, raised_ms: i64) -> String {
    // FNV-1a: stable across builds and platforms (the id is stored in the journal).
    let mut hash: u32 = 0x811c_9dc5;
    for byte in rule.bytes().chain([0]).chain(subject.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("AL-{raised_ms}-{hash:08x}")
}

/// The journal event id of an alert's transition (`raise`, `ack` or `resolve`): one id per
/// alert and action, so the same transition journaled twice — by two engine instances, or an
/// operator and the engine at once — is stored once, and the writer whose insert lost knows.
pub fn transition_event_id(alert_id: &str, action: &str) -> String {
    format!("{alert_id}:{action}")
}

impl Alert {
    /// The journal event id of the transition that put the alert in its current state.
    pub fn last_transition_event_id(&self) -> String {
        let action = match self.state {
            AlertState::Active => "raise",
            AlertState::Acknowledged => "ack",
            AlertState::Resolved => "resolve",
        };
        transition_event_id(&self.id, action)
    }
}

/// A change to an alert, as written to the journal.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A new alert.
    Raise(Box<Alert>),
    /// An operator took it.
    Acknowledge {
        /// Alert id.
        id: String,
        /// Operator.
        by: String,
        /// When, epoch ms.
        at_ms: i64,
    },
    /// It is over.
    Resolve {
        /// Alert id.
        id: String,
        /// The operator, or `None` when its condition cleared.
        by: Option<String>,
        /// The value that cleared it.
        value: Option<f64>,
        /// When, epoch ms.
        at_ms: i64,
    },
}

impl Transition {
    /// The alert it is about.
    pub fn alert_id(&self) -> &str {
        match self {
            Transition::Raise(alert) => &alert.id,
            Transition::Acknowledge { id, .. } | Transition::Resolve { id, .. } => id,
        }
    }

    /// The journal event; its id makes a repeated transition count once.
    pub fn to_event(&self, area: &str, now_ms: i64) -> Event {
        let (action, values) = match self {
            Transition::Raise(alert) => ("raise", json!({ "alert": alert.to_json() })),
            Transition::Acknowledge { id, by, .. } => ("ack", json!({ "alert_id": id, "by": by })),
            Transition::Resolve { id, by, value, .. } => (
                "resolve",
                json!({ "alert_id": id, "by": by, "value": value }),
            ),
        };
        let mut values = match values {
            Value::Object(map) => Values::from(map),
            _ => Values::new(),
        };
        values.insert("action", json!(action));
        Event {
            id: transition_event_id(self.alert_id(), action),
            source: ALERT_SOURCE.to_string(),
            kind: Kind::Alert,
            area: area.to_string(),
            ts_ms: now_ms,
            lat: None,
            lon: None,
            values,
        }
    }

    /// Reads a journaled alert event back; `None` for anything unreadable.
    pub fn from_event(event: &Event) -> Option<Transition> {
        if event.kind != Kind::Alert {
            return None;
        }
        let text = |key: &str| event.text(key).map(str::to_string);
        match event.text("action")? {
            "raise" => {
                let alert: Alert =
                    serde_json::from_value(event.values.get("alert")?.clone()).ok()?;
                Some(Transition::Raise(Box::new(alert)))
            }
            "ack" => Some(Transition::Acknowledge {
                id: text("alert_id")?,
                by: text("by")?,
                at_ms: event.ts_ms,
            }),
            "resolve" => Some(Transition::Resolve {
                id: text("alert_id")?,
                by: text("by"),
                value: event.values.get("value").and_then(Value::as_f64),
                at_ms: event.ts_ms,
            }),
            _ => None,
        }
    }
}

/// Formats epoch ms for an alert field.
pub(crate) fn stamp(ms: i64) -> String {
    format_ts(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Alert {
        Alert {
            id: alert_id("flood", "gauge-1", 1_700_000_000_000),
            rule: "flood".into(),
            rule_type: "threshold".into(),
            severity: Severity::Critical,
            state: AlertState::Active,
            subject: "gauge-1".into(),
            area: "hoan-kiem".into(),
            source: Some("gauge-1".into()),
            metric: "water_level.level_cm".into(),
            value: Some(120.0),
            threshold: Some(100.0),
            message: "Mực nước".into(),
            lat: None,
            long: None,
            raised_at: stamp(1_700_000_000_000),
            acked_by: None,
            acked_at: None,
            resolved_at: None,
            resolved_by: None,
            resolved_value: None,
        }
    }

    #[test]
    fn ids_are_stable() {
        assert_eq!(
            alert_id("flood", "gauge-1", 5),
            alert_id("flood", "gauge-1", 5)
        );
        assert_ne!(
            alert_id("flood", "gauge-1", 5),
            alert_id("flood", "gauge-2", 5)
        );
    }

    #[test]
    fn transitions_round_trip_through_events() {
        let transitions = [
            Transition::Raise(Box::new(sample())),
            Transition::Acknowledge {
                id: "AL-1".into(),
                by: "op".into(),
                at_ms: 7,
            },
            Transition::Resolve {
                id: "AL-1".into(),
                by: None,
                value: Some(3.5),
                at_ms: 7,
            },
        ];
        for transition in transitions {
            let event = transition.to_event("hoan-kiem", 7);
            let json = serde_json::to_string(&event).expect("json");
            let back: Event = serde_json::from_str(&json).expect("event");
            assert_eq!(Transition::from_event(&back), Some(transition));
        }
    }
}
