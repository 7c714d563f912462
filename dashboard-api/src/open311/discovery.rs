//! `GET /open311/discovery.{fmt}`: where the GeoReport v2 endpoint is and what it speaks.

use super::errors::Open311Error;
use super::format::Format;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

/// When this API's contract last changed.
const CHANGESET: &str = "2026-11-25T00:00:00Z";

/// The discovery document; the endpoint URL is built from the request's `Host`.
#[utoipa::path(get, path = "/open311/{file}", tag = "open311", security(()),
    params(("file" = String, Path, description = "`discovery.json` or `discovery.xml`")),
    responses(
        (status = 200, description = "Where the GeoReport v2 endpoint is", content((crate::http::schemas::Discovery = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such document", body = [crate::http::schemas::Open311Error]),
    ))]
pub(crate) async fn discovery(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let format = match Format::split(&file) {
        Some(("discovery", format)) => format,
        _ => {
            return Open311Error::one(StatusCode::NOT_FOUND, "no such document")
                .render(Format::of_path(&file));
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let body = json!({
        "changeset": CHANGESET,
        "contact": "Trung tâm giám sát, điều hành đô thị thông minh (IOC)",
        "key_service": "API keys are issued per citizen app by the IOC operator.",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": format!("http://{host}/open311/v2"),
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    });
    format.respond(StatusCode::OK, "discovery", &body)
}
