//! The two Open311 formats, chosen by the path's extension (`services.json`,
//! `requests.xml`), and the answers written in them.

use super::xml;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `.json` or `.xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/json`.
    Json,
    /// `text/xml`.
    Xml,
}

impl Format {
    /// Splits `name.ext` into the name and its format; `None` for another extension.
    pub(crate) fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(name) = file.strip_suffix(".json") {
            Some((name, Format::Json))
        } else {
            file.strip_suffix(".xml").map(|name| (name, Format::Xml))
        }
    }

    /// The answer's format when the path's extension is unknown: JSON.
    pub(crate) fn of_path(file: &str) -> Format {
        Format::split(file).map_or(Format::Json, |(_, format)| format)
    }

    /// Renders `value` with `status`; `root` is the XML root element.
    pub(crate) fn respond(self, status: StatusCode, root: &str, value: &Value) -> Response {
        let (body, content_type) = match self {
            Format::Json => (json_text(value), "application/json; charset=utf-8"),
            Format::Xml => (xml::document(root, value), "text/xml; charset=utf-8"),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// JSON with `<`, `>` and `&` written as `\u` escapes: the same text once parsed, but a
/// browser that sniffs the body as HTML finds no markup in it.
fn json_text(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}
