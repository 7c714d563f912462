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
