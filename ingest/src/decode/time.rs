//! Event times: RFC 3339 strings or epoch milliseconds.

use crate::reject::{Reason, Rejection};
use serde_json::Value;

/// Reads a `ts`-like value: an RFC 3339 string (zone required) or epoch milliseconds.
pub fn parse_ts(value: &Value, field: &str) -> Result<i64, Rejection> {
    match value {
        Value::String(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.timestamp_millis())
            .map_err(|error| {
                Rejection::new(
                    Reason::WrongType,
                    format!("`{field}` {text:?} is not an RFC 3339 time with a zone: {error}"),
                )
            }),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(ms), _) => Ok(ms),
            (None, Some(ms)) if ms.is_finite() && ms.abs() < 1e15 => Ok(ms.round() as i64),
            _ => Err(Rejection::new(
                Reason::OutOfRange,
                format!("`{field}` is not a usable epoch time"),
            )),
        },
        _ => Err(Rejection::new(
            Reason::WrongType,
            format!("`{field}` must be an RFC 3339 string or epoch milliseconds"),
        )),
    }
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
}
