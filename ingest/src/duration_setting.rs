//! Durations in settings: written as people write them (`500ms`, `30s`, `10m`, `7d`, in
//! humantime's syntax) in the config file, `IOC_*` variables and flags, and held by the code
//! as whole milliseconds or seconds. Use with `#[serde(with = "…::millis")]` (or `seconds`)
//! on an integer field; a bare number is refused, since its unit would be a guess.

use serde::{Deserialize, Deserializer, Serializer, de::Error};
use std::time::Duration;

/// Parses a duration setting; the error says what was expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|error| {
        format!("{text:?} is not a duration such as \"500ms\" or \"10m\" ({error})")
    })
}

/// Reads a duration written as text.
fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Number(f64),
    }
    match Written::deserialize(deserializer)? {
        Written::Text(text) => parse(&text).map_err(D::Error::custom),
        Written::Number(number) => Err(D::Error::custom(format!(
            "{number} has no unit: write a duration such as \"{number}ms\" or \"{number}s\""
        ))),
    }
}

/// A duration field held as whole milliseconds.
pub mod millis {
    use super::*;

    /// Writes the milliseconds as a duration (`120000` → `"2m"`).
    pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Copy + TryInto<u64>,
        S: Serializer,
    {
        let millis = (*value).try_into().unwrap_or(0);
        serializer.collect_str(&humantime::format_duration(Duration::from_millis(millis)))
    }

    /// Reads a duration into whole milliseconds.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: TryFrom<u64>,
        D: Deserializer<'de>,
    {
        let duration = read(deserializer)?;
        u64::try_from(duration.as_millis())
            .ok()
            .and_then(|millis| T::try_from(millis).ok())
            .ok_or_else(|| D::Error::custom("the duration is too long"))
    }
}

/// A duration field held as whole seconds (a sub-second part is refused).
pub mod seconds {
    use super::*;

    /// Writes the seconds as a duration (`604800` → `"7days"`).
    pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Copy + TryInto<u64>,
        S: Serializer,
    {
        let seconds = (*value).try_into().unwrap_or(0);
        serializer.collect_str(&humantime::format_duration(Duration::from_secs(seconds)))
    }

    /// Reads a duration into whole seconds.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: TryFrom<u64>,
        D: Deserializer<'de>,
    {
        let duration = read(deserializer)?;
        if duration.subsec_nanos() != 0 {
            return Err(D::Error::custom("give whole seconds (e.g. \"30s\")"));
        }
        T::try_from(duration.as_secs()).map_err(|_| D::Error::custom("the duration is too long"))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    struct Settings {
        #[serde(with = "super::millis")]
        tick_ms: u64,
        #[serde(with = "super::millis")]
        lateness_ms: i64,
        #[serde(with = "super::seconds")]
        expiry_secs: u32,
    }

    fn read(text: &str) -> Result<Settings, String> {
        serde_json::from_str(text).map_err(|error| error.to_string())
    }

    #[test]
    fn written_durations_become_their_units_and_print_back() {
        let settings =
            read(r#"{"tick_ms":"500ms","lateness_ms":"2m","expiry_secs":"7d"}"#).expect("read");
        assert_eq!(
            settings,
            Settings {
                tick_ms: 500,
                lateness_ms: 120_000,
                expiry_secs: 604_800
            }
        );
        let printed = serde_json::to_string(&settings).expect("write");
        assert_eq!(
            printed,
            r#"{"tick_ms":"500ms","lateness_ms":"2m","expiry_secs":"7days"}"#
        );
        assert_eq!(read(&printed).expect("read back"), settings);
    }

    #[test]
    fn numbers_without_units_and_nonsense_are_refused_with_a_reason() {
        let error = read(r#"{"tick_ms":500,"lateness_ms":"2m","expiry_secs":"7d"}"#).unwrap_err();
        assert!(error.contains("no unit"), "{error}");
        let error =
            read(r#"{"tick_ms":"fast","lateness_ms":"2m","expiry_secs":"7d"}"#).unwrap_err();
        assert!(error.contains("not a duration"), "{error}");
        let error =
            read(r#"{"tick_ms":"1s","lateness_ms":"2m","expiry_secs":"1.5s"}"#).unwrap_err();
        assert!(error.contains("whole seconds"), "{error}");
        let error =
            read(r#"{"tick_ms":"1s","lateness_ms":"2m","expiry_secs":"200years"}"#).unwrap_err();
        assert!(error.contains("too long"), "{error}");
    }
}
