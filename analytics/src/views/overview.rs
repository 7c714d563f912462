//! The `overview` view: city totals and one line per area.

use super::metrics::area_metrics;
use super::round2;
use crate::aqi;
use crate::state::State;
use ioc_ingest::{Area, Kind};
use serde_json::{Map, Value, json};

/// The overview's data (DESIGN §6): totals, `areas`, `reports`, `alerts_active`, `kpi`.
pub fn overview_view(state: &State, now_ms: i64) -> Value {
    let areas: Vec<Value> = state
        .areas
        .all()
        .iter()
        .map(|area| area_summary(state, area, now_ms))
        .collect();
    let rejected: Map<String, Value> = state
        .rejected_by_reason()
        .into_iter()
        .map(|(reason, n)| (reason.as_str().to_string(), json!(n)))
        .collect();
    json!({
        "events_total": state.events_total(),
        "events_per_sec": round2(state.rate.per_second(now_ms)),
        "late_total": state.late_total(),
        "rejected_total": state.rejected_total(),
        "rejected_by_reason": rejected,
        "watermark": state.max_ts.map(|max| ioc_ingest::event::format_ts(max - state.config.allowed_lateness_ms)),
        "areas": areas,
        "reports": super::reports::city_kpi(state, now_ms),
        "alerts_active": 0,
        "kpi": {
            "dossiers_online_pct": 0.0,
            "dossiers_level4_pct": 0.0,
            "dossiers_on_time_pct": 0.0,
        },
    })
}

/// One area's line in the overview; also the head of the area view.
pub fn area_summary(state: &State, area: &Area, now_ms: i64) -> Value {
    let metrics = area_metrics(state, &area.id);
    let (open, overdue) = state.reports.open_counts(&area.id, now_ms);
    let counts: Map<String, Value> = Kind::ALL
        .into_iter()
        .map(|kind| {
            (
                kind.as_str().to_string(),
                json!(state.count(&area.id, kind)),
            )
        })
        .collect();
    json!({
        "id": area.id,
        "name": area.name,
        "counts": counts,
        "aqi": metrics.aqi,
        "aqi_level": metrics.aqi.map(|value| aqi::level(value).key),
        "pm25_1h": metrics.pm25_1h.map(round2),
        "traffic_speed_5m": metrics.traffic_speed_5m.map(round2),
        "congestion": metrics.congestion.map(round2),
        "congested_sensors": metrics.congested_sensors,
        "water_level_max_cm": metrics.water_level_max_cm.map(round2),
        "gauges_alert": metrics.gauges_alert,
        "gauges_danger": metrics.gauges_danger,
        "laeq_5m": metrics.laeq_5m.map(round2),
        "reports_open": open,
        "reports_overdue": overdue,
        "alerts_active": 0,
        "rank": Value::Null,
    })
}
