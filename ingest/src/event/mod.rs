//! The event model: what every payload format decodes into and what the journal stores.

mod values;

pub use values::{FieldName, KNOWN_NAMES, Values, field_name, same_field_name};
pub(crate) use values::{KnownSet, known_place};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an event is about (docs/events.md "Kinds and fields").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Traffic counter: `intensity`, `speed`, `occupancy`, optional `congested`.
    Traffic,
    /// Air-quality station: pollutant concentrations, temperature, humidity.
    AirQuality,
    /// Flood gauge: `level_cm`, optional `alert_cm`, `danger_cm`.
    WaterLevel,
    /// Noise meter: `laeq`, optional `lamax`.
    Noise,
    /// Citizen report (phản ánh), Open311 service request.
    Report,
    /// Status change, assignment or rating of a report.
    ReportUpdate,
    /// Public-service dossier (hồ sơ thủ tục hành chính) stage.
    Dossier,
    /// An alert's transition (raised, acknowledged, resolved), written by the engine itself so
    /// alerts survive a restart. Never accepted from outside: not in [`Kind::ALL`], so no topic
    /// or payload can name it.
    Alert,
}

impl Kind {
    /// Every kind, in display order: [`Kind::EVERY`] without the engine's alert records,
    /// which come last there.
    pub const ALL: [Kind; 7] = {
        let mut all = [Kind::Traffic; 7];
        let mut at = 0;
        while at < all.len() {
            all[at] = Kind::EVERY[at];
            at += 1;
        }
        all
    };

    /// Every kind an event may have, the engine's alert records included, each at its
    /// declaration order (`kind as usize`): for tables indexed by kind.
    pub const EVERY: [Kind; 8] = [
        Kind::Traffic,
        Kind::AirQuality,
        Kind::WaterLevel,
        Kind::Noise,
        Kind::Report,
        Kind::ReportUpdate,
        Kind::Dossier,
        Kind::Alert,
    ];

    /// Kinds that sensors and the public-service portal publish as `city/{area}/{kind}/{source}`.
    pub const TELEMETRY: [Kind; 5] = [
        Kind::Traffic,
        Kind::AirQuality,
        Kind::WaterLevel,
        Kind::Noise,
        Kind::Dossier,
    ];

    /// The snake_case name used in topics, payloads and views.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Traffic => "traffic",
            Kind::AirQuality => "air_quality",
            Kind::WaterLevel => "water_level",
            Kind::Noise => "noise",
            Kind::Report => "report",
            Kind::ReportUpdate => "report_update",
            Kind::Dossier => "dossier",
            Kind::Alert => "alert",
        }
    }

    /// Parses a snake_case kind name (of [`Kind::ALL`]: the engine's alert records are never
    /// named from outside).
    ///
    /// A `match`, which the compiler turns into a length test and a comparison with constants;
    /// a search of the table called `memcmp`, in every topic read (B2's profile). A test holds
    /// it to [`Kind::as_str`].
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "traffic" => Some(Kind::Traffic),
            "air_quality" => Some(Kind::AirQuality),
            "water_level" => Some(Kind::WaterLevel),
            "noise" => Some(Kind::Noise),
            "report" => Some(Kind::Report),
            "report_update" => Some(Kind::ReportUpdate),
            "dossier" => Some(Kind::Dossier),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One accepted, validated event, as journaled and as fed to analytics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Idempotency key: the same id twice counts once.
    pub id: String,
    /// The sensor, app or portal that produced it.
    pub source: String,
    /// What it is about.
    pub kind: Kind,
    /// Area id it belongs to (from the topic, the payload or its coordinates).
    pub area: String,
    /// Event time, milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// Latitude, when the payload carried a position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude, when the payload carried a position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// The kind's fields: numbers for readings, strings and booleans where the kind has them.
    pub values: Values,
}

impl Event {
    /// The id used when a payload carries none: source, event time and kind.
    pub fn derived_id(source: &str, ts_ms: i64, kind: Kind) -> String {
        format!("{source}:{ts_ms}:{kind}")
    }

    /// A text field of the event (report fields, dossier stages), `None` when absent or not text.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.values.get(field).and_then(Value::as_str)
    }

    /// The numeric readings of this event (booleans count as 0/1), for aggregation.
    pub fn numeric_fields(&self) -> impl Iterator<Item = (&str, f64)> {
        self.values.iter().filter_map(|(name, value)| {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            };
            number.map(|n| (name, n))
        })
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision.
pub fn format_ts(ts_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ts_ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ts_ms.to_string(),
    }
}

/// Current wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_outside_the_engine_parses_from_its_name() {
        for kind in Kind::EVERY {
            let parsed = Kind::parse(kind.as_str());
            if Kind::ALL.contains(&kind) {
                assert_eq!(parsed, Some(kind));
            } else {
                assert_eq!(parsed, None, "{kind:?} is the engine's own");
            }
            assert_eq!(Kind::parse(&kind.as_str().to_uppercase()), None);
        }
        assert_eq!(Kind::parse(""), None);
    }

    #[test]
    fn every_kind_sits_at_its_declaration_order() {
        for (at, kind) in Kind::EVERY.into_iter().enumerate() {
            assert_eq!(kind as usize, at, "{kind:?}");
        }
        for kind in Kind::ALL {
            assert!(Kind::EVERY.contains(&kind), "{kind:?}");
        }
    }
}
