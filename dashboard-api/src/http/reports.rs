//! The operator's report API (docs/open311.md): `GET /api/reports/{id}` and
//! `POST /api/reports/{id}/assign|status|rate`. Each change is a `report_update` event in the
//! journal; the answer comes once analytics shows it.

use super::ApiError;
use super::access::Caller;
use super::operator_change;
use crate::ApiState;
use crate::auth::Role;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ioc_analytics::reports::ChangeError;
use ioc_analytics::views::ReportDetail;
use ioc_ingest::event::now_ms;
use ioc_ingest::report::update::{Change, Update};
use serde::Deserialize;

/// Longest operator note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// `GET /api/reports/{id}`: the report with its history; the reporter's contact only for an
/// admin, the phone masked for everyone else.
#[utoipa::path(
    get, path = "/api/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report with its history; full contact for admins only", body = super::schemas::ReportDetail),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Outside the token's area scope", body = super::schemas::ApiErrorBody),
        (status = 404, description = "No such report", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn get_report(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<ReportDetail>, ApiError> {
    let report = state
        .analytics
        .report(&id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no report {id:?}")))?;
    caller.require_area(&report.area)?;
    state
        .analytics
        .report_detail(&id, now_ms(), caller.claims.role == Role::Admin)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no report {id:?}")))
}

/// Body of a change: the fields of the chosen action, and an optional note.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeBody {
    agency: Option<String>,
    status: Option<String>,
    rating: Option<i64>,
    note: Option<String>,
}

/// `POST /api/reports/{id}/{action}` with `action` one of `assign`, `status`, `rate`.
#[utoipa::path(
    post, path = "/api/reports/{id}/{action}", tag = "reports",
    params(
        ("id" = String, Path, description = "Report id"),
        ("action" = String, Path, description = "`assign`, `status` or `rate`; operator role"),
    ),
    request_body = super::schemas::ReportChange,
    responses(
        (status = 200, description = "The changed report", body = super::schemas::ReportDetail),
        (status = 400, description = "Bad body", body = super::schemas::ApiErrorBody),
        (status = 401, description = "No or bad token", body = super::schemas::ApiErrorBody),
        (status = 403, description = "Role or scope", body = super::schemas::ApiErrorBody),
        (status = 404, description = "No such report or action", body = super::schemas::ApiErrorBody),
        (status = 409, description = "Not allowed in the report's state", body = super::schemas::ApiErrorBody),
    ),
)]
pub(crate) async fn change_report(
    State(state): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<ReportDetail>, ApiError> {
    caller.require(Role::Operator, "changing a report")?;
    let claims = &caller.claims;
    let intake = operator_change::intake(&state)?;
    let body: ChangeBody = serde_json::from_slice(&body)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, format!("bad body: {error}")))?;
    let missing =
        |field: &str| ApiError::new(StatusCode::BAD_REQUEST, format!("{action} needs `{field}`"));
    let change = match action.as_str() {
        "assign" => Change::Assign {
            agency: body.agency.ok_or_else(|| missing("agency"))?,
        },
        "status" => Change::Status {
            status: body.status.ok_or_else(|| missing("status"))?,
        },
        "rate" => Change::Rate {
            rating: body
                .rating
                .and_then(|r| u8::try_from(r).ok())
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "rate needs `rating` from 1 to 5")
                })?,
        },
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: use assign, status or rate"),
            ));
        }
    };
    if let Some(note) = &body.note
        && (note.chars().count() > MAX_NOTE_CHARS
            || note
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("note must be at most {MAX_NOTE_CHARS} characters of text"),
        ));
    }
    if let Some(report) = state.analytics.report(&id) {
        caller.require_area(&report.area)?;
    }
    // One change at a time: the check below stays true until the event is applied.
    let _turn = intake.updates.lock().await;
    let (area, version) =
        state
            .analytics
            .check_change(&id, &change)
            .map_err(|error| match error {
                ChangeError::UnknownReport(_) => {
                    ApiError::new(StatusCode::NOT_FOUND, error.to_string())
                }
                ChangeError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, error.to_string()),
                ChangeError::Invalid(_) => {
                    ApiError::new(StatusCode::BAD_REQUEST, error.to_string())
                }
            })?;
    let event = Update {
        report_id: id.clone(),
        change,
        by: claims.sub.clone(),
        note: body.note,
    }
    // The id names the version the change was checked against: two changes made at once
    // from the same version (on two engine instances) share it, and the journal stores one.
    .into_event(format!("{id}:v{version}"), area, now_ms());
    operator_change::journal(&state, &intake, event, &format!("report {id:?}")).await?;
    state
        .analytics
        .report_detail(&id, now_ms(), claims.role == Role::Admin)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no report {id:?}")))
}
