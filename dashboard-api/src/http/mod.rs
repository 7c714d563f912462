//! Routes and the small handlers; each group of paths has its own module.

mod access;
mod alerts;
mod errors;
mod health;
mod history;
mod limits;
mod openapi;
mod operator_change;
mod page;
mod reports;
pub(crate) mod schemas;
mod views;

use crate::ApiState;
use axum::Router;
use axum::routing::get;

pub(crate) use errors::ApiError;

/// All routes.
pub(crate) fn router(state: ApiState) -> Router {
    let limits = limits::BodyLimits {
        max_bytes: state.config.max_body_bytes,
        read_timeout: state.config.read_timeout,
    };
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset_file))
        .route("/api/session", get(page::session))
        .route("/api/areas", get(page::areas))
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
