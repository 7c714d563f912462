//! `report-kpis`: the report KPIs of each area × agency × period cell (and `all` agencies, and
//! the city), computed by the same [`ReportKpi`] the operators' `kpi` view uses. A cell holding
//! fewer reports than the threshold is published as suppressed, with every figure empty.

use super::{ALL, CITY, OpenDataQuery, area_order, period};
use crate::reports::{Register, Report, ReportKpi};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A cell: period start, area (city first), agency (`all` first).
type Cell = (i64, (bool, String), (bool, String));

/// The rows: period, then city before areas, then `all` before agencies.
pub(crate) fn rows(
    register: &Register,
    query: &OpenDataQuery,
    min_cell: u64,
    now_ms: i64,
) -> Vec<Vec<Value>> {
    let mut cells: BTreeMap<Cell, Vec<&Report>> = BTreeMap::new();
    for report in register.all().filter(|r| query.covers(r.requested_ms)) {
        let start = query.period_of(report.requested_ms);
        for area in [CITY, report.area.as_str()] {
            if !query.wants(area) {
                continue;
            }
            let agencies = std::iter::once(ALL).chain(report.agency.as_deref());
            for agency in agencies {
                let (city_last, area) = area_order(area);
                cells
                    .entry((
                        start,
                        (city_last, area.to_string()),
                        (agency != ALL, agency.to_string()),
                    ))
                    .or_default()
                    .push(report);
            }
        }
    }
    cells
        .into_iter()
        .map(|((start, (_, area), (_, agency)), reports)| {
            let kpi = ReportKpi::of(reports, now_ms);
            let suppressed = kpi.received < min_cell;
            let figure = |value: Value| if suppressed { Value::Null } else { value };
            vec![
                json!(area),
                json!(agency),
                json!(period::format_local(start)),
                figure(json!(kpi.received)),
                figure(json!(kpi.resolved)),
                figure(json!(kpi.resolved_on_time_pct)),
                figure(json!(kpi.median_resolve_hours)),
                figure(json!(kpi.rating_avg)),
                figure(json!(kpi.rated_4plus_pct)),
                json!(suppressed),
            ]
        })
        .collect()
}
