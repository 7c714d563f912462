//! `GET /api/history` (docs/api.md): a telemetry field aggregated per bucket over the journal and
//! the Parquet archive; and `POST /api/history/compact` (admin) to run a compaction now.

use super::ApiError;
use super::views::{authenticate, require_role};
use crate::ApiState;
use crate::auth::Role;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use ioc_analytics::history::{Every, History, HistoryError, HistoryRequest, resolve_field};
use ioc_ingest::event::{format_ts, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Range asked for when `from` is missing: the day before `to`.
const DEFAULT_RANGE_MS: i64 = 86_400_000;

/// Query parameters of `GET /api/history`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HistoryParams {
    area: Option<String>,
    field: Option<String>,
    from: Option<String>,
    to: Option<String>,
    every: Option<String>,
}

impl From<HistoryError> for ApiError {
    fn from(error: HistoryError) -> Self {
        match error {
            HistoryError::BadRequest(message) => ApiError::new(StatusCode::BAD_REQUEST, message),
            other => {
                tracing::error!(error = %other, "history failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }
}

fn history_of(state: &ApiState) -> Result<Arc<History>, ApiError> {
    state
        .history
        .clone()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "history is not enabled"))
}

/// Parses `from`/`to`: RFC 3339 or epoch milliseconds.
fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{name} {text:?} is neither RFC 3339 nor epoch milliseconds"),
            )
        })
}

/// `GET /api/history?area=&field=&from=&to=&every=`: any valid token; an area-scoped token
/// may name only its areas, and without `area` gets its areas aggregated.
#[utoipa::path(
    get, path = "/api/history", tag = "history",
    params(
        ("field" = String, Query, description = "`kind.field` or a bare field: `air_quality.pm25`, `pm25`, `traffic.speed`"),
        ("area" = Option<String>, Query, description = "An area id; omitted = the whole city (the token's areas when scoped)"),
        ("from" = Option<String>, Query, description = "RFC 3339 or epoch ms, inclusive; default 24 h before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339 or epoch ms, exclusive; default now"),
        ("every" = Option<String>, Query, description = "Bucket width `<n>s|m|h|d|w` (default `1h`), UTC-aligned"),
    ),
    responses(
        (status = 200, description = "Count, mean, min and max per bucket", body = super::schemas::HistoryAnswer),
        (status = 400, description = "Bad field, every, range or unknown area", body = super::schemas::ApiErrorBody),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Area outside the token's scope", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn history(
    State(state): State<ApiState>,
    Query(params): Query<HistoryParams>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let claims = authenticate(&state, &headers, &uri).await?;
    let history = history_of(&state)?;
    let field_text = params.field.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "field is required (e.g. air_quality.pm25)",
        )
    })?;
    let field = resolve_field(field_text)?;
    let to_ms = match &params.to {
        Some(text) => parse_time("to", text)?,
        None => now_ms(),
    };
    let from_ms = match &params.from {
        Some(text) => parse_time("from", text)?,
        None => to_ms - DEFAULT_RANGE_MS,
    };
    let every = Every::parse(params.every.as_deref().unwrap_or("1h"))?;
    let areas = match &params.area {
        Some(area) => {
            if state.analytics.areas().get(area).is_none() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("unknown area {area:?}"),
                ));
            }
            if !crate::scope::allows_area(&claims, area) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("area {area:?} is outside this token's scope"),
                ));
            }
            Some(vec![area.clone()])
        }
        None => claims.areas.clone(),
    };
    let name = format!("{}.{}", field.0.as_str(), field.1);
    let request = HistoryRequest::new(field, areas.clone(), from_ms, to_ms, every)?;
    let every_text = request.every.text.clone();
    let answer = tokio::task::spawn_blocking(move || history.query(&request))
        .await
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))??;
    let points: Vec<Value> = answer
        .points
        .iter()
        .map(|p| {
            json!({"ts": format_ts(p.ts_ms), "count": p.count, "mean": p.mean, "min": p.min, "max": p.max})
        })
        .collect();
    let mut body = json!({
        "area": params.area,
        "field": name,
        "every": every_text,
        "from": format_ts(from_ms),
        "to": format_ts(to_ms),
        "points": points,
        "sources": {"journal_values": answer.journal_values, "archive_files": answer.archive_files},
    });
    if params.area.is_none()
        && let Some(scope) = areas
    {
        body["areas"] = json!(scope);
    }
    Ok(Json(body))
}

/// `POST /api/history/compact` (admin): moves telemetry older than the horizon to the archive
/// now, instead of waiting for the next periodic run; answers what was moved.
#[utoipa::path(
    post, path = "/api/history/compact", tag = "history",
    responses(
        (status = 200, description = "What was moved to the archive", body = super::schemas::CompactAnswer),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Not an admin", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn compact(
    State(state): State<ApiState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let claims = authenticate(&state, &headers, &uri).await?;
    require_role(&claims, Role::Admin, "running a compaction")?;
    let history = history_of(&state)?;
    let report = tokio::task::spawn_blocking(move || history.compact(now_ms()))
        .await
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))??;
    Ok(Json(json!({
        "events": report.events,
        "rows": report.rows,
        "files": report.files,
        "removed_orphans": report.removed_orphans,
        "cutoff": format_ts(report.cutoff_ms),
    })))
}
