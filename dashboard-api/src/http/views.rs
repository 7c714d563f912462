//! `GET /api/views/{view}`, `GET /api/deadletter` and the `/ws` upgrade: all need a token.

use super::ApiError;
use super::access::Caller;
pub(crate) use super::access::authenticate;
// Handlers written before `access` existed import the role check from here.
#[allow(unused_imports)]
pub(crate) use super::access::require_role;
use crate::ApiState;
use crate::auth::Role;
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

/// The current data of a view as plain JSON (the same data the websocket carries).
#[utoipa::path(
    get, path = "/api/views/{view}", tag = "views",
    params(
        ("view" = String, Path, description = "`overview`, `area`, `alerts`, `reports` or `kpi`"),
        ("area" = Option<String>, Query, description = "An area id (required for `area`)"),
        ("status" = Option<String>, Query, description = "`reports`: `open`, `closed`, `all` or a status"),
        ("service_code" = Option<String>, Query, description = "`reports`: a category"),
    ),
    responses(
        (status = 200, description = "The view's data", body = super::schemas::ViewData),
        (status = 400, description = "Bad or missing parameter", body = super::schemas::ApiErrorBody),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Area outside the token's scope", body = super::schemas::ApiErrorBody),
        (status = 404, description = "No such view", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn view(
    State(state): State<ApiState>,
    Path(view): Path<String>,
    Query(query): Query<ViewQuery>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let request = ViewRequest::parse(&view, query.area, query.status, query.service_code)?;
    let request = caller.view_request(request)?;
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
#[utoipa::path(
    get, path = "/api/deadletter", tag = "views",
    params(("limit" = Option<u32>, Query, description = "Newest records to return (default 100, at most 1000)")),
    responses(
        (status = 200, description = "Newest refused messages and the counts by reason", body = super::schemas::DeadLetters),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Not an admin, or an area-scoped token", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn dead_letters(
    State(state): State<ApiState>,
    Query(query): Query<DeadLetterQuery>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    // Refused payloads can hold anything a sender put in them, personal data included.
    caller.require(Role::Admin, "reading the dead-letter")?;
    // Refused messages belong to no area the scope could filter by.
    if caller.scope().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the dead-letter is city-wide: it needs a token without an area scope",
        ));
    }
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
    let claims = match authenticate(&state, &headers, &uri).await {
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
