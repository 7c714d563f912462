//! `dossier-kpis`: the Resolution 17/NQ-CP dossier indicators of each area × period (and the
//! city), computed by the same [`DossierKpi`] the operators' `kpi` view uses.

use super::series::OpenDataBook;
use super::{CITY, OpenDataQuery, area_order, period};
use crate::dossiers::{DossierKpi, DossierTally, DossierTargets};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The rows: period, then city before areas.
pub(crate) fn rows(
    book: &OpenDataBook,
    query: &OpenDataQuery,
    targets: &DossierTargets,
) -> Vec<Vec<Value>> {
    let mut cells: BTreeMap<(i64, (bool, String)), DossierTally> = BTreeMap::new();
    for ((area, hour), tally) in book.dossier_hours() {
        if !query.covers(hour) {
            continue;
        }
        let start = query.period_of(hour);
        for area in [CITY, area] {
            if query.wants(area) {
                let (city_last, area) = area_order(area);
                cells
                    .entry((start, (city_last, area.to_string())))
                    .or_default()
                    .merge(tally);
            }
        }
    }
    cells
        .into_iter()
        .map(|((start, (_, area)), tally)| {
            let kpi = DossierKpi::of(tally, targets);
            vec![
                json!(area),
                json!(period::format_local(start)),
                json!(kpi.received),
                json!(kpi.received_online),
                json!(kpi.received_level4),
                json!(kpi.resolved),
                json!(kpi.resolved_on_time),
                json!(kpi.online_pct),
                json!(kpi.level4_pct),
                json!(kpi.on_time_pct),
                json!(targets.online_pct),
                json!(targets.level4_pct),
                json!(targets.on_time_pct),
                json!(kpi.meets_target.online_pct),
                json!(kpi.meets_target.level4_pct),
                json!(kpi.meets_target.on_time_pct),
            ]
        })
        .collect()
}
