//! Citizen reports (phản ánh, docs/open311.md): the category catalogue, field checks shared by the
//! Open311 API and the MQTT report topic, and the ids that make retries idempotent.
//!
//! A report is an event of kind `report` whose `values` hold the Open311 fields plus its
//! `service_request_id`; operators' changes are events of kind `report_update` (see [`update`]).

pub mod catalog;
mod check;
pub mod update;

pub use check::{
    CheckedReport, MAX_DESCRIPTION_CHARS, MAX_ID_BYTES, Problem, ProblemKind, UNPLACED, check,
};

use crate::area::Areas;
use crate::event::{Event, Kind, Values};
use crate::reject::{Reason, Rejection};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// FNV-1a over the parts, separated so that `("ab","c")` and `("a","bc")` differ; stable across
/// Rust versions and machines, unlike `DefaultHasher`.
fn fnv(parts: &[&str]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The public `service_request_id` of the report stored under `event_id`: derived, so that a
/// retried POST (same event id, a journal duplicate) answers with the same id.
pub fn request_id(event_id: &str) -> String {
    format!("pa-{:016x}", fnv(&["service_request_id", event_id]))
}

/// The event id of a report posted over HTTP. With a client-side id (scoped by the API key
/// and the device id, when given) a retry gets the same event id and so is a duplicate;
/// without one, a fresh, unique id.
pub fn http_event_id(api_key: &str, device_id: Option<&str>, client_id: Option<&str>) -> String {
    match client_id {
        Some(client) => {
            let device = device_id.unwrap_or_default();
            format!("open311:{:016x}", fnv(&[api_key, device, client]))
        }
        None => fresh_id("open311"),
    }
}

/// A process-unique id with this prefix: wall-clock nanoseconds, the process id and a counter.
pub fn fresh_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}:{nanos:x}-{:x}-{n:x}", std::process::id())
}

/// The event of a checked report.
pub fn into_event(report: CheckedReport, id: String, source: String, ts_ms: i64) -> Event {
    let mut values = Values::from(report.values);
    values.insert("service_request_id", Value::String(request_id(&id)));
    Event {
        id,
        source,
        kind: Kind::Report,
        area: report.area,
        ts_ms,
        lat: report.lat,
        lon: report.lon,
        values,
    }
}

/// A report published on `{root}/{area}/report`: either the Open311 fields at the top level
/// or the native shape with them under `values`. The first problem becomes the dead-letter
/// reason.
pub fn from_mqtt(
    payload: &Map<String, Value>,
    topic_area: Option<&str>,
    areas: &Areas,
    ts_ms: i64,
) -> Result<Event, Rejection> {
    let mut fields = payload.clone();
    if let Some(Value::Object(values)) = payload.get("values") {
        for (key, value) in values {
            fields.insert(key.clone(), value.clone());
        }
    }
    let checked = check(&fields, areas, topic_area).map_err(|problems| {
        let first = problems.first();
        let reason = match first.map(|p| p.kind) {
            Some(ProblemKind::OutsideCity) => Reason::OutsideCity,
            _ if first.is_some_and(|p| p.field == "area") => Reason::UnknownArea,
            Some(ProblemKind::UnknownService) => Reason::OutOfRange,
            _ if first.is_some_and(|p| p.message.contains("required")) => Reason::MissingField,
            _ => Reason::OutOfRange,
        };
        let detail: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        Rejection::new(reason, detail.join("; "))
    })?;
    let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
    let source = text("source")
        .or_else(|| {
            checked
                .values
                .get("device_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "mqtt".to_string());
    let id = text("id").unwrap_or_else(|| Event::derived_id(&source, ts_ms, Kind::Report));
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(Rejection::new(
            Reason::OutOfRange,
            "`id` must be 1 to 256 bytes of text",
        ));
    }
    Ok(into_event(checked, id, source, ts_ms))
}
