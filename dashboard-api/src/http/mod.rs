//! Routes and the small handlers; each group of paths has its own module.

mod access;
mod alerts;
mod errors;
mod health;
mod history;
mod limits;
mod openapi;
mod reports;
mod views;

use crate::ApiState;
use axum::Router;
use axum::routing::get;

pub(crate) use errors::ApiError;

/// The operators' dashboard page, compiled in; it authenticates its websocket with the token
/// in its own URL, so serving the page itself needs none.
async fn dashboard() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../../web/index.html"))
}

/// All routes.
pub(crate) fn router(state: ApiState) -> Router {
    let limits = limits::BodyLimits {
        max_bytes: state.config.max_body_bytes,
        read_timeout: state.config.read_timeout,
    };
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/views/{view}", get(views::view))
        .route("/api/deadletter", get(views::dead_letters))
        .route("/ws", get(views::websocket))
        .route("/api/openapi.json", get(openapi::openapi))
        .route("/api/alerts", get(alerts::list_alerts))
        .route("/api/alerts/{id}", get(alerts::get_alert))
        .route(
            "/api/alerts/{id}/{action}",
            axum::routing::post(alerts::change_alert),
        )
        .route("/api/history", get(history::history))
        .route(
            "/api/history/compact",
            axum::routing::post(history::compact),
        )
        .route("/api/reports/{id}", get(reports::get_report))
        .route(
            "/api/reports/{id}/{action}",
            axum::routing::post(reports::change_report),
        )
        .merge(crate::open311::routes())
        .merge(crate::open_data::routes(state.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_bytes))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::read_body,
        ))
        .layer(axum::middleware::from_fn(errors::json_refusals))
        .with_state(state)
}
