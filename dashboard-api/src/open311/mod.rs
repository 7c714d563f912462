//! Open311 GeoReport v2 (docs/open311.md) under `/open311/v2/`, every endpoint in JSON and XML,
//! plus discovery. Citizen apps post reports here; they go through the same journal as
//! sensor events and come back through the same analytics.

pub(crate) mod discovery;
mod errors;
mod form;
mod format;
mod limit;
pub(crate) mod requests;
pub(crate) mod services;
mod xml;

use crate::ApiState;
use axum::Router;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use errors::Open311Error;
use format::Format;
pub(crate) use limit::Limiter;
pub use limit::Open311Limits;

/// Open311 routes, to be merged into the API router.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/open311/{file}", get(discovery::discovery))
        .route("/open311/v2/{file}", get(get_file).post(post_file))
        .route("/open311/v2/services/{file}", get(services::definition))
        .route("/open311/v2/requests/{file}", get(requests::one))
}

/// An Open311 error answer (`[{"code":…,"description":…}]`, or XML for a `.xml` path) for
/// refusals made before a handler runs (body too large, body too slow).
pub(crate) fn error_for_path(path: &str, status: StatusCode, description: &str) -> Response {
    Open311Error::one(status, description).render(Format::of_path(path))
}

fn not_found(file: &str) -> Response {
    Open311Error::one(
        StatusCode::NOT_FOUND,
        format!("no Open311 resource {file:?}"),
    )
    .render(Format::of_path(file))
}

/// `GET services.{fmt}` and `GET requests.{fmt}`.
#[utoipa::path(get, path = "/open311/v2/{file}", tag = "open311", security(()),
    params(
        ("file" = String, Path, description = "`services.json`/`.xml` (the categories) or `requests.json`/`.xml` (reports: last 90 days, at most 1000)"),
        ("service_request_id" = Option<String>, Query, description = "`requests`: comma-separated ids"),
        ("service_code" = Option<String>, Query, description = "`requests`: a category"),
        ("status" = Option<String>, Query, description = "`requests`: `open` or `closed`"),
        ("start_date" = Option<String>, Query, description = "`requests`: RFC 3339"),
        ("end_date" = Option<String>, Query, description = "`requests`: RFC 3339"),
    ),
    responses(
        (status = 200, description = "The services, or the service requests", content((crate::http::schemas::Open311List = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Bad filter", body = [crate::http::schemas::Open311Error]),
        (status = 404, description = "No such resource", body = [crate::http::schemas::Open311Error]),
    ))]
pub(crate) async fn get_file(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    query: RawQuery,
) -> Response {
    match Format::split(&file) {
        Some(("services", format)) => services::list(format),
        Some(("requests", format)) => requests::list_raw(&state, format, query),
        _ => not_found(&file),
    }
}

/// `POST requests.{fmt}`.
#[utoipa::path(post, path = "/open311/v2/{file}", tag = "open311", security(()),
    params(("file" = String, Path, description = "`requests.json` or `requests.xml`")),
    request_body(
        content(
            (crate::http::schemas::ServiceRequestPost = "application/x-www-form-urlencoded"),
            (crate::http::schemas::ServiceRequestPost = "application/json"),
        ),
        description = "The report; `api_key` identifies the citizen app"
    ),
    responses(
        (status = 201, description = "Journaled; its id", content((Vec<crate::http::schemas::ServiceRequestCreated> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Invalid fields, all listed", body = [crate::http::schemas::Open311Error]),
        (status = 403, description = "Missing or unknown api_key", body = [crate::http::schemas::Open311Error]),
        (status = 404, description = "Unknown service_code", body = [crate::http::schemas::Open311Error]),
        (status = 429, description = "Rate limit of the key or client address", body = [crate::http::schemas::Open311Error]),
    ))]
pub(crate) async fn post_file(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match Format::split(&file) {
        Some(("requests", format)) => {
            requests::create(state, format, peer.ip(), headers, body).await
        }
        _ => not_found(&file),
    }
}
