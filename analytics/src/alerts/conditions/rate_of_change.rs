//! `rate_of_change` rules: a sensor's value rising (or falling) by a set amount within a span
//! (README.md "Alerts").

use super::super::message::Wording;
use super::super::metric::Metric;
use super::super::trackers::{Holding, RateTracker};
use super::Condition;
use super::subjects::Subjects;
use super::values::{duration, finite, reading};
use crate::snapshot::{self, SnapshotError};
use ioc_ingest::{Event, Kind};
use serde::{Deserialize, Serialize};

/// The keys of a `rate_of_change` rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateOfChangeSpec {
    /// What is watched: `aqi` or `<kind>.<field>`.
    pub metric: String,
    /// The rise that raises the alert (negative: a fall of that size).
    pub rise: f64,
    /// The look-back span (a duration).
    pub within: String,
    /// The change under which the alert clears (default: half of `rise`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_rise: Option<f64>,
}

impl RateOfChangeSpec {
    /// The type's name in the file.
    pub const TYPE: &'static str = "rate_of_change";

    /// Checks the keys into the condition, in engine units.
    pub(super) fn check(&self) -> Result<RateOfChange, String> {
        let metric = Metric::parse(&self.metric)?;
        let rise = finite(self.rise, "rise")?;
        if rise == 0.0 {
            return Err("`rise` must not be 0".into());
        }
        let clear_rise = match self.clear_rise {
            Some(value) => finite(value, "clear_rise")?,
            None => rise / 2.0,
        };
        if clear_rise.abs() > rise.abs() || clear_rise.signum() != rise.signum() {
            return Err("`clear_rise` must lie between 0 and `rise`".into());
        }
        Ok(RateOfChange {
            metric,
            rise,
            within_ms: duration(&self.within, "within")?,
            clear_rise,
            sensors: Subjects::default(),
        })
    }
}

/// A rate-of-change rule's condition: its parameters in engine units and a tracker per sensor.
#[derive(Debug)]
pub(super) struct RateOfChange {
    /// What is watched, per source.
    metric: Metric,
    /// The rise that raises the alert (negative: a fall of that size).
    rise: f64,
    /// The look-back span.
    within_ms: i64,
    /// The change under which the alert clears, once it stayed there for `within_ms`.
    clear_rise: f64,
    sensors: Subjects<RateTracker>,
}

impl Condition for RateOfChange {
    fn save_trackers(&self) -> Result<Vec<u8>, SnapshotError> {
        snapshot::encode(&self.sensors)
    }

    fn load_trackers(&mut self, saved: &[u8]) -> Result<(), SnapshotError> {
        self.sensors = snapshot::decode(saved)?;
        Ok(())
    }

    fn watches(&self, kind: Kind) -> bool {
        kind == self.metric.kind()
    }

    fn observe(&mut self, event: &Event, aqi: Option<f64>, _now_ms: i64) {
        if let Some(reading) = reading(event, &self.metric, aqi) {
            self.sensors
                .with_tracker(&event.source, Default::default, |tracker| {
                    tracker.observe(&reading, self.rise, self.clear_rise, self.within_ms);
                });
        }
    }

    fn holdings(&mut self) -> Vec<(&str, &mut Holding)> {
        self.sensors.holdings()
    }

    fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding> {
        self.sensors.holding_mut(subject)
    }

    fn alert_metric(&self, _subject: &str) -> String {
        self.metric.to_string()
    }

    fn wording<'a>(&'a self, _subject: &'a str) -> Wording<'a> {
        Wording {
            template: "{metric} tại {source} ({area}) thay đổi {value} trong {duration} (ngưỡng {threshold})",
            metric: Some(&self.metric),
            duration_ms: self.within_ms,
            category: "",
            radius_m: 0.0,
        }
    }
}
