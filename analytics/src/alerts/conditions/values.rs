//! The checks the rule types share: finite numbers, durations (read like every duration of the
//! engine), and a sensor rule's reading of an event.

use super::super::duration::parse_duration_ms;
use super::super::metric::Metric;
use super::super::trackers::Observation;
use ioc_ingest::Event;
use serde_json::Value;

/// `value`, if it is a finite number.
pub(super) fn finite(value: f64, key: &str) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("`{key}` must be a finite number"))
    }
}

/// The duration written under `key`, in milliseconds.
pub(super) fn duration(text: &str, key: &str) -> Result<i64, String> {
    parse_duration_ms(text).map_err(|message| format!("`{key}`: {message}"))
}

/// The duration written under `key`, or `default_ms` when the key is absent.
pub(super) fn optional_duration(
    text: Option<&str>,
    key: &str,
    default_ms: i64,
) -> Result<i64, String> {
    text.map_or(Ok(default_ms), |text| duration(text, key))
}

/// The metric's value in an event, if the event carries it.
pub(super) fn reading<'a>(
    event: &'a Event,
    metric: &Metric,
    aqi: Option<f64>,
) -> Option<Observation<'a>> {
    if event.kind != metric.kind() {
        return None;
    }
    let value = match metric {
        Metric::Aqi => aqi?,
        Metric::Field { field, .. } => event.values.get(field).and_then(Value::as_f64)?,
    };
    Some(Observation {
        source: &event.source,
        area: &event.area,
        ts: event.ts_ms,
        value,
        lat: event.lat,
        lon: event.lon,
    })
}
