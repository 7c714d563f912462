//! Request bodies are read here, before any handler, with a size limit and a deadline
//! (docs/api.md "Limits"): a body over the limit is 413 (refused from its
//! `Content-Length` without reading it when that already says so), a client that does not
//! finish sending its body in time is 408. Both answers are JSON (`{"error":…}`) on the
//! operator API and Open311 errors (JSON or XML by the path's extension) under `/open311/`.
//!
//! Slow request heads are cut off by the HTTP server itself (see `crate::server`).

use super::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The limits every request body is read under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// Largest body accepted, in bytes.
    pub(crate) max_bytes: usize,
    /// How long a client may take to send its whole body.
    pub(crate) read_timeout: Duration,
}

/// Middleware: buffers the body under [`BodyLimits`] and hands the handler the buffered copy.
pub(crate) async fn read_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let too_large = || {
        refuse(
            &path,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {} bytes", limits.max_bytes),
        )
    };
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(
        limits.read_timeout,
        axum::body::to_bytes(body, limits.max_bytes),
    )
    .await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            // `to_bytes` fails on the limit or on a broken body (client gone, bad chunking).
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
                || error.to_string().contains("length limit exceeded");
            if over_limit {
                return too_large();
            }
            return refuse(&path, StatusCode::BAD_REQUEST, "the body could not be read");
        }
        Err(_) => {
            tracing::debug!(%path, "request body not received in time");
            return refuse(
                &path,
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the body did not arrive within {} s",
                    limits.read_timeout.as_secs_f64()
                ),
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The refusal in the path's error format; the connection is closed after it, since the
/// rest of the body was not read.
fn refuse(path: &str, status: StatusCode, message: &str) -> Response {
    let mut response = if path.starts_with("/open311/") {
        crate::open311::error_for_path(path, status, message)
    } else {
        ApiError::new(status, message).into_response()
    };
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}
