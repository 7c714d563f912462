//! The `overview` view: city totals and one line per area.

use super::metrics::{AreaMetrics, area_metrics};
use super::ranking::{ranking, ranking_with, scoped_dossiers};
use super::reports::area_kpis;
use super::round2;
use crate::aqi;
use crate::ranking::RankRow;
use crate::state::State;
use ioc_ingest::{Area, Kind};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The overview's data: totals, `areas`, `reports`, `alerts_active`, `kpi`, and the engine
/// instances and stream slots contributing (`instances`, `slots`).
///
/// With a `scope` (an area-scoped token) the `areas` list holds only those areas and every
/// total (`events_total`, `events_per_sec`, `late_total`, `reports`, `kpi`) is the total over
/// them; ranks stay the city-wide ranks. Refusal counters stay engine-wide: a refused message
/// belongs to no area (its area is often what was wrong with it).
pub fn overview_view(state: &State, scope: Option<&[String]>, now_ms: i64) -> Value {
    let in_scope = |area: &str| scope.is_none_or(|areas| areas.iter().any(|a| a == area));
    let metrics: Vec<(&Area, AreaMetrics)> = state
        .areas
        .all()
        .iter()
        .map(|area| (area, area_metrics(state, &area.id)))
        .collect();
    let aqi = metrics
        .iter()
        .map(|(area, m)| (area.id.clone(), m.aqi))
        .collect();
    let ranks = ranks_by_area(ranking_with(state, &aqi, &area_kpis(state, now_ms)));
    let areas: Vec<Value> = metrics
        .into_iter()
        .filter(|(area, _)| in_scope(&area.id))
        .map(|(area, metrics)| {
            let rank = ranks.get(&area.id).copied();
            summary_line(state, area, &metrics, rank, now_ms)
        })
        .collect();
    let dossiers = scoped_dossiers(state, scope);
    let totals = Totals::of(state, scope, now_ms);
    let rejected: Map<String, Value> = state
        .rejected_by_reason()
        .into_iter()
        .map(|(reason, n)| (reason.as_str().to_string(), json!(n)))
        .collect();
    json!({
        "events_total": totals.events,
        "events_per_sec": round2(totals.per_sec),
        "late_total": totals.late,
        "rejected_total": state.rejected_total(),
        "rejected_by_reason": rejected,
        "instances": state.membership.0,
        "slots": state.membership.1,
        "watermark": state.max_ts.map(|max| ioc_ingest::event::format_ts(max - state.config.allowed_lateness_ms)),
        "areas": areas,
        "reports": super::reports::scoped_kpi(state, scope, now_ms),
        "alerts_active": open_alerts(state, scope),
        "kpi": {
            "dossiers_received": dossiers.received,
            "dossiers_resolved": dossiers.resolved,
            "dossiers_online_pct": dossiers.online_pct,
            "dossiers_level4_pct": dossiers.level4_pct,
            "dossiers_on_time_pct": dossiers.on_time_pct,
            "meets_target": dossiers.meets_target,
            "targets": state.config.dossier_targets,
        },
    })
}

/// The overview's event totals: the city's, or summed over a scope's areas.
struct Totals {
    events: u64,
    per_sec: f64,
    late: u64,
}

impl Totals {
    fn of(state: &State, scope: Option<&[String]>, now_ms: i64) -> Totals {
        let Some(areas) = scope else {
            return Totals {
                events: state.events_total(),
                per_sec: state.rate.per_second(now_ms),
                late: state.late_total(),
            };
        };
        // A scope naming an area twice counts it once.
        let areas: std::collections::BTreeSet<&str> = areas.iter().map(String::as_str).collect();
        Totals {
            events: areas.iter().map(|a| state.area_events_total(a)).sum(),
            per_sec: areas
                .iter()
                .map(|a| state.area_events_per_sec(a, now_ms))
                .sum(),
            late: areas.iter().map(|a| state.area_late_total(a)).sum(),
        }
    }
}

/// One area's line in the overview; also the head of the area view. It ranks every area to
/// know this one's rank: the overview ranks once for all its lines instead.
pub fn area_summary(state: &State, area: &Area, now_ms: i64) -> Value {
    let rank = ranks_by_area(ranking(state, now_ms)).get(&area.id).copied();
    summary_line(state, area, &area_metrics(state, &area.id), rank, now_ms)
}

/// Rank per area id, for the areas that have one.
fn ranks_by_area(rows: Vec<RankRow>) -> BTreeMap<String, u32> {
    rows.into_iter().map(|row| (row.area, row.rank)).collect()
}

/// One area's line from figures already computed.
fn summary_line(
    state: &State,
    area: &Area,
    metrics: &AreaMetrics,
    rank: Option<u32>,
    now_ms: i64,
) -> Value {
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
        "laeq_1h": metrics.laeq_1h.map(round2),
        "noise_limit_db": metrics.noise_limit_db,
        "noise_over_limit": metrics.noise_over_limit,
        "aqi_basis": metrics.aqi_basis,
        "aqi_daily": metrics.aqi_daily,
        "reports_open": open,
        "reports_overdue": overdue,
        "alerts_active": state.alerts.open_in(&area.id),
        "rank": rank,
    })
}

/// Open alerts in the city, or in a scope's areas.
fn open_alerts(state: &State, scope: Option<&[String]>) -> usize {
    match scope {
        None => state.alerts.open_total(),
        Some(areas) => areas.iter().map(|area| state.alerts.open_in(area)).sum(),
    }
}
