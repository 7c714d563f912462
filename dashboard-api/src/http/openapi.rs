//! `GET /api/openapi.json` (DESIGN §7): the HTTP API described for client generators and
//! for operators trying it by hand. Public, like the Open311 discovery document.

use axum::Json;
use serde_json::{Value, json};

/// A JSON answer with a schema reference.
fn answer(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}})
}

/// The operator API's paths; every one needs a bearer token.
fn operator_paths() -> Value {
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    json!({
        "/api/views/{view}": {"get": {
            "summary": "Current data of a live view (overview, area, alerts, reports, kpi)",
            "parameters": [
                {"name": "view", "in": "path", "required": true, "schema": {"type": "string", "enum": ["overview", "area", "alerts", "reports", "kpi"]}},
                {"name": "area", "in": "query", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "schema": {"type": "string"}},
                {"name": "service_code", "in": "query", "schema": {"type": "string"}}
            ],
            "responses": {"200": answer("The view's data"), "401": answer("No or bad token"), "403": answer("Outside the token's area scope")}
        }},
        "/api/deadletter": {"get": {
            "summary": "Newest refused messages and the counts by reason",
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}}],
            "responses": {"200": answer("Dead-letter records")}
        }},
        "/api/alerts": {"get": {
            "summary": "Alerts in the token's scope, newest first (open ones by default)",
            "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "all", "active", "acknowledged", "resolved"]}},
                {"name": "area", "in": "query", "schema": {"type": "string"}},
                {"name": "rule", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}}
            ],
            "responses": {"200": answer("`items` and `total`"), "400": answer("Bad filter"), "403": answer("Area outside the token's scope")}
        }},
        "/api/alerts/{id}": {"get": {
            "summary": "One alert",
            "parameters": [id.clone()],
            "responses": {"200": answer("The alert"), "403": answer("Outside the token's area scope"), "404": answer("No such alert")}
        }},
        "/api/alerts/{id}/ack": {"post": {
            "summary": "Acknowledge an active alert (operator role); pushed at once to `alerts` subscribers and MQTT `ioc/alerts`",
            "parameters": [id.clone()],
            "responses": {"200": answer("The alert, acknowledged"), "403": answer("Role or scope"), "404": answer("No such alert"), "409": answer("Not active")}
        }},
        "/api/alerts/{id}/resolve": {"post": {
            "summary": "Resolve an open alert (operator role); its rule raises no new alert for the subject until the condition clears",
            "parameters": [id.clone()],
            "responses": {"200": answer("The alert, resolved"), "403": answer("Role or scope"), "404": answer("No such alert"), "409": answer("Already resolved")}
        }},
        "/api/history": {"get": {
            "summary": "A telemetry field per bucket (count, mean, min, max) over the journal and the Parquet archive; an area-scoped token gets its areas only",
            "parameters": [
                {"name": "field", "in": "query", "required": true, "schema": {"type": "string"}, "description": "kind.field or a bare field, e.g. air_quality.pm25, pm25, traffic.speed"},
                {"name": "area", "in": "query", "schema": {"type": "string"}, "description": "an area id; omitted = the whole city (the token's areas when it is scoped)"},
                {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "RFC 3339 or epoch ms, inclusive; default 24 h before `to`"},
                {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "RFC 3339 or epoch ms, exclusive; default now"},
                {"name": "every", "in": "query", "schema": {"type": "string", "default": "1h"}, "description": "bucket width: <n>s|m|h|d|w, UTC epoch-aligned; at most 100000 buckets"}
            ],
            "responses": {"200": answer("{area, field, every, from, to, points: [{ts, count, mean, min, max}]}"), "400": answer("Bad field, every, range or unknown area"), "401": answer("No or bad token"), "403": answer("Area outside the token's scope")}
        }},
        "/api/history/compact": {"post": {
            "summary": "Move telemetry older than the history horizon to the Parquet archive now (admin role)",
            "responses": {"200": answer("events, rows, files written, orphans removed, cutoff"), "403": answer("Not an admin")}
        }},
        "/api/reports/{id}": {"get": {
            "summary": "A citizen report with its history; the reporter's contact in full for admins only",
            "parameters": [id.clone()],
            "responses": {"200": answer("The report"), "403": answer("Outside the token's area scope"), "404": answer("No such report")}
        }},
        "/api/reports/{id}/assign": {"post": {
            "summary": "Dispatch a report to an agency (operator role)",
            "parameters": [id.clone()],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["agency"], "properties": {"agency": {"type": "string"}, "note": {"type": "string"}}}}}},
            "responses": {"200": answer("The changed report"), "409": answer("Not allowed in the report's state")}
        }},
        "/api/reports/{id}/status": {"post": {
            "summary": "Move a report to in_progress, resolved, rejected or duplicate (operator role)",
            "parameters": [id.clone()],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["in_progress", "resolved", "rejected", "duplicate"]}, "note": {"type": "string"}}}}}},
            "responses": {"200": answer("The changed report"), "409": answer("Not allowed in the report's state")}
        }},
        "/api/reports/{id}/rate": {"post": {
            "summary": "Record the citizen's rating of a resolved report (operator role)",
            "parameters": [id],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["rating"], "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}}}}}},
            "responses": {"200": answer("The changed report"), "409": answer("Not resolved, or already rated")}
        }},
        "/api/session": {"get": {
            "summary": "The token's holder, role, area scope and expiry (what the operations page offers)",
            "responses": {"200": answer("sub, role, areas, expires_at"), "401": answer("No, bad or expired token")}
        }},
        "/api/areas": {"get": {
            "summary": "Every area's id, name, centroid and polygon, for drawing the map (no figures)",
            "responses": {"200": answer("The areas"), "401": answer("No or bad token")}
        }},
    })
}

/// The public paths: health, metrics, Open311.
fn public_paths() -> Value {
    let fmt = json!({"name": "format", "in": "path", "required": true, "schema": {"type": "string", "enum": ["json", "xml"]}});
    json!({
        "/healthz": {"get": {"summary": "Alive", "security": [], "responses": {"200": answer("ok")}}},
        "/readyz": {"get": {"summary": "Journal writing, broker connected, replay done", "security": [], "responses": {"200": answer("ready"), "503": answer("not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus text exposition", "security": [], "responses": {"200": {"description": "Metrics", "content": {"text/plain": {}}}}}},
        "/open311/discovery.{format}": {"get": {"summary": "Open311 discovery", "security": [], "parameters": [fmt.clone()], "responses": {"200": answer("Discovery document")}}},
        "/open311/v2/services.{format}": {"get": {"summary": "Report categories (Open311 GeoReport v2)", "security": [], "parameters": [fmt.clone()], "responses": {"200": answer("Services")}}},
        "/open311/v2/services/{code}.{format}": {"get": {"summary": "A category's definition and attributes", "security": [], "parameters": [fmt.clone(), {"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": answer("Service definition"), "404": answer("Unknown service_code")}}},
        "/open311/v2/requests.{format}": {
            "get": {"summary": "Reports, filtered (service_request_id, service_code, status, start_date, end_date; last 90 days, at most 1000)", "security": [], "parameters": [fmt.clone()], "responses": {"200": answer("Service requests"), "400": answer("Bad filter")}},
            "post": {"summary": "Post a report (form-encoded or JSON; api_key required); answered once journaled", "security": [], "parameters": [fmt.clone()], "responses": {"201": answer("service_request_id"), "400": answer("Invalid fields, all listed"), "403": answer("Missing or unknown api_key"), "404": answer("Unknown service_code"), "429": answer("Rate limit")}}
        },
        "/open311/v2/requests/{id}.{format}": {"get": {"summary": "One report", "security": [], "parameters": [fmt, {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": answer("Service request"), "404": answer("Unknown id")}}},
    })
}

/// The OpenAPI 3.1 document.
pub(crate) async fn openapi() -> Json<Value> {
    let mut paths = operator_paths();
    if let (Value::Object(all), Value::Object(public)) = (&mut paths, public_paths()) {
        all.extend(public);
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "IOC engine API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Operator REST API (bearer JWT), Open311 GeoReport v2 for citizen apps, health and metrics. Live views are served over the websocket at /ws."
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }))
}
