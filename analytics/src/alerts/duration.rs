//! Durations as people write them in rules: `30s`, `10m`, `2h`, `1d`, `500ms` (humantime).

/// Parses a duration (humantime's syntax: `30s`, `10m`, `1h 30m`, `500ms`) into
/// milliseconds; a unit is required and a year is the most a rule may span.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    // The same reading as every duration setting of the engine.
    let duration = ioc_ingest::duration_setting::parse(text)?;
    let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    if ms > 365 * 86_400_000 {
        return Err(format!("{text:?} is longer than a year"));
    }
    Ok(ms)
}

/// Writes milliseconds the way people read them: `10 phút`, `30 giây`, `2 giờ`.
pub fn vietnamese(ms: i64) -> String {
    if ms % 3_600_000 == 0 && ms >= 3_600_000 {
        format!("{} giờ", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms >= 60_000 {
        format!("{} phút", ms / 60_000)
    } else {
        format!("{} giây", (ms as f64 / 1000.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert() {
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("10m"), Ok(600_000));
        assert_eq!(parse_duration_ms("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert!(parse_duration_ms("10").is_err());
        assert!(parse_duration_ms("m").is_err());
        assert!(parse_duration_ms("3 parsecs").is_err());
        assert!(parse_duration_ms("2y").is_err());
    }

    #[test]
    fn vietnamese_text() {
        assert_eq!(vietnamese(600_000), "10 phút");
        assert_eq!(vietnamese(7_200_000), "2 giờ");
        assert_eq!(vietnamese(5_000), "5 giây");
    }
}
