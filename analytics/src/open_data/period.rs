//! Periods of the open data: clock hours, local days and months in Vietnam's time zone
//! (UTC+7, no daylight saving), or the whole requested range as one period.

use chrono::{Datelike, FixedOffset, TimeZone};

/// Vietnam's offset from UTC in seconds: days and months of the published figures start at
/// local midnight, as the city's own statistics do.
pub const UTC_OFFSET_SECS: i32 = 7 * 3600;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const OFFSET_MS: i64 = UTC_OFFSET_SECS as i64 * 1000;

/// How rows are bucketed in time (`every=` of a dataset query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Every {
    /// Clock hours.
    Hour,
    /// Local days.
    Day,
    /// Local calendar months.
    Month,
    /// The whole `from`..`to` range as one period (what the public page shows for 30 days).
    All,
}

impl Every {
    /// Parses `hour`, `day`, `month` or `all`.
    pub fn parse(text: &str) -> Option<Every> {
        match text {
            "hour" => Some(Every::Hour),
            "day" => Some(Every::Day),
            "month" => Some(Every::Month),
            "all" => Some(Every::All),
            _ => None,
        }
    }

    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Every::Hour => "hour",
            Every::Day => "day",
            Every::Month => "month",
            Every::All => "all",
        }
    }
}

/// Vietnam's time zone (checked when compiling: the offset is well inside ±24 h).
const ZONE: FixedOffset = match FixedOffset::east_opt(UTC_OFFSET_SECS) {
    Some(zone) => zone,
    None => panic!("UTC offset out of range"),
};

fn zone() -> FixedOffset {
    ZONE
}

/// Start of the clock hour holding `ts_ms`.
pub fn hour_start(ts_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(HOUR_MS)
}

/// Start (local midnight, as epoch ms) of the local day holding `ts_ms`.
pub fn day_start(ts_ms: i64) -> i64 {
    let local = ts_ms + OFFSET_MS;
    local - local.rem_euclid(DAY_MS) - OFFSET_MS
}

/// Start of the local calendar month holding `ts_ms`.
pub fn month_start(ts_ms: i64) -> i64 {
    let Some(utc) = chrono::DateTime::from_timestamp_millis(ts_ms) else {
        return day_start(ts_ms);
    };
    let local = utc.with_timezone(&zone());
    zone()
        .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
        .single()
        .map_or_else(|| day_start(ts_ms), |start| start.timestamp_millis())
}

/// Start of the period of `every` holding `ts_ms`; for [`Every::All`] the range start `from_ms`.
pub fn period_start(ts_ms: i64, every: Every, from_ms: i64) -> i64 {
    match every {
        Every::Hour => hour_start(ts_ms),
        Every::Day => day_start(ts_ms),
        Every::Month => month_start(ts_ms),
        Every::All => from_ms,
    }
}

/// Formats epoch ms as RFC 3339 in local time (`2026-11-22T00:00:00+07:00`).
pub fn format_local(ts_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ts_ms) {
        Some(utc) => utc
            .with_timezone(&zone())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => ts_ms.to_string(),
    }
}

/// Parses a query time: RFC 3339 (`2026-11-22T09:00:00Z`) or a local date (`2026-11-22`,
/// meaning its local midnight).
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    zone()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|at| at.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_start_at_local_midnight() {
        // 2026-11-22T16:59:59Z is 23:59:59 local; 17:00Z is the next local day.
        let before = parse_time("2026-11-22T16:59:59Z").unwrap_or_default();
        let after = before + 1000;
        assert_eq!(format_local(day_start(before)), "2026-11-22T00:00:00+07:00");
        assert_eq!(format_local(day_start(after)), "2026-11-23T00:00:00+07:00");
        assert_eq!(
            format_local(month_start(after)),
            "2026-11-01T00:00:00+07:00"
        );
        let new_month = parse_time("2026-11-30T17:00:00Z").unwrap_or_default();
        assert_eq!(
            format_local(month_start(new_month)),
            "2026-12-01T00:00:00+07:00"
        );
        assert_eq!(parse_time("2026-11-23"), Some(after));
        assert_eq!(
            format_local(hour_start(after + 59 * 60_000)),
            "2026-11-23T00:00:00+07:00"
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
