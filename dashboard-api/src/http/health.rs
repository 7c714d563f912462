//! `/healthz`, `/readyz` and `/metrics`: public, for orchestrators and Prometheus.

use crate::ApiState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Alive: the process answers.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: journal open and writing, broker connected, replay done; 503 otherwise.
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
pub(crate) async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    let snapshot = state.analytics.metrics(ioc_ingest::event::now_ms());
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# HELP ioc_events_total Events accepted into the journal."
    );
    let _ = writeln!(text, "# TYPE ioc_events_total counter");
    let _ = writeln!(text, "ioc_events_total {}", snapshot.events_total);
    let _ = writeln!(
        text,
        "# HELP ioc_late_events_total Accepted events that arrived after their window closed."
    );
    let _ = writeln!(text, "# TYPE ioc_late_events_total counter");
    let _ = writeln!(text, "ioc_late_events_total {}", snapshot.late_total);
    let _ = writeln!(
        text,
        "# HELP ioc_rejected_total Messages refused, by reason."
    );
    let _ = writeln!(text, "# TYPE ioc_rejected_total counter");
    for (reason, count) in &snapshot.rejected {
        let _ = writeln!(text, "ioc_rejected_total{{reason=\"{reason}\"}} {count}");
    }
    let _ = writeln!(
        text,
        "# HELP ioc_events_per_second Accepted events per second over the last 10 s."
    );
    let _ = writeln!(text, "# TYPE ioc_events_per_second gauge");
    let _ = writeln!(text, "ioc_events_per_second {}", snapshot.events_per_sec);
    let counters = &state.counters;
    let _ = writeln!(
        text,
        "# HELP ioc_ws_connections Websocket connections open now."
    );
    let _ = writeln!(text, "# TYPE ioc_ws_connections gauge");
    let _ = writeln!(
        text,
        "ioc_ws_connections {}",
        counters.ws_connections.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        text,
        "# HELP ioc_ws_slow_client_resets_total Slow readers whose pending updates were replaced by snapshots."
    );
    let _ = writeln!(text, "# TYPE ioc_ws_slow_client_resets_total counter");
    let _ = writeln!(
        text,
        "ioc_ws_slow_client_resets_total {}",
        counters.slow_client_resets.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        text,
        "# HELP ioc_ws_frames_sent_total Frames written to websocket clients."
    );
    let _ = writeln!(text, "# TYPE ioc_ws_frames_sent_total counter");
    let _ = writeln!(
        text,
        "ioc_ws_frames_sent_total {}",
        counters.ws_frames_sent.load(Ordering::Relaxed)
    );
    text.push_str(&state.metrics.render());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
