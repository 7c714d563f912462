//! `/healthz`, `/readyz` and `/metrics`: public, for orchestrators and Prometheus.

use crate::ApiState;
use crate::prometheus::{write_labelled, write_metric};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "Alive", body = super::schemas::Health)))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: journal open and writing, broker connected, replay done; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "Ready", body = super::schemas::Ready),
        (status = 503, description = "Not ready", body = super::schemas::Ready),
    ))]
pub(crate) async fn readyz(State(state): State<ApiState>) -> impl IntoResponse {
    let checks = state.readiness.checks();
    let ready = checks.iter().all(|(_, ok)| *ok);
    let detail: Map<String, Value> = checks
        .into_iter()
        .map(|(name, ok)| (name.to_string(), json!(ok)))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ready": ready, "checks": detail})))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    let snapshot = state.analytics.metrics(ioc_ingest::event::now_ms());
    let mut text = String::new();
    let counters = &state.counters;
    let newest_event_seconds = snapshot.max_ts_ms.map_or(0.0, |ms| ms as f64 / 1000.0);
    let metrics: [(&str, &str, &str, String); 9] = [
        (
            "ioc_events_total",
            "counter",
            "Events accepted into the journal.",
            snapshot.events_total.to_string(),
        ),
        (
            "ioc_late_events_total",
            "counter",
            "Accepted events that arrived after their window closed.",
            snapshot.late_total.to_string(),
        ),
        (
            "ioc_events_per_second",
            "gauge",
            "Accepted events per second over the last 10 s.",
            snapshot.events_per_sec.to_string(),
        ),
        (
            "ioc_newest_event_timestamp_seconds",
            "gauge",
            "Event time of the newest event seen (0 before the first); now minus this is the lag.",
            newest_event_seconds.to_string(),
        ),
        (
            "ioc_start_replayed_events",
            "gauge",
            "Events the last start replayed from the journal (those after the snapshot, if one was used).",
            snapshot.replayed_at_start.to_string(),
        ),
        (
            "ioc_snapshot_seq",
            "gauge",
            "Journal seq held by the newest analytics snapshot, restored or written (0: none).",
            snapshot.snapshot_seq.to_string(),
        ),
        (
            "ioc_ws_connections",
            "gauge",
            "Websocket connections open now.",
            counters.ws_connections.load(Ordering::Relaxed).to_string(),
        ),
        (
            "ioc_ws_slow_client_resets_total",
            "counter",
            "Slow readers whose pending updates were replaced by snapshots.",
            counters
                .slow_client_resets
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        (
            "ioc_ws_frames_sent_total",
            "counter",
            "Frames written to websocket clients.",
            counters.ws_frames_sent.load(Ordering::Relaxed).to_string(),
        ),
    ];
    for (name, kind, help, value) in metrics {
        write_metric(&mut text, name, kind, help, value);
    }
    let _ = writeln!(
        text,
        "# HELP ioc_rejected_total Messages refused, by reason."
    );
    let _ = writeln!(text, "# TYPE ioc_rejected_total counter");
    for (reason, count) in &snapshot.rejected {
        let _ = writeln!(text, "ioc_rejected_total{{reason=\"{reason}\"}} {count}");
    }
    let alerts: Vec<(Vec<(&str, &str)>, String)> = snapshot
        .alerts
        .iter()
        .map(|(alert_state, count)| (vec![("state", *alert_state)], count.to_string()))
        .collect();
    write_labelled(
        &mut text,
        "ioc_alerts",
        "gauge",
        "Alerts kept, by lifecycle state.",
        &alerts,
    );
    text.push_str(&state.metrics.render());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
