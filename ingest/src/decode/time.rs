//! Event times: RFC 3339 strings or epoch milliseconds, and the device times that Smart Data
//! Models examples teach (no zone, or an interval).

use crate::reject::{Reason, Rejection};
use serde_json::Value;

/// The zone a deployment's devices keep local time in: Hanoi's by default, since devices that
/// copy the Smart Data Models examples send wall-clock times without a zone.
pub const DEFAULT_DEVICE_ZONE: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// Reads a `ts`-like value: an RFC 3339 string (zone required) or epoch milliseconds.
pub fn parse_ts(value: &Value, field: &str) -> Result<i64, Rejection> {
    match value {
        Value::String(text) => parse_ts_text(text, field),
        Value::Number(n) => parse_ts_number(n, field),
        _ => Err(Rejection::new(
            Reason::WrongType,
            format!("`{field}` must be an RFC 3339 string or epoch milliseconds"),
        )),
    }
}

/// Reads a `ts`-like string: RFC 3339 with a zone.
pub(crate) fn parse_ts_text(text: &str, field: &str) -> Result<i64, Rejection> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|error| {
            Rejection::new(
                Reason::WrongType,
                format!("`{field}` {text:?} is not an RFC 3339 time with a zone: {error}"),
            )
        })
}

/// Reads a `ts`-like number: epoch milliseconds, a fraction rounded to the nearest.
pub(crate) fn parse_ts_number(n: &serde_json::Number, field: &str) -> Result<i64, Rejection> {
    match (n.as_i64(), n.as_f64()) {
        (Some(ms), _) => Ok(ms),
        (None, Some(ms)) if ms.is_finite() && ms.abs() < 1e15 => Ok(ms.round() as i64),
        _ => Err(Rejection::new(
            Reason::OutOfRange,
            format!("`{field}` is not a usable epoch time"),
        )),
    }
}

/// A device's observation time, and whether the engine had to supply its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// Epoch milliseconds.
    pub ts_ms: i64,
    /// The text carried no zone and was read in the device zone (counted for operators, who
    /// should know how many devices rely on that assumption).
    pub zoneless: bool,
}

/// Reads a device's observation time: what [`parse_ts`] reads, an ISO 8601 interval
/// `start/end` by its end (the observation is complete then), and a date-time without a zone
/// (`2016-03-15T11:00:00`, seconds fraction optional) as local time in `zone`.
pub fn parse_observed(
    value: &Value,
    field: &str,
    zone: chrono_tz::Tz,
) -> Result<Observed, Rejection> {
    let Value::String(text) = value else {
        return parse_ts(value, field).map(|ts_ms| Observed {
            ts_ms,
            zoneless: false,
        });
    };
    let end = text.rsplit_once('/').map_or(text.as_str(), |(_, end)| end);
    let end = Value::String(end.trim().to_string());
    match parse_ts(&end, field) {
        Ok(ts_ms) => Ok(Observed {
            ts_ms,
            zoneless: false,
        }),
        Err(zoned_error) => match local_time(end.as_str().unwrap_or_default(), zone) {
            Some(ts_ms) => Ok(Observed {
                ts_ms,
                zoneless: true,
            }),
            None => Err(zoned_error),
        },
    }
}

/// A zone-less ISO 8601 date-time read in `zone`; a wall-clock time that the zone skips or
/// repeats (daylight saving) takes its earliest instant.
fn local_time(text: &str, zone: chrono_tz::Tz) -> Option<i64> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    naive
        .and_local_timezone(zone)
        .earliest()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_and_epoch_ms_agree() {
        let a = parse_ts(&json!("2026-11-22T09:00:00Z"), "ts");
        let b = parse_ts(&json!(1_795_338_000_000_i64), "ts");
        assert_eq!(a, Ok(1_795_338_000_000));
        assert_eq!(a, b);
        assert_eq!(
            parse_ts(&json!("2026-11-22T16:00:00+07:00"), "ts"),
            Ok(1_795_338_000_000)
        );
    }

    #[test]
    fn zoneless_or_garbage_times_are_refused() {
        assert!(parse_ts(&json!("2026-11-22T09:00:00"), "ts").is_err());
        assert!(parse_ts(&json!(true), "ts").is_err());
    }

    #[test]
    fn device_times_without_a_zone_are_read_in_the_device_zone() {
        let hanoi = parse_observed(&json!("2026-11-22T16:00:00"), "d", DEFAULT_DEVICE_ZONE);
        assert_eq!(
            hanoi,
            Ok(Observed {
                ts_ms: 1_795_338_000_000,
                zoneless: true
            })
        );
        let fraction = parse_observed(&json!("2026-11-22T16:00:00.250"), "d", DEFAULT_DEVICE_ZONE);
        assert_eq!(fraction.map(|o| o.ts_ms), Ok(1_795_338_000_250));
        let utc = parse_observed(&json!("2026-11-22T09:00:00"), "d", chrono_tz::UTC);
        assert_eq!(utc.map(|o| o.ts_ms), Ok(1_795_338_000_000));
    }

    #[test]
    fn intervals_count_by_their_end_zoned_or_not() {
        let zoned = parse_observed(
            &json!("2026-11-22T08:00:00Z/2026-11-22T09:00:00Z"),
            "d",
            DEFAULT_DEVICE_ZONE,
        );
        assert_eq!(
            zoned,
            Ok(Observed {
                ts_ms: 1_795_338_000_000,
                zoneless: false
            })
        );
        let local = parse_observed(
            &json!("2026-11-22T15:00:00/2026-11-22T16:00:00"),
            "d",
            DEFAULT_DEVICE_ZONE,
        );
        assert_eq!(
            local,
            Ok(Observed {
                ts_ms: 1_795_338_000_000,
                zoneless: true
            })
        );
    }

    #[test]
    fn zoned_times_and_epochs_are_not_counted_as_zoneless_and_garbage_is_wrong_type() {
        let epoch = parse_observed(&json!(1_795_338_000_000_i64), "d", DEFAULT_DEVICE_ZONE);
        assert_eq!(epoch.map(|o| o.zoneless), Ok(false));
        for garbage in [
            json!("yesterday"),
            json!("2026-11-22"),
            json!("a/b"),
            json!(true),
        ] {
            let refused = parse_observed(&garbage, "d", DEFAULT_DEVICE_ZONE);
            assert_eq!(
                refused.map_err(|e| e.reason),
                Err(Reason::WrongType),
                "{garbage}"
            );
        }
    }
}
