//! What a history query asks for, checked: a telemetry field, a time range, a bucket width and
//! the areas to aggregate.

use super::HistoryError;
use ioc_ingest::Kind;
use ioc_ingest::fields::{FieldType, specs};
use ioc_ingest::journal::compaction::COMPACTED_KINDS;

/// Most points one answer may hold: `(to - from) / every` above this is refused.
pub const MAX_POINTS: i64 = 100_000;

/// A bucket width: `30s`, `1m`, `10m`, `1h`, `1d`, `1w` … Buckets start at multiples of the
/// width since the Unix epoch in UTC (weeks start on Mondays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Every {
    /// As given, normalised (`10m`).
    pub text: String,
    /// Its length in milliseconds.
    pub ms: i64,
}

impl Every {
    /// Parses `<n><unit>` with unit `s`, `m`, `h`, `d` or `w`, at least one second.
    pub fn parse(text: &str) -> Result<Every, HistoryError> {
        let bad = || {
            HistoryError::BadRequest(format!(
                "every {text:?} is not a whole number of s, m, h, d or w (e.g. 10m, 1h, 1d)"
            ))
        };
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, unit) = text.split_at(split);
        let n: i64 = number.parse().map_err(|_| bad())?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        let ms = n
            .checked_mul(unit_ms)
            .filter(|ms| *ms > 0)
            .ok_or_else(bad)?;
        Ok(Every {
            text: format!("{n}{unit}"),
            ms,
        })
    }
}

/// A checked history query.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    /// The field's kind.
    pub kind: Kind,
    /// The field (`pm25`, `speed` …).
    pub field: String,
    /// Areas aggregated together; `None` = the whole city.
    pub areas: Option<Vec<String>>,
    /// Start of the range, epoch ms, inclusive.
    pub from_ms: i64,
    /// End of the range, epoch ms, exclusive.
    pub to_ms: i64,
    /// Bucket width.
    pub every: Every,
}

impl HistoryRequest {
    /// Checks the range against the bucket width.
    pub fn new(
        (kind, field): (Kind, String),
        areas: Option<Vec<String>>,
        from_ms: i64,
        to_ms: i64,
        every: Every,
    ) -> Result<Self, HistoryError> {
        if to_ms <= from_ms {
            return Err(HistoryError::BadRequest(
                "`to` must be after `from`".to_string(),
            ));
        }
        let points = (to_ms - from_ms) / every.ms;
        if points > MAX_POINTS {
            return Err(HistoryError::BadRequest(format!(
                "{points} points of {} between from and to; at most {MAX_POINTS}: use a wider `every`",
                every.text
            )));
        }
        Ok(Self {
            kind,
            field,
            areas,
            from_ms,
            to_ms,
            every,
        })
    }
}

/// Resolves `air_quality.pm25` or a bare `pm25` to a numeric telemetry field.
pub fn resolve_field(text: &str) -> Result<(Kind, String), HistoryError> {
    let numeric = |kind: Kind, name: &str| {
        specs(kind)
            .iter()
            .any(|spec| spec.name == name && !matches!(spec.ty, FieldType::Text(_)))
    };
    let found = match text.split_once('.') {
        Some((kind, name)) => Kind::parse(kind)
            .filter(|kind| COMPACTED_KINDS.contains(kind) && numeric(*kind, name))
            .map(|kind| (kind, name.to_string())),
        None => COMPACTED_KINDS
            .into_iter()
            .find(|kind| numeric(*kind, text))
            .map(|kind| (kind, text.to_string())),
    };
    found.ok_or_else(|| {
        let known: Vec<String> = COMPACTED_KINDS
            .iter()
            .flat_map(|kind| {
                specs(*kind)
                    .iter()
                    .map(move |spec| format!("{}.{}", kind.as_str(), spec.name))
            })
            .collect();
        HistoryError::BadRequest(format!(
            "unknown field {text:?}; one of {}",
            known.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parses_units_and_refuses_the_rest() {
        assert_eq!(Every::parse("10m").map(|e| e.ms).ok(), Some(600_000));
        assert_eq!(Every::parse("1d").map(|e| e.ms).ok(), Some(86_400_000));
        assert_eq!(Every::parse("2w").map(|e| e.text).ok(), Some("2w".into()));
        for bad in [
            "",
            "h",
            "0h",
            "1mo",
            "1.5h",
            "-1h",
            "1 h",
            "99999999999999999d",
        ] {
            assert!(Every::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_resolve_with_or_without_kind() {
        let pm25 = (Kind::AirQuality, "pm25".to_string());
        assert_eq!(resolve_field("pm25").ok(), Some(pm25.clone()));
        assert_eq!(resolve_field("air_quality.pm25").ok(), Some(pm25));
        assert_eq!(
            resolve_field("congested").ok(),
            Some((Kind::Traffic, "congested".into()))
        );
        for bad in [
            "traffic.pm25",
            "dossier.level",
            "service",
            "nope",
            "report.x",
        ] {
            assert!(resolve_field(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_are_checked() {
        let field = (Kind::Noise, "laeq".to_string());
        let hour = Every::parse("1h").unwrap_or_else(|e| panic!("{e}"));
        assert!(HistoryRequest::new(field.clone(), None, 10, 10, hour.clone()).is_err());
        let second = Every::parse("1s").unwrap_or_else(|e| panic!("{e}"));
        let month_ms = 30 * 86_400_000;
        assert!(HistoryRequest::new(field.clone(), None, 0, month_ms, second).is_err());
        assert!(HistoryRequest::new(field, None, 0, month_ms, hour).is_ok());
    }
}
