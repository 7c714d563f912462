//! Open311 errors: `[{"code":…,"description":"…"}]` (XML `<errors><error>…`), the HTTP status
//! being the first error's code.

use super::format::Format;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

/// One or more errors of one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Open311Error {
    /// HTTP status of the answer.
    pub(crate) status: StatusCode,
    /// Each error's code and description.
    pub(crate) errors: Vec<(u16, String)>,
    /// For 429: when the caller may try again.
    pub(crate) retry_after: Option<std::time::Duration>,
}

impl Open311Error {
    /// A single error.
    pub(crate) fn one(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![(status.as_u16(), description.into())],
            retry_after: None,
        }
    }

    /// 400 with several descriptions at once.
    pub(crate) fn bad_request(descriptions: Vec<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: descriptions.into_iter().map(|d| (400, d)).collect(),
            retry_after: None,
        }
    }

    /// The answer in `format`.
    pub(crate) fn render(&self, format: Format) -> Response {
        let body: Vec<Value> = self
            .errors
            .iter()
            .map(|(code, description)| json!({"code": code, "description": description}))
            .collect();
        format.respond(self.status, "errors", &Value::Array(body))
    }
}
