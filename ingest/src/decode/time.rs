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
///
/// The usual shape is read by [`usual_rfc3339`]; anything else (spaces around it, a lower-case
/// `t` or `z`, a leap second, more than nine fraction digits, bad text) goes to chrono's reader,
/// which decides and words the refusal.
pub(crate) fn parse_ts_text(text: &str, field: &str) -> Result<i64, Rejection> {
    if let Some(ts_ms) = usual_rfc3339(text.as_bytes()) {
        return Ok(ts_ms);
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|error| {
            Rejection::new(
                Reason::WrongType,
                format!("`{field}` {text:?} is not an RFC 3339 time with a zone: {error}"),
            )
        })
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` in epoch milliseconds, the calendar done here;
/// `None` for any other text, and for a date or time that does not exist.
///
/// Every device time comes this way, and chrono's reader (which builds and checks a date, a
/// time and an offset as values) was about 410 instructions of each event in B2's profile.
/// What this takes, chrono takes too with the same result (a test holds the two together);
/// what it leaves, chrono still reads.
fn usual_rfc3339(bytes: &[u8]) -> Option<i64> {
    let digits = |from: usize, count: usize| -> Option<i64> {
        bytes
            .get(from..from + count)?
            .iter()
            .try_fold(0_i64, |value, &byte| {
                byte.is_ascii_digit()
                    .then(|| value * 10 + i64::from(byte - b'0'))
            })
    };
    let punctuated = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')]
        .iter()
        .all(|&(at, byte)| bytes.get(at) == Some(&byte));
    if !punctuated {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if bytes.get(at) == Some(&b'.') {
        let count = bytes
            .get(at + 1..)?
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if !(1..=9).contains(&count) {
            return None;
        }
        // The first three digits, padded: what chrono's nanoseconds give in milliseconds.
        let taken = count.min(3);
        millis = digits(at + 1, taken)? * [100, 10, 1][taken - 1];
        at += 1 + count;
    }
    let offset_minutes = match (bytes.get(at)?, bytes.len() - at) {
        (b'Z', 1) => 0,
        (sign @ (b'+' | b'-'), 6) if bytes.get(at + 3) == Some(&b':') => {
            let (hours, minutes) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Days in `month` (1–12) of `year`, in the proleptic Gregorian calendar.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date (proleptic Gregorian, `month` 1–12): the year counted
/// from March, so a leap day is the last of its year, and 400-year eras of 146,097 days.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719,468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
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

    /// The usual shape read here gives what chrono gives, and what chrono refuses is never
    /// taken here: dates and times around every edge (months of 28 to 31 days, leap and
    /// century years, the end of a day and of an offset), fractions of 1 to 10 digits, each
    /// zone form and the spellings chrono also accepts.
    #[test]
    fn the_usual_shape_is_read_as_chrono_reads_it() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % below
        };
        let mut taken = 0;
        for _ in 0..200_000 {
            let year = [0, 1, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999][next(10) as usize]
                + if next(3) == 0 { next(400) } else { 0 };
            let year = year.min(9999);
            let (month, day) = (next(14), next(33));
            let (hour, minute, second) = (next(25), next(61), next(62));
            let fraction = match next(4) {
                0 => String::new(),
                _ => {
                    let count = 1 + next(10) as usize;
                    let digits: String = (0..count)
                        .map(|_| char::from(b'0' + next(10) as u8))
                        .collect();
                    format!(".{digits}")
                }
            };
            let zone = match next(8) {
                0 | 1 => "Z".to_string(),
                2 => "z".to_string(),
                3 => "-00:00".to_string(),
                _ => format!(
                    "{}{:02}:{:02}",
                    if next(2) == 0 { '+' } else { '-' },
                    next(26),
                    next(62)
                ),
            };
            let separator = ['T', 'T', 'T', 't', ' '][next(5) as usize];
            let text = format!(
                "{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
            );
            let chrono = chrono::DateTime::parse_from_rfc3339(&text).map(|t| t.timestamp_millis());
            if let Some(ts_ms) = usual_rfc3339(text.as_bytes()) {
                taken += 1;
                assert_eq!(chrono, Ok(ts_ms), "{text}");
            }
            assert_eq!(parse_ts_text(&text, "ts").ok(), chrono.ok(), "{text}");
        }
        // Most of the generated texts are of the usual shape and valid.
        assert!(taken > 20_000, "{taken}");
        for text in [
            " 2026-11-22T09:00:00Z",
            "2026-11-22T09:00:00Z ",
            "2026-11-22T09:00:00",
            "2026-11-22T09:00:00+0700",
            "2026-11-22T09:00:00.Z",
            "2026-02-29T09:00:00Z",
            "2026-11-22T09:00:60Z",
            "２026-11-22T09:00:00Z",
        ] {
            assert_eq!(usual_rfc3339(text.as_bytes()), None, "{text}");
        }
        assert_eq!(
            usual_rfc3339(b"2026-11-22T16:00:00.1239+07:00"),
            Some(1_795_338_000_123)
        );
        assert_eq!(usual_rfc3339(b"1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(
            usual_rfc3339(b"2000-02-29T00:00:00Z"),
            Some(951_782_400_000)
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
