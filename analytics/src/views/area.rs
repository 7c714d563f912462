//! The `area` view: one area's figures, its sources, per-field series and windows.

use super::overview::area_summary;
use crate::aqi;
use crate::state::State;
use crate::windows::WINDOWS;
use ioc_ingest::event::format_ts;
use serde_json::{Map, Value, json};

/// Number of one-minute points in each series.
const SERIES_MINUTES: i64 = 60;

/// The area view's data, `None` for an unknown area.
pub fn area_view(state: &State, area_id: &str, now_ms: i64) -> Option<Value> {
    let area = state.areas.get(area_id)?;
    let mut data = area_summary(state, area, now_ms);
    let newest = state.max_ts.unwrap_or(i64::MIN);
    let sources: Vec<Value> = state
        .sources_in(|source| source.area == area.id)
        .into_iter()
        .map(|source| {
            json!({
                "id": source.id,
                "kind": source.kind,
                "values": source.values,
                "last_ts": format_ts(source.last_ts),
                "stale": newest.saturating_sub(source.last_ts) > state.config.stale_after_ms,
                "aqi": state
                    .hourly_air
                    .get(&source.id)
                    .and_then(|station| station.hourly_aqi())
                    .map(|hourly| hourly.aqi),
            })
        })
        .collect();
    let mut series = Map::new();
    let mut windows = Map::new();
    if let Some(end) = state.window_end() {
        for key in state
            .windows
            .keys_of(&area.id)
            .into_iter()
            .filter(|key| !key.field.starts_with('_'))
        {
            let points: Vec<Value> = state
                .windows
                .minute_means(key, end, SERIES_MINUTES)
                .into_iter()
                .map(|(ts, mean)| json!([ts, mean]))
                .collect();
            series.insert(key.field.clone(), Value::Array(points));
            let per_width: Map<String, Value> = WINDOWS
                .iter()
                .map(|(name, width)| {
                    let w = state.windows.window(key, end, *width);
                    let stats = if w.count == 0 {
                        json!({"count": 0})
                    } else {
                        json!({
                            "count": w.count,
                            "mean": w.mean(),
                            "min": w.min,
                            "max": w.max,
                            "last": w.last,
                            "p50": w.quantile(0.5),
                            "p95": w.quantile(0.95),
                        })
                    };
                    (name.to_string(), stats)
                })
                .collect();
            windows.insert(key.field.clone(), Value::Object(per_width));
        }
    }
    if let Value::Object(map) = &mut data {
        map.insert(
            "aqi_band".into(),
            json!(
                map.get("aqi")
                    .and_then(Value::as_u64)
                    .map(|v| aqi::level(v as u32))
            ),
        );
        map.insert("sources".into(), Value::Array(sources));
        map.insert("series".into(), Value::Object(series));
        map.insert("windows".into(), Value::Object(windows));
        map.insert(
            "window_end".into(),
            json!(state.window_end().map(format_ts)),
        );
        map.insert(
            "reports".into(),
            Value::Array(super::reports::open_reports_of(state, &area.id, now_ms)),
        );
        map.insert(
            "alerts".into(),
            Value::Array(super::alerts::open_alerts_of(state, &area.id)),
        );
    }
    Some(data)
}
