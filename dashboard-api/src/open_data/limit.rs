//! The per-address budget of the public endpoints, on the same token buckets as Open311's.

use crate::ApiState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// Middleware: one token per request from the client's address, or 429 with `Retry-After`.
pub(crate) async fn per_ip(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let budget = state.public.config.rate_per_ip_per_min;
    let wanted = [(format!("public-ip:{}", peer.ip()), budget)];
    match state
        .public
        .limiter
        .take(&wanted, std::time::Instant::now())
    {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = wait.as_secs().max(1);
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, secs.to_string()),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                axum::Json(serde_json::json!({
                    "error": format!("too many requests from this address: at most {budget} a minute; retry in {secs} s"),
                    "status": 429,
                })),
            )
                .into_response()
        }
    }
}
