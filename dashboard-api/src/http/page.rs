//! The operations page: its compiled-in files, and the two small answers it needs besides the
//! views (who the token belongs to, and where the areas lie on the map).
//!
//! Every asset is compiled into the binary, so the page works on a closed network with no
//! CDN, fonts or map tiles from outside.

use super::access::Caller;
use crate::ApiState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

/// One compiled-in file of the page: its name under `/assets/`, media type and text.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

/// Files served under `/assets/`: the style sheet and the page's ES modules.
const ASSETS: &[Asset] = &[
    asset("app.css", "text/css", include_str!("../../web/app.css")),
    js("main.js", include_str!("../../web/js/main.js")),
    js("live.js", include_str!("../../web/js/live.js")),
    js("geo.js", include_str!("../../web/js/geo.js")),
    js("map.js", include_str!("../../web/js/map.js")),
    js("wall.js", include_str!("../../web/js/wall.js")),
    js("area.js", include_str!("../../web/js/area.js")),
    js("i18n.js", include_str!("../../web/js/i18n.js")),
    js("dom.js", include_str!("../../web/js/dom.js")),
];

const fn asset(name: &'static str, media_type: &'static str, body: &'static str) -> Asset {
    Asset {
        name,
        media_type,
        body,
    }
}

const fn js(name: &'static str, body: &'static str) -> Asset {
    asset(name, "text/javascript; charset=utf-8", body)
}

/// The page itself; it signs in with the token in its own URL or a form, so serving it needs
/// no token.
pub(crate) async fn index() -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(include_str!("../../web/index.html")),
    )
        .into_response()
}

/// One of the page's files, or 404.
pub(crate) async fn asset_file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.media_type),
                // Revalidated on every load: a new engine version never runs an old module.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// `GET /api/session`: the token's holder, role, area scope and expiry, so the page knows
/// which buttons to offer and when the sign-in ends (401 for a bad or expired token).
pub(crate) async fn session(caller: Caller) -> Json<Value> {
    let claims = &caller.claims;
    Json(json!({
        "sub": claims.sub,
        "role": claims.role,
        "areas": claims.areas,
        "expires_at": claims.exp,
    }))
}

/// `GET /api/areas`: every area's id, name, centroid and polygon, for drawing the map. It
/// carries no figures, so a scoped token gets all shapes (the others are drawn greyed).
pub(crate) async fn areas(State(state): State<ApiState>, _caller: Caller) -> Json<Value> {
    let areas = state.analytics.areas();
    Json(json!({ "areas": areas.all() }))
}
