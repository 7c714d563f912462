//! Request bodies and query strings: form-encoded (the Open311 standard, what FixMyStreet
//! sends) or JSON, both read into one field map.

use super::errors::Open311Error;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

/// The fields of a POST body. Repeated form keys keep their first value.
pub(crate) fn body_fields(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Open311Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        return match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Open311Error::one(
                StatusCode::BAD_REQUEST,
                "a JSON body must be an object of fields",
            )),
            Err(error) => Err(Open311Error::one(
                StatusCode::BAD_REQUEST,
                format!("the body is not valid JSON: {error}"),
            )),
        };
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(Open311Error::one(
            StatusCode::BAD_REQUEST,
            "send application/x-www-form-urlencoded or application/json",
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(Open311Error::one(
            StatusCode::BAD_REQUEST,
            "the body is not UTF-8",
        ));
    }
    pairs_to_map(body)
}

/// The parameters of a query string, as strings.
pub(crate) fn query_fields(query: Option<&str>) -> Result<Map<String, Value>, Open311Error> {
    pairs_to_map(query.unwrap_or_default().as_bytes())
}

fn pairs_to_map(bytes: &[u8]) -> Result<Map<String, Value>, Open311Error> {
    let mut map = Map::new();
    for (key, value) in decode_pairs(bytes)? {
        map.entry(key).or_insert(Value::String(value));
    }
    Ok(map)
}

/// `application/x-www-form-urlencoded` pairs, refusing percent-escapes that decode to bytes
/// that are not UTF-8 (a lenient decoder would turn them into U+FFFD and store those).
fn decode_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, Open311Error> {
    let decode = |part: &[u8]| -> Result<String, Open311Error> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| {
                Open311Error::one(
                    StatusCode::BAD_REQUEST,
                    "the form body holds percent-escapes that are not UTF-8",
                )
            })
    };
    bytes
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(key)?, decode(value)?))
        })
        .collect()
}

/// A field as text (strings as they are, numbers written out).
pub(crate) fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_decode_plus_and_escapes_and_keep_the_first_value() {
        let map = pairs_to_map(b"a=H%C3%A0+N%E1%BB%99i&b=&c&a=second").unwrap_or_default();
        assert_eq!(map.get("a"), Some(&Value::String("Hà Nội".into())));
        assert_eq!(map.get("b"), Some(&Value::String(String::new())));
        assert_eq!(map.get("c"), Some(&Value::String(String::new())));
    }

    /// Cases per property: 256 in CI, `PROPTEST_CASES` for a longer run.
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256)
    }

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = content_type.parse() {
            headers.insert(header::CONTENT_TYPE, value);
        }
        headers
    }

    /// What an accepted report may hold, whatever was posted.
    fn check_accepted(fields: &Map<String, Value>) {
        let areas = ioc_ingest::Areas::hanoi();
        if let Ok(report) = ioc_ingest::report::check(fields, &areas, None) {
            for (name, value) in &report.values {
                if let Value::String(text) = value {
                    assert!(
                        text.chars()
                            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')),
                        "{name} kept a control character"
                    );
                    assert!(
                        text.chars().count() <= 4000,
                        "{name} kept {} characters",
                        text.len()
                    );
                }
            }
            assert!(report.lat.is_none_or(f64::is_finite));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_body_reads_or_is_refused_without_panicking(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            content_type in proptest::prop_oneof![
                proptest::strategy::Just("application/json"),
                proptest::strategy::Just("application/x-www-form-urlencoded"),
                proptest::strategy::Just("text/xml"),
            ],
        ) {
            if let Ok(fields) = body_fields(&headers(content_type), &body) {
                check_accepted(&fields);
            }
        }

        #[test]
        fn any_form_of_known_fields_reads_back_and_checks_without_panicking(
            values in proptest::collection::vec(".{0,40}", 9),
        ) {
            let names = ["api_key", "service_code", "lat", "long", "description", "email",
                "phone", "media_url", "address_string"];
            let encode = |text: &str| {
                percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            let body: Vec<String> = names
                .iter()
                .zip(&values)
                .map(|(name, value)| format!("{name}={}", encode(value)))
                .collect();
            let fields = pairs_to_map(body.join("&").as_bytes());
            proptest::prop_assert!(fields.is_ok());
            let fields = fields.unwrap_or_default();
            for (name, value) in names.iter().zip(&values) {
                proptest::prop_assert_eq!(fields.get(*name), Some(&Value::String(value.clone())));
            }
            check_accepted(&fields);
        }
    }

    #[test]
    fn escapes_that_are_not_utf8_are_refused() {
        assert!(pairs_to_map(b"description=%FF%FE").is_err());
        assert!(pairs_to_map(b"%C3=x").is_err());
    }
}
