//! Alerts (docs/guarantees.md): rules from a TOML file, evaluated on every micro-batch and on a clock;
//! a lifecycle `active → acknowledged → resolved` whose every transition is a journal event.

mod alert;
mod book;
mod conditions;
mod duration;
mod evaluate;
mod message;
mod metric;
mod rules;
pub mod trackers;

pub use alert::{ALERT_SOURCE, Alert, AlertState, Transition, alert_id, transition_event_id};
pub use book::{AlertBook, AlertChangeError, Applied};
pub use conditions::{
    AnomalySpec, Condition, Direction, Limit, RateOfChangeSpec, ReportBurstSpec, RuleSpec,
    StaleSpec, ThresholdSpec,
};
pub use duration::parse_duration_ms;
pub use evaluate::Evaluator;
pub use message::Wording;
pub use metric::Metric;
pub use rules::{DEFAULT_RULES, Rule, RuleProblem, RuleSet, RulesError, Severity};
pub use trackers::{distance_m, hour_of_week};
