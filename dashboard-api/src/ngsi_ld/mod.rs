//! The NGSI-LD read door for a province's integration platform (LGSP) and FIWARE tools:
//! `GET /ngsi-ld/v1/entities?type=…&limit=&offset=` and `GET /ngsi-ld/v1/entities/{id}`,
//! one entity per area and type (`urn:ngsi-ld:<Type>:<area slug>`) with Smart Data Models
//! attribute names. `application/ld+json` carries the `@context` in the body, `application/json`
//! in a `Link` header. Public and cached like the open data.

mod entity;
mod error;

use crate::ApiState;
use crate::open_data::Fresh;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use error::NgsiError;
use ioc_analytics::open_data::EntityType;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Entities in one page when `limit` is not given.
const DEFAULT_LIMIT: usize = 20;
/// Most entities one page may ask for.
const MAX_LIMIT: usize = 1000;

/// The NGSI-LD routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/ngsi-ld/v1/entities", get(list))
        .route("/ngsi-ld/v1/entities/{id}", get(one))
}

/// Which representation the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    /// `application/ld+json`: `@context` in the body.
    JsonLd,
    /// `application/json`: `@context` in a `Link` header.
    Json,
}

/// Content negotiation on `Accept`; `None` when neither JSON form is acceptable.
fn negotiate(headers: &HeaderMap) -> Option<Representation> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Representation::Json);
    };
    let types: Vec<String> = accept
        .split(',')
        .map(|part| {
            part.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    if types.iter().any(|t| t == "application/ld+json") {
        Some(Representation::JsonLd)
    } else if types
        .iter()
        .any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*"))
    {
        Some(Representation::Json)
    } else {
        None
    }
}

async fn list(
    State(state): State<ApiState>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let representation = negotiate(&headers);
    let key = format!("ngsi-ld/entities?{params:?}#{representation:?}");
    let analytics = state.analytics.clone();
    answer(&state, headers, key, move || {
        let Some(representation) = representation else {
            return NgsiError::not_acceptable().fresh();
        };
        match page(&analytics, &params) {
            Ok((entities, total, count)) => {
                let bodies: Vec<serde_json::Value> = entities
                    .iter()
                    .map(|o| entity::render(o, representation == Representation::JsonLd))
                    .collect();
                let mut fresh = json(representation, serde_json::Value::Array(bodies));
                if count {
                    fresh.headers.push((
                        HeaderName::from_static("ngsild-results-count"),
                        total.to_string(),
                    ));
                }
                fresh
            }
            Err(error) => error.fresh(),
        }
    })
    .await
}

/// The page of observations a list query asks for, the total before paging and whether the
/// total is wanted.
fn page(
    analytics: &ioc_analytics::Analytics,
    params: &BTreeMap<String, String>,
) -> Result<(Vec<ioc_analytics::open_data::Observation>, usize, bool), NgsiError> {
    let entity_type = match params.get("type").map(String::as_str) {
        None | Some("") => {
            return Err(NgsiError::bad_request(
                "the type parameter is required: AirQualityObserved, TrafficFlowObserved, WaterObserved or NoiseLevelObserved",
            ));
        }
        Some(name) => EntityType::parse(name).ok_or_else(|| {
            NgsiError::bad_request(format!(
                "unknown entity type {name:?}: use AirQualityObserved, TrafficFlowObserved, WaterObserved or NoiseLevelObserved"
            ))
        })?,
    };
    let number = |name: &str, default: usize, max: usize| match params.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                NgsiError::bad_request(format!(
                    "{name}={text:?} must be a whole number from 0 to {max}"
                ))
            }),
    };
    let limit = number("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = number("offset", 0, usize::MAX)?;
    let count = match params.get("count").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(NgsiError::bad_request(format!(
                "count={other:?} must be true or false"
            )));
        }
    };
    let all = analytics.observations(Some(entity_type));
    let total = all.len();
    Ok((
        all.into_iter().skip(offset).take(limit).collect(),
        total,
        count,
    ))
}

async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let representation = negotiate(&headers);
    let key = format!("ngsi-ld/entities/{id}#{representation:?}");
    let analytics = state.analytics.clone();
    answer(&state, headers, key, move || {
        let Some(representation) = representation else {
            return NgsiError::not_acceptable().fresh();
        };
        let Some((entity_type, area)) = entity::parse_id(&id) else {
            return NgsiError::bad_request(format!(
                "{id:?} is not an entity id of this service (urn:ngsi-ld:<Type>:<area>)"
            ))
            .fresh();
        };
        let found = entity_type.and_then(|t| {
            analytics
                .observations(Some(t))
                .into_iter()
                .find(|o| o.area == area)
        });
        match found {
            Some(observation) => json(
                representation,
                entity::render(&observation, representation == Representation::JsonLd),
            ),
            None => NgsiError::not_found(format!("no entity {id:?}")).fresh(),
        }
    })
    .await
}

async fn answer(
    state: &ApiState,
    headers: HeaderMap,
    key: String,
    compute: impl FnOnce() -> Fresh + Send + 'static,
) -> Response {
    let public = Arc::clone(&state.public);
    let cached = public.cache.answer(key, compute).await;
    public.cache.respond(&cached, &headers)
}

/// A successful answer in the negotiated representation.
fn json(representation: Representation, body: serde_json::Value) -> Fresh {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let (content_type, headers) = match representation {
        Representation::JsonLd => ("application/ld+json", Vec::new()),
        Representation::Json => (
            "application/json",
            vec![(
                header::LINK,
                format!(
                    "<{}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"",
                    entity::CONTEXT
                ),
            )],
        ),
    };
    Fresh {
        status: StatusCode::OK,
        content_type,
        headers,
        identity: bytes.clone(),
        body: Box::new(move |_| bytes),
    }
}
