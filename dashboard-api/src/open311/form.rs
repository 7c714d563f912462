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

    #[test]
    fn escapes_that_are_not_utf8_are_refused() {
        assert!(pairs_to_map(b"description=%FF%FE").is_err());
        assert!(pairs_to_map(b"%C3=x").is_err());
    }
}
