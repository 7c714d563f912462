//! `GET /api/views/{view}`, `GET /api/deadletter` and the `/ws` upgrade: all need a token.

use super::ApiError;
use crate::ApiState;
use crate::auth::{AuthError, Claims, Role, token_from};
use axum::Json;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ioc_analytics::ViewRequest;
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest websocket message a client may send.
const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// Filters of a view, as query parameters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ViewQuery {
    area: Option<String>,
    status: Option<String>,
    service_code: Option<String>,
}

/// Checks the request's token.
pub(crate) fn authenticate(
    state: &ApiState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Claims, ApiError> {
    let token = token_from(headers, uri.query()).ok_or(AuthError::Missing)?;
    Ok(state.auth.verify(&token)?)
}

/// Refuses (403) a caller whose role is below `needed`; `what` completes "… needs the X role".
pub(crate) fn require_role(claims: &Claims, needed: Role, what: &str) -> Result<(), ApiError> {
    if claims.role >= needed {
        return Ok(());
    }
    let name = match needed {
        Role::Viewer => "viewer",
        Role::Operator => "operator",
        Role::Admin => "admin",
    };
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        format!("{what} needs the {name} role"),
    ))
}

/// The current data of a view as plain JSON (the same data the websocket carries).
pub(crate) async fn view(
    State(state): State<ApiState>,
    Path(view): Path<String>,
    Query(query): Query<ViewQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let claims = authenticate(&state, &headers, &uri)?;
    let request = ViewRequest::parse(&view, query.area, query.status, query.service_code)?;
    crate::scope::check_request(&claims, &request)?;
    let request = crate::scope::scoped(&claims, request);
    let data = state.hub.compute(request).await?;
    Ok(Json((*data).clone()))
}

/// Query of the dead-letter list.
#[derive(Debug, Deserialize)]
pub(crate) struct DeadLetterQuery {
    /// How many records, newest first (default 100, at most 1000).
    limit: Option<usize>,
}

/// The newest dead-letter records with the counts by reason.
pub(crate) async fn dead_letters(
    State(state): State<ApiState>,
    Query(query): Query<DeadLetterQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let claims = authenticate(&state, &headers, &uri)?;
    // Refused payloads can hold anything a sender put in them, personal data included.
    require_role(&claims, Role::Admin, "reading the dead-letter")?;
    let limit = query.limit.unwrap_or(100).min(1000);
    let metrics = state.analytics.metrics(ioc_ingest::event::now_ms());
    let by_reason: serde_json::Map<String, Value> = metrics
        .rejected
        .iter()
        .map(|(reason, n)| (reason.as_str().to_string(), json!(n)))
        .collect();
    Ok(Json(json!({
        "total": metrics.rejected.values().sum::<u64>(),
        "by_reason": by_reason,
        "items": state.analytics.dead_letters(limit),
    })))
}

/// Upgrades to the live-view protocol after checking the token.
pub(crate) async fn websocket(
    State(state): State<ApiState>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let claims = match authenticate(&state, &headers, &uri) {
        Ok(claims) => claims,
        Err(error) => return error.into_response(),
    };
    let Ok(permit) = std::sync::Arc::clone(&state.connections).try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many websocket connections",
        )
        .into_response();
    };
    let hub = std::sync::Arc::clone(&state.hub);
    let queue = state.config.client_queue_frames;
    let shutdown = state.shutdown.subscribe();
    let counters = std::sync::Arc::clone(&state.counters);
    upgrade
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            crate::ws::serve_socket(socket, hub, claims, queue, counters, shutdown).await;
            drop(permit);
        })
}
