//! The `area` view: one area's figures, its sources, per-field series and windows.

use super::ordered_map::OrderedMap;
use super::overview::{AreaLine, area_summary};
use super::reports::ReportItem;
use crate::alerts::Alert;
use crate::aqi;
use crate::partial::Partial;
use crate::state::{SourceState, State};
use crate::windows::WINDOWS;
use ioc_ingest::event::format_ts;
use ioc_ingest::{Kind, Values};
use serde::Serialize;

/// Number of one-minute points in each series.
const SERIES_MINUTES: i64 = 60;

/// The `area` view (docs/views.md): the area's overview line, then its sources, series,
/// windows, open reports and open alerts. Fields are in the order the JSON shows them.
#[derive(Debug, Clone, Serialize)]
pub struct AreaView {
    /// Everything of the area's overview line, as its first members.
    #[serde(flatten)]
    pub line: AreaLine,
    /// The band of `aqi` with its names and color.
    pub aqi_band: Option<aqi::Level>,
    /// Every source seen in the area.
    pub sources: Vec<SourceLine>,
    /// Per field, the last 60 one-minute points `[ts_ms, mean]`.
    pub series: OrderedMap<String, Vec<(i64, f64)>>,
    /// Per field, per window width (`1m`, `5m`, `15m`, `60m`), the window's figures.
    pub windows: OrderedMap<String, OrderedMap<&'static str, WindowStats>>,
    /// The end of the current windows.
    pub window_end: Option<String>,
    /// The area's open reports.
    pub reports: Vec<ReportItem>,
    /// The area's open alerts.
    pub alerts: Vec<Alert>,
}

/// One source of the area view: its last values and whether it went quiet.
#[derive(Debug, Clone, Serialize)]
pub struct SourceLine {
    /// Source id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// Its last values.
    pub values: Values,
    /// Event time of its last reading.
    pub last_ts: String,
    /// No reading for more than `stale_after` behind the newest event time.
    pub stale: bool,
    /// A station's hourly index.
    pub aqi: Option<u32>,
}

/// One window of one field: only `count` when the window is empty.
#[derive(Debug, Clone, Serialize)]
pub struct WindowStats {
    /// Readings in the window.
    pub count: u64,
    /// The figures, when there is at least one reading.
    #[serde(flatten)]
    pub figures: Option<WindowFigures>,
}

/// The figures of a window holding readings.
#[derive(Debug, Clone, Serialize)]
pub struct WindowFigures {
    /// Mean of the readings.
    pub mean: Option<f64>,
    /// Smallest reading.
    pub min: f64,
    /// Largest reading.
    pub max: f64,
    /// Latest reading by event time.
    pub last: f64,
    /// Median (sketch).
    pub p50: Option<f64>,
    /// 95th percentile (sketch).
    pub p95: Option<f64>,
}

impl WindowStats {
    /// The figures of a merged window.
    fn of(window: &Partial) -> WindowStats {
        WindowStats {
            count: window.count,
            figures: (window.count > 0).then(|| WindowFigures {
                mean: window.mean(),
                min: window.min,
                max: window.max,
                last: window.last,
                p50: window.quantile(0.5),
                p95: window.quantile(0.95),
            }),
        }
    }
}

/// The area view's data, `None` for an unknown area.
pub fn area_view(state: &State, area_id: &str, now_ms: i64) -> Option<AreaView> {
    let area = state.areas.get(area_id)?;
    let telemetry = &state.telemetry;
    let line = area_summary(state, area, now_ms);
    let newest = telemetry.max_ts.unwrap_or(i64::MIN);
    let sources = telemetry
        .sources_in(|source| source.area == area.id)
        .into_iter()
        .map(|source| source_line(state, source, newest))
        .collect();
    let mut series: OrderedMap<String, Vec<(i64, f64)>> = OrderedMap::default();
    let mut windows: OrderedMap<String, OrderedMap<&'static str, WindowStats>> =
        OrderedMap::default();
    if let Some(end) = telemetry.window_end() {
        for key in telemetry
            .windows
            .keys_of(&area.id)
            .into_iter()
            .filter(|key| !key.field.starts_with('_'))
        {
            series.insert(
                key.field.clone(),
                telemetry.windows.minute_means(key, end, SERIES_MINUTES),
            );
            let per_width = WINDOWS
                .iter()
                .map(|(name, width)| {
                    let window = telemetry.windows.window(key, end, *width);
                    (*name, WindowStats::of(&window))
                })
                .collect();
            windows.insert(key.field.clone(), per_width);
        }
    }
    Some(AreaView {
        aqi_band: line.aqi.map(aqi::level),
        line,
        sources,
        series,
        windows,
        window_end: telemetry.window_end().map(format_ts),
        reports: super::reports::open_reports_of(&state.reports, &area.id, now_ms),
        alerts: super::alerts::open_alerts_of(&state.alerts, &area.id),
    })
}

/// One source's line, judged stale against the newest event time.
fn source_line(state: &State, source: &SourceState, newest: i64) -> SourceLine {
    SourceLine {
        id: source.id.clone(),
        kind: source.kind,
        values: source.values.clone(),
        last_ts: format_ts(source.last_ts),
        stale: newest.saturating_sub(source.last_ts) > state.config.stale_after_ms,
        aqi: state
            .telemetry
            .hourly_air
            .get(&source.id)
            .and_then(|station| station.hourly_aqi())
            .map(|hourly| hourly.aqi),
    }
}
