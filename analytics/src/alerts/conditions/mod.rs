//! The rule types (README.md "Alerts"). Each has a spec, the rule's table as written, read with
//! serde so that a key of another type (or a misspelt one) is refused, and a condition: the
//! spec's checked parameters with the rule's trackers, behind the one [`Condition`] trait the
//! evaluator drives. Adding a type means a spec, its condition, and a variant of [`RuleSpec`].

mod anomaly;
mod rate_of_change;
mod report_burst;
mod stale;
mod subjects;
mod threshold;
mod values;

pub use anomaly::{AnomalySpec, Direction};
pub use rate_of_change::RateOfChangeSpec;
pub use report_burst::ReportBurstSpec;
pub use stale::StaleSpec;
pub use threshold::{Limit, ThresholdSpec};

use super::alert::Alert;
use super::message::Wording;
use super::metric::Metric;
use super::trackers::Holding;
use crate::snapshot::SnapshotError;
use ioc_ingest::{Event, Kind};
use serde::Deserialize;
use std::fmt;

/// A rule's condition: its checked parameters and its trackers, one per subject (a sensor, an
/// area or a report cluster). The evaluator feeds it every journaled event, checks it on the
/// clock, and brings the alert book in line with its holdings (docs/guarantees.md).
pub trait Condition: fmt::Debug + Send {
    /// This rule's trackers, encoded for a snapshot of the analytics state.
    fn save_trackers(&self) -> Result<Vec<u8>, SnapshotError>;

    /// Takes back the trackers that [`Condition::save_trackers`] encoded for the same rule.
    fn load_trackers(&mut self, saved: &[u8]) -> Result<(), SnapshotError>;

    /// Whether events of `kind` can move this rule's trackers: the evaluator feeds a rule only
    /// the kinds it watches, and [`Condition::observe`] must do nothing with any other.
    fn watches(&self, kind: Kind) -> bool;

    /// Takes one journaled event, live and in replay alike. `aqi` is the source's hourly VN_AQI
    /// after this event (air quality only); `now_ms` the wall clock.
    fn observe(&mut self, event: &Event, aqi: Option<f64>, now_ms: i64);

    /// Live only: moves what the clock alone decides (a sensor's silence, a cluster thinning
    /// out) to `now_ms`; nothing for rules that only readings move.
    fn check(&mut self, _now_ms: i64) {}

    /// Where every subject's condition stands.
    fn holdings(&mut self) -> Vec<(&str, &mut Holding)>;

    /// Where one subject's condition stands, if the subject has a tracker.
    fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding>;

    /// Whether an open alert whose subject has no tracker is over: only a burst's cluster
    /// disappears when its condition clears; other trackers are rebuilt by replay.
    fn missing_means_clear(&self) -> bool {
        false
    }

    /// A raise of this rule reached the journal (live and in replay).
    fn raised(&mut self, _alert: &Alert) {}

    /// The metric whose archived hourly means seed this rule's baseline, with the weeks of
    /// history it may use; `None` for rules without a baseline.
    fn baseline(&self) -> Option<(&Metric, u32)> {
        None
    }

    /// Adds an archived hour of an area to the baseline (start-up, before replay).
    fn seed_baseline(&mut self, _area: &str, _hour_start_ms: i64, _mean: f64, _readings: u32) {}

    /// The `metric` of this rule's alert about `subject`.
    fn alert_metric(&self, subject: &str) -> String;

    /// What this rule's alert about `subject` says, besides the numbers of its firing.
    fn wording<'a>(&'a self, subject: &'a str) -> Wording<'a>;
}

/// A rule's type-specific keys as written: one spec per rule type.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSpec {
    /// `type = "threshold"`.
    Threshold(ThresholdSpec),
    /// `type = "rate_of_change"`.
    RateOfChange(RateOfChangeSpec),
    /// `type = "stale"`.
    Stale(StaleSpec),
    /// `type = "report_burst"`.
    ReportBurst(ReportBurstSpec),
    /// `type = "anomaly"`.
    Anomaly(AnomalySpec),
}

impl RuleSpec {
    /// The type names as the file writes them.
    pub const TYPES: [&'static str; 5] = [
        ThresholdSpec::TYPE,
        RateOfChangeSpec::TYPE,
        StaleSpec::TYPE,
        ReportBurstSpec::TYPE,
        AnomalySpec::TYPE,
    ];

    /// Reads the type-specific keys of a rule of type `type_name` (every key but the common
    /// ones), refusing any key the type does not have; `None` for an unknown type.
    pub(super) fn read<'de, D>(type_name: &str, keys: D) -> Option<Result<RuleSpec, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        Some(match type_name {
            ThresholdSpec::TYPE => ThresholdSpec::deserialize(keys).map(RuleSpec::Threshold),
            RateOfChangeSpec::TYPE => {
                RateOfChangeSpec::deserialize(keys).map(RuleSpec::RateOfChange)
            }
            StaleSpec::TYPE => StaleSpec::deserialize(keys).map(RuleSpec::Stale),
            ReportBurstSpec::TYPE => ReportBurstSpec::deserialize(keys).map(RuleSpec::ReportBurst),
            AnomalySpec::TYPE => AnomalySpec::deserialize(keys).map(RuleSpec::Anomaly),
            _ => return None,
        })
    }

    /// The rule type's name as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleSpec::Threshold(_) => ThresholdSpec::TYPE,
            RuleSpec::RateOfChange(_) => RateOfChangeSpec::TYPE,
            RuleSpec::Stale(_) => StaleSpec::TYPE,
            RuleSpec::ReportBurst(_) => ReportBurstSpec::TYPE,
            RuleSpec::Anomaly(_) => AnomalySpec::TYPE,
        }
    }

    /// Checks the spec (ranges, metrics, durations) into its condition, with no readings yet.
    pub fn condition(&self) -> Result<Box<dyn Condition>, String> {
        Ok(match self {
            RuleSpec::Threshold(spec) => Box::new(spec.check()?),
            RuleSpec::RateOfChange(spec) => Box::new(spec.check()?),
            RuleSpec::Stale(spec) => Box::new(spec.check()?),
            RuleSpec::ReportBurst(spec) => Box::new(spec.check()?),
            RuleSpec::Anomaly(spec) => Box::new(spec.check()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::RuleSet;
    use ioc_ingest::{Event, Kind, Values};
    use serde_json::json;

    /// An event of `kind` carrying every field some rule watches, placed and categorised.
    fn event(kind: Kind, n: i64) -> Event {
        let mut values = Values::new();
        for (name, value) in [
            ("speed", json!(5.0)),
            ("pm25", json!(400.0)),
            ("level_cm", json!(90_000.0 + n as f64)),
            ("danger_cm", json!(1.0)),
            ("alert_cm", json!(1.0)),
            ("laeq", json!(150.0)),
            ("service_code", json!("flooding")),
        ] {
            values.insert(name, value);
        }
        Event {
            id: format!("e-{n}"),
            source: "s-1".into(),
            kind,
            area: "hoan-kiem".into(),
            ts_ms: 1_795_338_000_000 + n * 60_000,
            lat: Some(21.0285),
            lon: Some(105.8542),
            values,
        }
    }

    #[test]
    fn a_rule_takes_nothing_from_the_kinds_it_does_not_watch_and_something_from_those_it_does() {
        for rule in RuleSet::defaults().rules {
            let mut tracked_a_watched_kind = false;
            for kind in Kind::EVERY {
                let Ok(mut condition) = rule.spec.condition() else {
                    panic!("default rule {} does not check", rule.id)
                };
                for n in 0..30 {
                    condition.observe(&event(kind, n), Some(400.0), 1_795_338_000_000);
                }
                let trackers = condition.holdings().len();
                if condition.watches(kind) {
                    tracked_a_watched_kind |= trackers > 0;
                } else {
                    assert_eq!(trackers, 0, "rule {} took {kind:?} events", rule.id);
                }
            }
            // A burst needs reports spread over a cluster; every sensor rule tracks its source
            // or area from the first reading.
            if rule.spec.type_name() != super::ReportBurstSpec::TYPE {
                assert!(tracked_a_watched_kind, "rule {} tracked nothing", rule.id);
            }
        }
    }
}
