//! What a sensor rule watches: a field of a kind, or a source's hourly VN_AQI (README.md
//! "Alerts").

use ioc_ingest::Kind;
use std::fmt;

/// What a telemetry rule watches: a field of a kind, or a source's hourly VN_AQI.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A numeric field of one kind, e.g. `water_level.level_cm`.
    Field {
        /// The kind whose events carry the field.
        kind: Kind,
        /// The field name.
        field: String,
    },
    /// An air-quality station's hourly VN_AQI (NowCast for PM).
    Aqi,
}

impl Metric {
    /// Parses `aqi` or `<kind>.<field>`.
    pub(super) fn parse(text: &str) -> Result<Metric, String> {
        if text == "aqi" {
            return Ok(Metric::Aqi);
        }
        let (kind, field) = text
            .split_once('.')
            .ok_or_else(|| format!("metric {text:?} is not `aqi` or `<kind>.<field>`"))?;
        let kind = Kind::parse(kind)
            .filter(|kind| Kind::TELEMETRY.contains(kind) && *kind != Kind::Dossier)
            .ok_or_else(|| format!("metric {text:?}: {kind:?} is not a sensor kind"))?;
        if field.is_empty() {
            return Err(format!("metric {text:?} has no field"));
        }
        Ok(Metric::Field {
            kind,
            field: field.to_string(),
        })
    }

    /// The kind whose events move this metric.
    pub fn kind(&self) -> Kind {
        match self {
            Metric::Field { kind, .. } => *kind,
            Metric::Aqi => Kind::AirQuality,
        }
    }

    /// The field name (`aqi` for the index).
    pub fn field(&self) -> &str {
        match self {
            Metric::Field { field, .. } => field,
            Metric::Aqi => "aqi",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Field { kind, field } => write!(f, "{kind}.{field}"),
            Metric::Aqi => f.write_str("aqi"),
        }
    }
}
