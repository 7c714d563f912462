//! The open-data API under `/open-data/v1/` and the citizens' page at `/public`: public, no
//! token, aggregate only. Every answer is cached per view tick with `ETag`, `Last-Modified`
//! and `Cache-Control`, and every client address has a request budget (429 past it).

mod cache;
mod csv;
mod limit;

use crate::ApiState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use ioc_analytics::open_data::{Dataset, OpenDataQuery, Publication, Table};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) use cache::{Fresh, ResponseCache};

/// Settings of the public endpoints (`[open_data]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenDataConfig {
    /// Report cells with fewer reports than this are published suppressed (default 5).
    pub min_cell_reports: u64,
    /// Requests per minute per client IP address over `/open-data`, `/ngsi-ld` and `/public`
    /// together (also the burst), default 600.
    pub rate_per_ip_per_min: u32,
    /// `max_age`: how long clients and proxies may keep an answer (`Cache-Control: max-age`),
    /// default `60s`. Held in seconds.
    #[serde(rename = "max_age", with = "ioc_ingest::duration_setting::seconds")]
    pub max_age_secs: u32,
}

impl Default for OpenDataConfig {
    fn default() -> Self {
        Self {
            min_cell_reports: Publication::default().min_cell_reports,
            rate_per_ip_per_min: 600,
            max_age_secs: 60,
        }
    }
}

/// What the public endpoints share: their settings, the answer cache and the rate limiter.
pub(crate) struct PublicService {
    pub(crate) config: OpenDataConfig,
    pub(crate) cache: ResponseCache,
    pub(crate) limiter: crate::open311::Limiter,
}

impl PublicService {
    /// The service with answers cached per `tick`.
    pub(crate) fn new(config: OpenDataConfig, tick: std::time::Duration) -> Self {
        Self {
            config,
            cache: ResponseCache::new(
                i64::try_from(tick.as_millis()).unwrap_or(i64::MAX),
                config.max_age_secs,
            ),
            limiter: crate::open311::Limiter::default(),
        }
    }
}

/// The public routes (open data, NGSI-LD, the page), behind the per-IP limit.
pub(crate) fn routes(state: ApiState) -> Router<ApiState> {
    Router::new()
        .route("/open-data/v1/{file}", get(file))
        .route("/public", get(page))
        .merge(crate::ngsi_ld::routes())
        .route_layer(axum::middleware::from_fn_with_state(state, limit::per_ip))
}

/// The citizens' transparency page, compiled in; its script reads the open-data API.
const PUBLIC_PAGE: &str = include_str!("../../web/public.html");

async fn page(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let public = Arc::clone(&state.public);
    let cached = public
        .cache
        .answer("/public".into(), || Fresh {
            status: StatusCode::OK,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            identity: PUBLIC_PAGE.as_bytes().to_vec(),
            body: Box::new(|_| PUBLIC_PAGE.as_bytes().to_vec()),
        })
        .await;
    public.cache.respond(&cached, &headers)
}

/// `GET /open-data/v1/catalog.json` and `GET /open-data/v1/{dataset}.{json|csv}`.
async fn file(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = format!("open-data/{file}?{params:?}");
    let analytics = state.analytics.clone();
    let config = state.public.config;
    let public = Arc::clone(&state.public);
    let cached = public
        .cache
        .answer(key, move || answer(&analytics, config, &file, &params))
        .await;
    public.cache.respond(&cached, &headers)
}

/// Computes one open-data answer (blocking).
fn answer(
    analytics: &ioc_analytics::Analytics,
    config: OpenDataConfig,
    file: &str,
    params: &BTreeMap<String, String>,
) -> Fresh {
    if file == "catalog.json" {
        let mut catalog = ioc_analytics::open_data::catalog();
        catalog["suppression_threshold"] = json!(config.min_cell_reports);
        let areas: Vec<serde_json::Value> = analytics
            .areas()
            .all()
            .iter()
            .map(|area| json!({"id": area.id, "name": area.name}))
            .collect();
        catalog["areas"] = json!(areas);
        return json_answer(StatusCode::OK, catalog);
    }
    let Some((id, format)) = file.rsplit_once('.') else {
        return not_found(file);
    };
    let (Some(dataset), true) = (Dataset::parse(id), matches!(format, "json" | "csv")) else {
        return not_found(file);
    };
    let param = |name: &str| params.get(name).map(String::as_str);
    let now_ms = ioc_ingest::event::now_ms();
    let query = match OpenDataQuery::parse(
        dataset,
        param("from"),
        param("to"),
        param("area"),
        param("every"),
        |area| analytics.is_area(area),
        now_ms,
    ) {
        Ok(query) => query,
        Err(error) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": error.to_string(), "status": 400}),
            );
        }
    };
    let publication = Publication {
        min_cell_reports: config.min_cell_reports,
    };
    let table = analytics.open_data(dataset, &query, publication, now_ms);
    if format == "csv" {
        let text = csv::render(&table);
        return Fresh {
            status: StatusCode::OK,
            content_type: "text/csv; charset=utf-8; header=present",
            headers: Vec::new(),
            identity: text.clone().into_bytes(),
            body: Box::new(move |_| text.into_bytes()),
        };
    }
    dataset_json(&table, &query)
}

/// The JSON answer of a dataset: `{"dataset","generated_at","rows",…}`.
fn dataset_json(table: &Table, query: &OpenDataQuery) -> Fresh {
    let rows = table.json_rows();
    let head = json!({
        "dataset": table.dataset.id(),
        "every": query.every.as_str(),
        "from": ioc_analytics::open_data::period::format_local(query.from_ms),
        "to": ioc_analytics::open_data::period::format_local(query.to_ms),
        "area": query.area,
    });
    // `from` and `to` are left out: without them in the query they follow the clock ("the
    // last 90 days"), and a later request whose rows are the same must get the same answer
    // (the cached bytes and ETag), not a new one every second.
    let identity = serde_json::to_vec(&(&head["dataset"], &head["every"], &head["area"], &rows))
        .unwrap_or_default();
    Fresh {
        status: StatusCode::OK,
        content_type: "application/json",
        headers: Vec::new(),
        identity,
        body: Box::new(move |generated_at| {
            let mut body = serde_json::Map::new();
            body.insert("dataset".into(), head["dataset"].clone());
            body.insert("generated_at".into(), json!(generated_at));
            body.insert(
                "license".into(),
                json!(ioc_analytics::open_data::catalog::LICENSE),
            );
            for name in ["every", "from", "to", "area"] {
                body.insert(name.into(), head[name].clone());
            }
            body.insert("rows".into(), serde_json::Value::Array(rows));
            serde_json::to_vec(&body).unwrap_or_default()
        }),
    }
}

fn json_answer(status: StatusCode, value: serde_json::Value) -> Fresh {
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    Fresh {
        status,
        content_type: "application/json",
        headers: Vec::new(),
        identity: bytes.clone(),
        body: Box::new(move |_| bytes),
    }
}

fn not_found(file: &str) -> Fresh {
    let known: Vec<&str> = Dataset::ALL.iter().map(|d| d.id()).collect();
    json_answer(
        StatusCode::NOT_FOUND,
        json!({
            "error": format!("no open-data file {file:?}: catalog.json or <dataset>.json|csv with dataset one of {}", known.join(", ")),
            "status": 404,
        }),
    )
}
