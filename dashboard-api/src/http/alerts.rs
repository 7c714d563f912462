//! The alert API (docs/api.md): `GET /api/alerts`, `GET /api/alerts/{id}`,
//! `POST /api/alerts/{id}/ack|resolve`. A change is an alert event in the journal; the answer
//! comes once analytics shows it, and the change is pushed to websocket clients and MQTT.

use super::ApiError;
use super::access::Caller;
use super::operator_change;
use crate::ApiState;
use crate::auth::Role;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ioc_analytics::alerts::{AlertChangeError, Transition};
use ioc_analytics::views::{AlertFilter, AlertQuery};
use ioc_ingest::event::now_ms;
use serde::Deserialize;
use serde_json::{Value, json};

/// Query of `GET /api/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertListQuery {
    /// `open` (default), `all`, `active`, `acknowledged` or `resolved`.
    state: Option<String>,
    /// One area.
    area: Option<String>,
    /// One rule.
    rule: Option<String>,
    /// At most this many.
    limit: Option<usize>,
    /// Browsers pass the token here.
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// `GET /api/alerts`: the alerts in the caller's scope, newest first.
#[utoipa::path(
    get, path = "/api/alerts", tag = "alerts",
    params(
        ("state" = Option<String>, Query, description = "`open` (default), `all`, `active`, `acknowledged` or `resolved`"),
        ("area" = Option<String>, Query, description = "An area id"),
        ("rule" = Option<String>, Query, description = "A rule id"),
        ("limit" = Option<u32>, Query, description = "Most alerts to return"),
    ),
    responses(
        (status = 200, description = "Alerts in the token's scope, newest first", body = super::schemas::AlertList),
        (status = 400, description = "Bad filter", body = super::schemas::ApiErrorBody),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Area outside the token's scope", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn list_alerts(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<AlertListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) =
        query.map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, error.body_text()))?;
    let filter = match query.state.as_deref() {
        None => AlertFilter::Open,
        Some(text) => AlertFilter::parse_or_explain(text, "state")
            .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, message))?,
    };
    if let Some(area) = &query.area {
        caller.require_area(area)?;
    }
    let items = state.analytics.alerts(&AlertQuery {
        filter,
        area: query.area,
        scope: caller.scope().map(<[String]>::to_vec),
        rule: query.rule,
        limit: query.limit,
    });
    Ok(Json(json!({
        "total": items.len(),
        "items": items.iter().map(|alert| alert.to_json()).collect::<Vec<_>>(),
    })))
}

/// `GET /api/alerts/{id}`.
#[utoipa::path(
    get, path = "/api/alerts/{id}", tag = "alerts",
    params(("id" = String, Path, description = "Alert id")),
    responses(
        (status = 200, description = "The alert", body = super::schemas::Alert),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Outside the token's area scope", body = super::schemas::ApiErrorBody),
        (status = 404, description = "No such alert", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn get_alert(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let alert = state
        .analytics
        .alert(&id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id:?}")))?;
    caller.require_area(&alert.area)?;
    Ok(Json(alert.to_json()))
}

/// `POST /api/alerts/{id}/{action}` with `action` `ack` or `resolve` (operator or admin).
#[utoipa::path(
    post, path = "/api/alerts/{id}/{action}", tag = "alerts",
    params(
        ("id" = String, Path, description = "Alert id"),
        ("action" = String, Path, description = "`ack` (an active alert) or `resolve` (an open one); operator role"),
    ),
    responses(
        (status = 200, description = "The changed alert, also pushed to `alerts` subscribers and MQTT `ioc/alerts`", body = super::schemas::Alert),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Role or scope", body = super::schemas::ApiErrorBody),
        (status = 404, description = "No such alert or action", body = super::schemas::ApiErrorBody),
        (status = 409, description = "Not allowed in the alert's state", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn change_alert(
    State(state): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator, "changing an alert")?;
    let resolve = match action.as_str() {
        "ack" => false,
        "resolve" => true,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: use ack or resolve"),
            ));
        }
    };
    let intake = operator_change::intake(&state)?;
    if let Some(alert) = state.analytics.alert(&id) {
        caller.require_area(&alert.area)?;
    }
    // One change at a time: the check below stays true until the event is applied.
    let _turn = intake.updates.lock().await;
    let alert = state
        .analytics
        .check_alert_change(&id, resolve)
        .map_err(|error| match error {
            AlertChangeError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, error.to_string())
            }
            AlertChangeError::Conflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, error.to_string())
            }
        })?;
    let now = now_ms();
    let transition = if resolve {
        Transition::Resolve {
            id: id.clone(),
            by: Some(caller.claims.sub.clone()),
            value: None,
            at_ms: now,
        }
    } else {
        Transition::Acknowledge {
            id: id.clone(),
            by: caller.claims.sub.clone(),
            at_ms: now,
        }
    };
    // The transition's id is one per alert and action.
    let event = transition.to_event(&alert.area, now);
    operator_change::journal(&state, &intake, event, &format!("alert {id:?}")).await?;
    state
        .analytics
        .alert(&id)
        .map(|alert| Json(alert.to_json()))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id:?}")))
}
