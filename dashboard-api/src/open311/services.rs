//! `GET services.{fmt}` and `GET services/{code}.{fmt}`: the nine categories and their
//! definitions (attributes such as the flood depth).

use super::errors::Open311Error;
use super::format::Format;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use ioc_ingest::report::catalog::{SERVICES, Service, service};
use serde_json::{Value, json};

/// One category as the Open311 service list shows it.
fn listing(service: &Service) -> Value {
    json!({
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": !service.attributes.is_empty(),
        "type": "realtime",
        "keywords": service.code.replace('_', " "),
        "group": service.group,
    })
}

/// The service list.
pub(crate) fn list(format: Format) -> Response {
    let services: Vec<Value> = SERVICES.iter().map(listing).collect();
    format.respond(StatusCode::OK, "services", &Value::Array(services))
}

/// A category's definition: its attributes; 404 for an unknown code.
#[utoipa::path(get, path = "/open311/v2/services/{file}", tag = "open311", security(()),
    params(("file" = String, Path, description = "`<service_code>.json` or `.xml`")),
    responses(
        (status = 200, description = "The category's attributes", content((crate::http::schemas::ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 404, description = "Unknown service_code", body = [crate::http::schemas::Open311Error]),
    ))]
pub(crate) async fn definition(Path(file): Path<String>) -> Response {
    let Some((code, format)) = Format::split(&file) else {
        return Open311Error::one(StatusCode::NOT_FOUND, "use .json or .xml").render(Format::Json);
    };
    let Some(service) = service(code) else {
        return Open311Error::one(
            StatusCode::NOT_FOUND,
            format!("service_code {code:?} is not a known service"),
        )
        .render(format);
    };
    let attributes: Vec<Value> = service
        .attributes
        .iter()
        .enumerate()
        .map(|(order, attribute)| {
            json!({
                "variable": true,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": format!("{} đến {}", attribute.range.0, attribute.range.1),
                "order": order + 1,
                "description": attribute.description,
            })
        })
        .collect();
    format.respond(
        StatusCode::OK,
        "service_definition",
        &json!({"service_code": service.code, "attributes": attributes}),
    )
}
