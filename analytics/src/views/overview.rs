//! The `overview` view: city totals and one line per area.

use super::metrics::{AreaMetrics, area_metrics};
use super::ordered_map::OrderedMap;
use super::ranking::{ranking, ranking_with, scoped_dossiers};
use super::reports::area_kpis;
use super::round2;
use crate::aqi;
use crate::dossiers::{DossierTargets, IndicatorFlags};
use crate::hourly::AqiBasis;
use crate::ranking::RankRow;
use crate::reports::ReportKpi;
use crate::state::{Alerts, State, Telemetry};
use ioc_ingest::{Area, Kind};
use serde::Serialize;
use std::collections::BTreeMap;

/// The `overview` view (docs/views.md): city totals, one line per area, report and dossier
/// KPIs. Fields are in the order the JSON shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// Accepted events since the journal began (late ones included).
    pub events_total: u64,
    /// Accepted events per second over the last 10 s, two decimals.
    pub events_per_sec: f64,
    /// Accepted events that arrived behind the watermark.
    pub late_total: u64,
    /// Refused messages ever (engine-wide, whatever the scope).
    pub rejected_total: u64,
    /// Refused messages per reason, every reason listed.
    pub rejected_by_reason: OrderedMap<&'static str, u64>,
    /// Engine instances live (cluster mode; 1 alone).
    pub instances: usize,
    /// Stream slots this instance holds (cluster mode; 1 alone).
    pub slots: usize,
    /// Newest event time minus the allowed lateness, once an event was seen.
    pub watermark: Option<String>,
    /// One line per area (in the scope).
    pub areas: Vec<AreaLine>,
    /// Report KPIs of the city (or the scope).
    pub reports: ReportKpi,
    /// Open alerts of the city (or the scope).
    pub alerts_active: usize,
    /// Public-service dossier summary.
    pub kpi: OverviewKpi,
}

/// The overview's dossier summary: the city's (or the scope's) dossier KPIs and the targets
/// they are judged against.
#[derive(Debug, Clone, Serialize)]
pub struct OverviewKpi {
    /// Dossiers received.
    pub dossiers_received: u64,
    /// Dossiers resolved.
    pub dossiers_resolved: u64,
    /// Percent of received dossiers that came in online.
    pub dossiers_online_pct: Option<f64>,
    /// Percent of received dossiers for level-4 services.
    pub dossiers_level4_pct: Option<f64>,
    /// Percent of resolved dossiers resolved on time.
    pub dossiers_on_time_pct: Option<f64>,
    /// Each indicator against its target.
    pub meets_target: IndicatorFlags,
    /// The configured dossier targets.
    pub targets: DossierTargets,
}

/// One area's line in the overview, and the head of its `area` view (docs/views.md). Fields
/// are in the order the JSON shows them.
#[derive(Debug, Clone, Serialize)]
pub struct AreaLine {
    /// Area slug.
    pub id: String,
    /// Area name (Vietnamese).
    pub name: String,
    /// Lifetime accepted events per kind, every kind listed.
    pub counts: OrderedMap<&'static str, u64>,
    /// Current hourly VN_AQI.
    pub aqi: Option<u32>,
    /// The band of `aqi` (`good` … `hazardous`).
    pub aqi_level: Option<&'static str>,
    /// Mean PM2.5 over the 60-minute window, two decimals.
    pub pm25_1h: Option<f64>,
    /// Mean speed over the 5-minute window, two decimals.
    pub traffic_speed_5m: Option<f64>,
    /// 1 − mean speed ÷ free-flow speed, two decimals.
    pub congestion: Option<f64>,
    /// Traffic sensors congested.
    pub congested_sensors: u64,
    /// Highest last water level of the area's gauges, two decimals.
    pub water_level_max_cm: Option<f64>,
    /// Gauges above their alert level.
    pub gauges_alert: u64,
    /// Gauges above their danger level.
    pub gauges_danger: u64,
    /// Energy-averaged LAeq over 5 minutes, two decimals.
    pub laeq_5m: Option<f64>,
    /// Energy-averaged LAeq over 60 minutes, two decimals.
    pub laeq_1h: Option<f64>,
    /// The noise limit in force now.
    pub noise_limit_db: f64,
    /// Whether `laeq_5m` exceeds the limit.
    pub noise_over_limit: Option<bool>,
    /// How the stations' hourly index was obtained.
    pub aqi_basis: Option<AqiBasis>,
    /// 24-hour VN_AQI of the area's stations.
    pub aqi_daily: Option<u32>,
    /// Open reports.
    pub reports_open: u64,
    /// Open reports past their expected time.
    pub reports_overdue: u64,
    /// Open alerts in the area.
    pub alerts_active: usize,
    /// The area's place in the city-wide ranking (1 = best).
    pub rank: Option<u32>,
}

/// The overview's data: totals, `areas`, `reports`, `alerts_active`, `kpi`, and the engine
/// instances and stream slots contributing (`instances`, `slots`).
///
/// With a `scope` (an area-scoped token) the `areas` list holds only those areas and every
/// total (`events_total`, `events_per_sec`, `late_total`, `reports`, `kpi`) is the total over
/// them; ranks stay the city-wide ranks. Refusal counters stay engine-wide: a refused message
/// belongs to no area (its area is often what was wrong with it).
pub fn overview_view(state: &State, scope: Option<&[String]>, now_ms: i64) -> Overview {
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
    let areas = metrics
        .into_iter()
        .filter(|(area, _)| in_scope(&area.id))
        .map(|(area, metrics)| {
            let rank = ranks.get(&area.id).copied();
            summary_line(state, area, &metrics, rank, now_ms)
        })
        .collect();
    let dossiers = scoped_dossiers(state, scope);
    let totals = Totals::of(&state.telemetry, scope, now_ms);
    Overview {
        events_total: totals.events,
        events_per_sec: round2(totals.per_sec),
        late_total: totals.late,
        rejected_total: state.rejected_total(),
        rejected_by_reason: state
            .rejected_by_reason()
            .into_iter()
            .map(|(reason, n)| (reason.as_str(), n))
            .collect(),
        instances: state.membership.0,
        slots: state.membership.1,
        watermark: state
            .telemetry
            .max_ts
            .map(|max| ioc_ingest::event::format_ts(max - state.config.allowed_lateness_ms)),
        areas,
        reports: super::reports::scoped_kpi(&state.reports, scope, now_ms),
        alerts_active: open_alerts(&state.alerts, scope),
        kpi: OverviewKpi {
            dossiers_received: dossiers.received,
            dossiers_resolved: dossiers.resolved,
            dossiers_online_pct: dossiers.online_pct,
            dossiers_level4_pct: dossiers.level4_pct,
            dossiers_on_time_pct: dossiers.on_time_pct,
            meets_target: dossiers.meets_target,
            targets: state.config.dossier_targets,
        },
    }
}

/// The overview's event totals: the city's, or summed over a scope's areas.
struct Totals {
    events: u64,
    per_sec: f64,
    late: u64,
}

impl Totals {
    fn of(telemetry: &Telemetry, scope: Option<&[String]>, now_ms: i64) -> Totals {
        let Some(areas) = scope else {
            return Totals {
                events: telemetry.events_total(),
                per_sec: telemetry.events_per_sec(now_ms),
                late: telemetry.late_total(),
            };
        };
        // A scope naming an area twice counts it once.
        let areas: std::collections::BTreeSet<&str> = areas.iter().map(String::as_str).collect();
        Totals {
            events: areas.iter().map(|a| telemetry.area_events_total(a)).sum(),
            per_sec: areas
                .iter()
                .map(|a| telemetry.area_events_per_sec(a, now_ms))
                .sum(),
            late: areas.iter().map(|a| telemetry.area_late_total(a)).sum(),
        }
    }
}

/// One area's line in the overview; also the head of the area view. It ranks every area to
/// know this one's rank: the overview ranks once for all its lines instead.
pub fn area_summary(state: &State, area: &Area, now_ms: i64) -> AreaLine {
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
) -> AreaLine {
    let (open, overdue) = state.reports.register.open_counts(&area.id, now_ms);
    AreaLine {
        id: area.id.clone(),
        name: area.name.clone(),
        counts: Kind::ALL
            .into_iter()
            .map(|kind| (kind.as_str(), state.telemetry.count(&area.id, kind)))
            .collect(),
        aqi: metrics.aqi,
        aqi_level: metrics.aqi.map(|value| aqi::level(value).key),
        pm25_1h: metrics.pm25_1h.map(round2),
        traffic_speed_5m: metrics.traffic_speed_5m.map(round2),
        congestion: metrics.congestion.map(round2),
        congested_sensors: metrics.congested_sensors,
        water_level_max_cm: metrics.water_level_max_cm.map(round2),
        gauges_alert: metrics.gauges_alert,
        gauges_danger: metrics.gauges_danger,
        laeq_5m: metrics.laeq_5m.map(round2),
        laeq_1h: metrics.laeq_1h.map(round2),
        noise_limit_db: metrics.noise_limit_db,
        noise_over_limit: metrics.noise_over_limit,
        aqi_basis: metrics.aqi_basis,
        aqi_daily: metrics.aqi_daily,
        reports_open: open,
        reports_overdue: overdue,
        alerts_active: state.alerts.book.open_in(&area.id),
        rank,
    }
}

/// Open alerts in the city, or in a scope's areas.
fn open_alerts(alerts: &Alerts, scope: Option<&[String]>) -> usize {
    match scope {
        None => alerts.book.open_total(),
        Some(areas) => areas.iter().map(|area| alerts.book.open_in(area)).sum(),
    }
}
