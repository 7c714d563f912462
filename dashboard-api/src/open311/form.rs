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
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|error| {
        Open311Error::one(
            StatusCode::BAD_REQUEST,
            format!("the form body cannot be read: {error}"),
        )
    })?;
    let mut map = Map::new();
    for (key, value) in pairs {
        map.entry(key).or_insert(Value::String(value));
    }
    Ok(map)
}

/// A field as text (strings as they are, numbers written out).
pub(crate) fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
