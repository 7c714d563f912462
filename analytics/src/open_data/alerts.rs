//! `alerts-daily`: how many alerts were raised per area × rule type × severity × period (and
//! for the city). Counts only: no alert text, no sensor, no place.

use super::{CITY, OpenDataQuery, area_order, period};
use crate::alerts::AlertBook;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A cell: period start, area (city first), rule type, severity.
type Cell = (i64, (bool, String), String, &'static str);

/// The rows: period, then city before areas, then rule type and severity.
pub(crate) fn rows(book: &AlertBook, query: &OpenDataQuery) -> Vec<Vec<Value>> {
    let mut cells: BTreeMap<Cell, u64> = BTreeMap::new();
    for alert in book.all() {
        let Ok(raised) = chrono::DateTime::parse_from_rfc3339(&alert.raised_at) else {
            continue;
        };
        let raised_ms = raised.timestamp_millis();
        if !query.covers(raised_ms) {
            continue;
        }
        let start = query.period_of(raised_ms);
        for area in [CITY, alert.area.as_str()] {
            if query.wants(area) {
                let (city_last, area) = area_order(area);
                *cells
                    .entry((
                        start,
                        (city_last, area.to_string()),
                        alert.rule_type.clone(),
                        alert.severity.as_str(),
                    ))
                    .or_insert(0) += 1;
            }
        }
    }
    cells
        .into_iter()
        .map(|((start, (_, area), kind, severity), count)| {
            vec![
                json!(area),
                json!(period::format_local(start)),
                json!(kind),
                json!(severity),
                json!(count),
            ]
        })
        .collect()
}
