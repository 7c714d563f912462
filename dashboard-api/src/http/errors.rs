//! Error answers of the operator API: a status and `{"error": "…"}`.

use crate::auth::AuthError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ioc_analytics::ViewError;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with a status and a message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, error.to_string())
    }
}

impl From<ViewError> for ApiError {
    fn from(error: ViewError) -> Self {
        let status = match error {
            ViewError::UnknownView(_) => StatusCode::NOT_FOUND,
            ViewError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ViewError::Forbidden(_) => StatusCode::FORBIDDEN,
            ViewError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = axum::Json(json!({"error": self.message, "status": self.status.as_u16()}));
        if self.status == StatusCode::UNAUTHORIZED {
            (self.status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// Middleware: an extractor's refusal under `/api/` (a query or path that does not parse, a
/// body of the wrong type) is plain text in axum; this turns it into the API's JSON error.
pub(crate) async fn json_refusals(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.starts_with("text/plain"));
    if !api || !status.is_client_error() || !plain {
        return response;
    }
    let message = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => status.canonical_reason().unwrap_or("refused").to_string(),
    };
    ApiError::new(status, message).into_response()
}
