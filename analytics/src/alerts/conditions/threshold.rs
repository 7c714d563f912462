//! `threshold` rules: a sensor's value beyond a limit for a duration, clearing back past a
//! margin (README.md "Alerts").

use super::super::message::Wording;
use super::super::metric::Metric;
use super::super::trackers::{Holding, ThresholdTracker};
use super::Condition;
use super::subjects::Subjects;
use super::values::{finite, optional_duration, reading};
use crate::snapshot::{self, SnapshotError};
use ioc_ingest::{Event, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a threshold lies.
#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// A fixed number.
    Fixed(f64),
    /// Another field of the same event (a gauge's own `danger_cm`).
    Field(String),
}

/// The keys of a `threshold` rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    /// What is watched: `aqi` or `<kind>.<field>`.
    pub metric: String,
    /// Raise above this number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// Raise below this number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// Raise above this other field of the same reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above_field: Option<String>,
    /// Raise below this other field of the same reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_field: Option<String>,
    /// The value the reading must come back past to clear (a fixed limit only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<f64>,
    /// How far back past the limit the reading must come to clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_margin: Option<f64>,
    /// How long the value must stay beyond the limit (a duration; none: at once).
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
}

impl ThresholdSpec {
    /// The type's name in the file.
    pub const TYPE: &'static str = "threshold";

    /// Checks the keys into the condition, in engine units.
    pub(super) fn check(&self) -> Result<Threshold, String> {
        let metric = Metric::parse(&self.metric)?;
        let (above, limit) = match (
            self.above,
            self.below,
            self.above_field.as_ref(),
            self.below_field.as_ref(),
        ) {
            (Some(value), None, None, None) => (true, Limit::Fixed(finite(value, "above")?)),
            (None, Some(value), None, None) => (false, Limit::Fixed(finite(value, "below")?)),
            (None, None, Some(field), None) => (true, Limit::Field(field.clone())),
            (None, None, None, Some(field)) => (false, Limit::Field(field.clone())),
            _ => {
                return Err(
                    "give exactly one of `above`, `below`, `above_field`, `below_field`".into(),
                );
            }
        };
        let clear_margin = match (self.clear, self.clear_margin, &limit) {
            (Some(_), Some(_), _) => {
                return Err("give `clear` or `clear_margin`, not both".into());
            }
            (Some(clear), None, Limit::Fixed(limit)) => {
                let clear = finite(clear, "clear")?;
                let margin = if above { limit - clear } else { clear - limit };
                if margin < 0.0 {
                    return Err(format!(
                        "`clear` {clear} must lie on the normal side of the limit {limit}"
                    ));
                }
                margin
            }
            (Some(_), None, Limit::Field(_)) => {
                return Err("with a field limit, use `clear_margin` instead of `clear`".into());
            }
            (None, Some(margin), _) if margin >= 0.0 && margin.is_finite() => margin,
            (None, Some(_), _) => return Err("`clear_margin` must be a number ≥ 0".into()),
            (None, None, _) => 0.0,
        };
        Ok(Threshold {
            metric,
            above,
            limit,
            clear_margin,
            for_ms: optional_duration(self.for_.as_deref(), "for", 0)?,
            sensors: Subjects::default(),
        })
    }
}

/// A threshold rule's condition: its limit in engine units and a tracker per sensor.
#[derive(Debug)]
pub(super) struct Threshold {
    /// What is watched, per source.
    metric: Metric,
    /// `true` for "above", `false` for "below".
    above: bool,
    /// The limit.
    limit: Limit,
    /// How far back past the limit the value must come to clear (hysteresis).
    clear_margin: f64,
    /// How long the value must stay beyond the limit before the alert is raised.
    for_ms: i64,
    sensors: Subjects<ThresholdTracker>,
}

impl Condition for Threshold {
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
        let Some(reading) = reading(event, &self.metric, aqi) else {
            return;
        };
        let limit = match &self.limit {
            Limit::Fixed(value) => *value,
            Limit::Field(field) => match event.values.get(field).and_then(Value::as_f64) {
                Some(value) => value,
                None => return,
            },
        };
        self.sensors
            .with_tracker(&event.source, Default::default, |tracker| {
                tracker.observe(&reading, limit, self.above, self.clear_margin, self.for_ms);
            });
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
            template: if self.above {
                "{metric} tại {source} ({area}) là {value}, vượt ngưỡng {threshold} liên tục {duration}"
            } else {
                "{metric} tại {source} ({area}) là {value}, dưới ngưỡng {threshold} liên tục {duration}"
            },
            metric: Some(&self.metric),
            duration_ms: self.for_ms,
            category: "",
            radius_m: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::rules::RuleSet;
    use super::super::RuleSpec;
    use super::*;

    #[test]
    fn a_threshold_rule_is_read_in_engine_units() {
        let rules = RuleSet::parse(
            "[[rule]]\nid = \"pm\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 150\nclear = 130\nfor = \"10m\"\nseverity = \"major\"\n",
        )
        .expect("valid");
        let RuleSpec::Threshold(spec) = &rules.rules[0].spec else {
            panic!("a threshold spec: {:?}", rules.rules[0].spec);
        };
        let threshold = spec.check().expect("checked");
        assert_eq!(
            threshold.metric,
            Metric::Field {
                kind: Kind::AirQuality,
                field: "pm25".into()
            }
        );
        assert!(threshold.above);
        assert_eq!(threshold.limit, Limit::Fixed(150.0));
        assert_eq!(threshold.clear_margin, 20.0);
        assert_eq!(threshold.for_ms, 600_000);
    }
}
