//! `POST requests.{fmt}` (a citizen's report, answered only once it is journaled and visible),
//! `GET requests.{fmt}` (filtered list) and `GET requests/{id}.{fmt}`. No answer here ever
//! carries the reporter's phone, e-mail or name.

use super::errors::Open311Error;
use super::form::{self, text};
use super::format::Format;
use crate::ApiState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ioc_analytics::reports::query::{DEFAULT_WINDOW_MS, MAX_RESULTS, statuses_of};
use ioc_analytics::reports::{Report, ReportQuery};
use ioc_ingest::event::{format_ts, now_ms};
use ioc_ingest::report::{self, MAX_ID_BYTES, ProblemKind};
use serde_json::{Map, Value, json};

/// The form field carrying an app's own id for a report, for idempotent retries.
const CLIENT_ID_FIELD: &str = "client_request_id";

/// One report as Open311 shows it.
fn open311_item(state: &ApiState, report: &Report) -> Value {
    let service = report::catalog::service(&report.service_code);
    json!({
        "service_request_id": report.id,
        "status": report.status.open311(),
        "status_notes": report.status_notes,
        "service_name": service.map(|s| s.name),
        "service_code": report.service_code,
        "description": report.description,
        "agency_responsible": report.agency,
        "service_notice": notice(state, &report.service_code),
        "requested_datetime": format_ts(report.requested_ms),
        "updated_datetime": format_ts(report.updated_ms),
        "expected_datetime": format_ts(report.expected_ms),
        "address": report.address,
        "address_id": Value::Null,
        "zipcode": Value::Null,
        "lat": report.lat,
        "long": report.lon,
        "media_url": report.media_url,
    })
}

fn notice(state: &ApiState, code: &str) -> String {
    let hours = state.analytics.sla_hours(code);
    format!("Đã tiếp nhận phản ánh. Thời hạn xử lý: {hours} giờ.")
}

/// Whether `key` is one of the configured keys (compared without early exit).
fn known_key(keys: &[String], key: &str) -> bool {
    keys.iter().fold(false, |found, candidate| {
        let same = candidate.len() == key.len()
            && candidate
                .bytes()
                .zip(key.bytes())
                .fold(0_u8, |diff, (a, b)| diff | (a ^ b))
                == 0;
        found | same
    })
}

/// Takes a token from the named bucket, or refuses with 429 and when to retry.
fn limit(intake: &crate::ReportIntake, bucket: String, per_min: u32) -> Result<(), Open311Error> {
    intake
        .limiter
        .take(&[(bucket, per_min)], std::time::Instant::now())
        .map_err(|wait| {
            let mut error = Open311Error::one(
                StatusCode::TOO_MANY_REQUESTS,
                "too many reports from this app or address; try again later",
            );
            error.retry_after = Some(wait);
            error
        })
}

/// `POST requests.{fmt}`.
pub(crate) async fn create(
    state: ApiState,
    format: Format,
    peer: std::net::IpAddr,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match create_report(&state, peer, &headers, &body).await {
        Ok(answer) => format.respond(StatusCode::CREATED, "service_requests", &answer),
        Err(error) => {
            let mut response = error.render(format);
            if let Some(wait) = error.retry_after {
                let seconds = wait.as_secs().max(1).to_string();
                if let Ok(value) = axum::http::HeaderValue::from_str(&seconds) {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

async fn create_report(
    state: &ApiState,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Open311Error> {
    let Some(intake) = &state.reports else {
        return Err(Open311Error::one(
            StatusCode::SERVICE_UNAVAILABLE,
            "this engine does not accept reports",
        ));
    };
    // Per address first, so that guessing keys is limited too.
    limit(intake, format!("ip:{peer}"), intake.limits.per_ip_per_min)?;
    let fields = form::body_fields(headers, body)?;
    let api_key = match text(&fields, "api_key") {
        Some(key) if known_key(&intake.api_keys, &key) => key,
        Some(_) => {
            return Err(Open311Error::one(
                StatusCode::FORBIDDEN,
                "api_key is not valid",
            ));
        }
        None => {
            return Err(Open311Error::one(
                StatusCode::FORBIDDEN,
                "api_key is required",
            ));
        }
    };
    limit(
        intake,
        format!("key:{api_key}"),
        intake.limits.per_key_per_min,
    )?;
    let client_id = text(&fields, CLIENT_ID_FIELD);
    let mut problems = Vec::new();
    if client_id.as_ref().is_some_and(|id| id.len() > MAX_ID_BYTES) {
        problems.push(format!(
            "{CLIENT_ID_FIELD} is longer than {MAX_ID_BYTES} bytes"
        ));
    }
    let areas = state.analytics.areas();
    let checked = match report::check(&fields, &areas, None) {
        Ok(checked) => Some(checked),
        Err(found) => {
            if let Some(unknown) = found.iter().find(|p| p.kind == ProblemKind::UnknownService) {
                return Err(Open311Error::one(
                    StatusCode::NOT_FOUND,
                    unknown.message.clone(),
                ));
            }
            problems.extend(found.into_iter().map(|p| p.message));
            None
        }
    };
    let Some(checked) = checked.filter(|_| problems.is_empty()) else {
        return Err(Open311Error::bad_request(problems));
    };
    let device = text(&fields, "device_id");
    let id = report::http_event_id(&api_key, device.as_deref(), client_id.as_deref());
    let source = device.map_or_else(|| "open311".to_string(), |d| format!("open311:{d}"));
    let event = report::into_event(checked, id, source, now_ms());
    let request_id = event
        .values
        .get("service_request_id")
        .cloned()
        .unwrap_or(Value::Null);
    let code = event
        .values
        .get("service_code")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    intake
        .journal_visible(&state.analytics, event)
        .await
        .map_err(|error| {
            tracing::error!(%error, "report not journaled");
            Open311Error::one(
                StatusCode::SERVICE_UNAVAILABLE,
                "the report could not be stored; try again",
            )
        })?;
    Ok(json!([{
        "service_request_id": request_id,
        "service_notice": notice(state, &code),
        "account_id": Value::Null,
    }]))
}

/// `GET requests.{fmt}`.
pub(crate) fn list(state: &ApiState, format: Format, query: Option<&str>) -> Response {
    let result = form::query_fields(query).and_then(|fields| list_query(&fields, now_ms()));
    match result {
        Ok(query) => {
            let items: Vec<Value> = state
                .analytics
                .query_reports(&query)
                .iter()
                .map(|report| open311_item(state, report))
                .collect();
            format.respond(StatusCode::OK, "service_requests", &Value::Array(items))
        }
        Err(error) => error.render(format),
    }
}

/// Reads the list filters; every bad one is named at once.
fn list_query(fields: &Map<String, Value>, now: i64) -> Result<ReportQuery, Open311Error> {
    let list = |key: &str| -> Vec<String> {
        text(fields, key)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    let ids = list("service_request_id");
    if !ids.is_empty() {
        return Ok(ReportQuery {
            ids: Some(ids),
            limit: MAX_RESULTS,
            ..ReportQuery::default()
        });
    }
    let mut statuses = Vec::new();
    for name in list("status") {
        match statuses_of(&name).filter(|_| name == "open" || name == "closed") {
            Some(found) => statuses.extend(found),
            None => problems.push(format!("status {name:?} is not open or closed")),
        }
    }
    let mut date = |key: &str| -> Option<i64> {
        let value = text(fields, key)?;
        match parse_date(&value) {
            Some(ms) => Some(ms),
            None => {
                problems.push(format!("{key} {value:?} is not a W3C date-time"));
                None
            }
        }
    };
    let start = date("start_date");
    let end = date("end_date");
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        problems.push("start_date is after end_date".into());
    }
    if !problems.is_empty() {
        return Err(Open311Error::bad_request(problems));
    }
    let start = start.or_else(|| Some(end.unwrap_or(now) - DEFAULT_WINDOW_MS));
    Ok(ReportQuery {
        ids: None,
        service_codes: list("service_code"),
        statuses,
        areas: Vec::new(),
        start_ms: start,
        end_ms: end,
        limit: MAX_RESULTS,
    })
}

/// A W3C date-time with a zone (`2026-11-22T09:00:00+07:00`), or a bare date (UTC midnight).
fn parse_date(value: &str) -> Option<i64> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(value.trim()) {
        return Some(time.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc().timestamp_millis())
}

/// `GET requests/{id}.{fmt}`.
#[utoipa::path(get, path = "/open311/v2/requests/{file}", tag = "open311", security(()),
    params(("file" = String, Path, description = "`<service_request_id>.json` or `.xml`")),
    responses(
        (status = 200, description = "The report (a list of one)", content((Vec<crate::http::schemas::ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "Unknown id", body = [crate::http::schemas::Open311Error]),
    ))]
pub(crate) async fn one(State(state): State<ApiState>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = Format::split(&file) else {
        return Open311Error::one(StatusCode::NOT_FOUND, "use .json or .xml").render(Format::Json);
    };
    match state.analytics.report(id) {
        Some(report) => format.respond(
            StatusCode::OK,
            "service_requests",
            &json!([open311_item(&state, &report)]),
        ),
        None => Open311Error::one(
            StatusCode::NOT_FOUND,
            format!("service_request_id {id:?} is not known"),
        )
        .render(format),
    }
}

/// The list query of `GET requests.{fmt}` from raw query text (for the dispatcher).
pub(crate) fn list_raw(state: &ApiState, format: Format, RawQuery(query): RawQuery) -> Response {
    list(state, format, query.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(query: &str) -> Map<String, Value> {
        form::query_fields(Some(query)).unwrap_or_default()
    }

    #[test]
    fn ids_override_every_other_filter() {
        let query = list_query(&fields("service_request_id=a,b&status=bogus"), 0);
        assert_eq!(query.map(|q| q.ids), Ok(Some(vec!["a".into(), "b".into()])));
    }

    #[test]
    fn the_default_window_is_ninety_days_and_bad_filters_are_all_named() {
        let now = 100 * 24 * 3600 * 1000;
        let query = list_query(&fields(""), now);
        assert_eq!(query.map(|q| q.start_ms), Ok(Some(now - DEFAULT_WINDOW_MS)));
        let error = list_query(&fields("status=pending&start_date=yesterday"), now);
        assert_eq!(error.map(|_| ()).map_err(|e| e.errors.len()), Err(2));
    }

    #[test]
    fn dates_with_zones_and_bare_dates_parse() {
        assert_eq!(parse_date("1970-01-01T07:00:00+07:00"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("01/02/1970"), None);
    }
}
