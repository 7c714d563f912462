//! `anomaly` rules: an area's recent mean far from the same hour-of-week baseline (README.md
//! "Alerts").

use super::super::message::Wording;
use super::super::metric::Metric;
use super::super::trackers::{AnomalyShape, AnomalyTracker, Holding};
use super::Condition;
use super::subjects::Subjects;
use super::values::{finite, optional_duration, reading};
use crate::snapshot::{self, SnapshotError};
use ioc_ingest::{Event, Kind};
use serde::{Deserialize, Serialize};

/// Which side of the baseline counts as anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Unusually high.
    Above,
    /// Unusually low.
    Below,
    /// Either.
    Both,
}

/// The keys of an `anomaly` rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySpec {
    /// What is watched, per area: `<kind>.<field>`.
    pub metric: String,
    /// Which side counts (default: both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Deviation in baseline spreads that raises the alert (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Deviation under which it clears (default `z` − 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_z: Option<f64>,
    /// Span of the recent mean (a duration; default 15 minutes), counted in whole seconds: the
    /// readings of the seconds after the latest second seen minus the span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Weeks of baseline needed before the rule judges anything (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_weeks: Option<u32>,
    /// Floor of the baseline spread as a share of its mean (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_spread: Option<f64>,
}

impl AnomalySpec {
    /// The type's name in the file.
    pub const TYPE: &'static str = "anomaly";

    /// Checks the keys into the condition, in engine units.
    pub(super) fn check(&self) -> Result<Anomaly, String> {
        let metric = Metric::parse(&self.metric)?;
        if metric == Metric::Aqi {
            return Err("anomaly rules watch a field, not `aqi`".into());
        }
        let z = finite(self.z.unwrap_or(3.0), "z")?;
        if z <= 0.0 {
            return Err("`z` must be positive".into());
        }
        let clear_z = finite(self.clear_z.unwrap_or(z - 1.0), "clear_z")?;
        if clear_z < 0.0 || clear_z > z {
            return Err("`clear_z` must lie between 0 and `z`".into());
        }
        Ok(Anomaly {
            metric,
            shape: AnomalyShape {
                direction: self.direction.unwrap_or(Direction::Both),
                z,
                clear_z,
                window_ms: optional_duration(self.window.as_deref(), "window", 15 * 60_000)?,
                min_weeks: self.min_weeks.unwrap_or(2).max(1),
                min_spread: finite(self.min_spread.unwrap_or(0.1), "min_spread")?.max(0.0),
            },
            areas: Subjects::default(),
        })
    }
}

/// An anomaly rule's condition: its parameters in engine units and a tracker per area.
#[derive(Debug)]
pub(super) struct Anomaly {
    /// What is watched, per area.
    metric: Metric,
    /// Direction, deviations, window, weeks needed and spread floor.
    shape: AnomalyShape,
    areas: Subjects<AnomalyTracker>,
}

impl Condition for Anomaly {
    fn save_trackers(&self) -> Result<Vec<u8>, SnapshotError> {
        snapshot::encode(&self.areas)
    }

    fn load_trackers(&mut self, saved: &[u8]) -> Result<(), SnapshotError> {
        self.areas = snapshot::decode(saved)?;
        Ok(())
    }

    fn watches(&self, kind: Kind) -> bool {
        kind == self.metric.kind()
    }

    fn observe(&mut self, event: &Event, aqi: Option<f64>, _now_ms: i64) {
        if let Some(reading) = reading(event, &self.metric, aqi) {
            self.areas
                .with_tracker(&event.area, Default::default, |tracker| {
                    tracker.observe(&event.area, event.ts_ms, reading.value, self.shape);
                });
        }
    }

    fn holdings(&mut self) -> Vec<(&str, &mut Holding)> {
        self.areas.holdings()
    }

    fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding> {
        self.areas.holding_mut(subject)
    }

    /// The metric and `min_weeks` × 4 weeks (at least 8), so the baseline has more than the
    /// weeks it needs to judge.
    fn baseline(&self) -> Option<(&Metric, u32)> {
        Some((&self.metric, self.shape.min_weeks.saturating_mul(4).max(8)))
    }

    fn seed_baseline(&mut self, area: &str, hour_start_ms: i64, mean: f64, readings: u32) {
        self.areas.with_tracker(area, Default::default, |tracker| {
            tracker.seed_hour(hour_start_ms, mean, readings);
        });
    }

    fn alert_metric(&self, _subject: &str) -> String {
        self.metric.to_string()
    }

    fn wording<'a>(&'a self, _subject: &'a str) -> Wording<'a> {
        Wording {
            template: "{metric} tại {area} là {value}, bất thường so với mức thường lệ {reference} của khung giờ này",
            metric: Some(&self.metric),
            duration_ms: self.shape.window_ms,
            category: "",
            radius_m: 0.0,
        }
    }
}
