//! Durations as people write them in config: `30s`, `10m`, `2h`, `1d`, `500ms`.

/// Parses a duration into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h, d)"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let unit_ms = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h, d)")),
    };
    let ms = number * unit_ms;
    if !ms.is_finite() || ms > 365.0 * 86_400_000.0 {
        return Err(format!("{text:?} is longer than a year"));
    }
    Ok(ms.round() as i64)
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
        assert_eq!(parse_duration_ms("1.5h"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert!(parse_duration_ms("10").is_err());
        assert!(parse_duration_ms("m").is_err());
        assert!(parse_duration_ms("3 weeks").is_err());
    }

    #[test]
    fn vietnamese_text() {
        assert_eq!(vietnamese(600_000), "10 phút");
        assert_eq!(vietnamese(7_200_000), "2 giờ");
        assert_eq!(vietnamese(5_000), "5 giây");
    }
}
