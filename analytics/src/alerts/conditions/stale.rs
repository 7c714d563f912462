//! `stale` rules: no reading from a sensor for a while, judged against the wall clock
//! (README.md "Alerts").

use super::super::alert::Alert;
use super::super::message::Wording;
use super::super::trackers::{Holding, StaleTracker};
use super::Condition;
use super::subjects::Subjects;
use super::values::duration;
use crate::snapshot::{self, SnapshotError};
use ioc_ingest::{Event, Kind};
use serde::{Deserialize, Serialize};

/// The keys of a `stale` rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaleSpec {
    /// Kinds of sources watched (default: every sensor kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<String>>,
    /// Silence that raises the alert (a duration).
    pub after: String,
    /// Readings in a row that clear it (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_readings: Option<u32>,
}

impl StaleSpec {
    /// The type's name in the file.
    pub const TYPE: &'static str = "stale";

    /// Checks the keys into the condition, in engine units.
    pub(super) fn check(&self) -> Result<Stale, String> {
        let kinds = match &self.kinds {
            None => vec![
                Kind::Traffic,
                Kind::AirQuality,
                Kind::WaterLevel,
                Kind::Noise,
            ],
            Some(names) => names
                .iter()
                .map(|name| {
                    Kind::parse(name)
                        .filter(|kind| Kind::TELEMETRY.contains(kind))
                        .ok_or_else(|| format!("`kinds`: {name:?} is not a telemetry kind"))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Stale {
            kinds,
            after_ms: duration(&self.after, "after")?,
            recover_readings: self.recover_readings.unwrap_or(3).max(1),
            sensors: Subjects::default(),
        })
    }
}

/// A stale rule's condition: its parameters in engine units and a tracker per sensor.
#[derive(Debug)]
pub(super) struct Stale {
    /// Kinds of sources watched.
    kinds: Vec<Kind>,
    /// Silence that raises the alert.
    after_ms: i64,
    /// Readings in a row that clear it (so a source that flickers raises one alert).
    recover_readings: u32,
    sensors: Subjects<StaleTracker>,
}

impl Condition for Stale {
    fn save_trackers(&self) -> Result<Vec<u8>, SnapshotError> {
        snapshot::encode(&self.sensors)
    }

    fn load_trackers(&mut self, saved: &[u8]) -> Result<(), SnapshotError> {
        self.sensors = snapshot::decode(saved)?;
        Ok(())
    }

    fn watches(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    fn observe(&mut self, event: &Event, _aqi: Option<f64>, now_ms: i64) {
        if !self.kinds.contains(&event.kind) {
            return;
        }
        self.sensors.with_tracker(
            &event.source,
            || StaleTracker::new(&event.area, now_ms),
            |tracker| tracker.observe(&event.area, now_ms, self.recover_readings),
        );
    }

    fn check(&mut self, now_ms: i64) {
        for (source, tracker) in self.sensors.iter_mut() {
            tracker.check(source, now_ms, self.after_ms);
        }
    }

    fn holdings(&mut self) -> Vec<(&str, &mut Holding)> {
        self.sensors.holdings()
    }

    fn holding_mut(&mut self, subject: &str) -> Option<&mut Holding> {
        self.sensors.holding_mut(subject)
    }

    /// A journaled raise marks its sensor silent, so a restart that replays the journal knows
    /// the episode without waiting for the clock.
    fn raised(&mut self, alert: &Alert) {
        let silent_ms = alert
            .value
            .map_or(self.after_ms, |seconds| (seconds * 1000.0) as i64);
        self.sensors.with_tracker(
            &alert.subject,
            || StaleTracker::new(&alert.area, i64::MIN / 2),
            |tracker| tracker.mark_silent(&alert.subject, silent_ms, self.after_ms, false),
        );
    }

    fn alert_metric(&self, _subject: &str) -> String {
        "last_reading".into()
    }

    fn wording<'a>(&'a self, _subject: &'a str) -> Wording<'a> {
        Wording {
            template: "Cảm biến {source} ({area}) không gửi dữ liệu quá {duration}",
            metric: None,
            duration_ms: self.after_ms,
            category: "",
            radius_m: 0.0,
        }
    }
}
