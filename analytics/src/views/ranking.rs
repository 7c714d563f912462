//! The inputs of the area ranking gathered from the state: report KPIs, dossier KPIs, AQI.

use super::metrics::area_metrics;
use super::reports::area_kpis;
use crate::dossiers::{DossierKpi, DossierTally};
use crate::ranking::{RankRow, RankTerms, rank};
use crate::reports::ReportKpi;
use crate::state::State;
use std::collections::BTreeMap;

/// The dossier KPIs of one area against the configured targets.
pub(crate) fn area_dossiers(state: &State, area: &str) -> DossierKpi {
    DossierKpi::of(
        state.reports.dossiers.area(area),
        &state.config.dossier_targets,
    )
}

/// The city's dossier KPIs against the configured targets.
pub(crate) fn city_dossiers(state: &State) -> DossierKpi {
    DossierKpi::of(state.reports.dossiers.city(), &state.config.dossier_targets)
}

/// The city's dossier KPIs, or with a scope those of the scope's areas together (an area
/// named twice counts once).
pub(crate) fn scoped_dossiers(state: &State, scope: Option<&[String]>) -> DossierKpi {
    let Some(areas) = scope else {
        return city_dossiers(state);
    };
    let areas: std::collections::BTreeSet<&str> = areas.iter().map(String::as_str).collect();
    let tally = areas
        .iter()
        .map(|area| state.reports.dossiers.area(area))
        .fold(DossierTally::default(), |sum, t| DossierTally {
            received: sum.received + t.received,
            received_online: sum.received_online + t.received_online,
            received_level4: sum.received_level4 + t.received_level4,
            resolved: sum.resolved + t.resolved,
            resolved_on_time: sum.resolved_on_time + t.resolved_on_time,
        });
    DossierKpi::of(tally, &state.config.dossier_targets)
}

/// The ranking terms of one area.
fn terms_of(report: Option<&ReportKpi>, dossier: &DossierKpi, aqi: Option<u32>) -> RankTerms {
    RankTerms {
        report_on_time: report.and_then(|r| r.resolved_on_time_pct),
        report_satisfaction: report
            .and_then(|r| r.rating_avg)
            .map(RankTerms::satisfaction),
        dossier_on_time: dossier.on_time_pct,
        dossier_online: dossier.online_pct,
        dossier_level4: dossier.level4_pct,
        environment: aqi.map(RankTerms::environment),
    }
}

/// Ranks every area given each one's AQI and report KPIs (which the caller usually has
/// already computed for its own output).
pub(crate) fn ranking_with(
    state: &State,
    aqi: &BTreeMap<String, Option<u32>>,
    reports: &BTreeMap<String, ReportKpi>,
) -> Vec<RankRow> {
    let areas = state
        .areas
        .all()
        .iter()
        .map(|area| {
            let terms = terms_of(
                reports.get(&area.id),
                &area_dossiers(state, &area.id),
                aqi.get(&area.id).copied().flatten(),
            );
            (area.id.clone(), area.name.clone(), terms)
        })
        .collect();
    rank(areas, &state.config.ranking_weights)
}

/// Ranks every area, computing AQI and report KPIs itself.
pub(crate) fn ranking(state: &State, now_ms: i64) -> Vec<RankRow> {
    ranking_with(state, &area_aqi(state), &area_kpis(state, now_ms))
}

/// Each area's current AQI (the ranking's environment term).
pub(crate) fn area_aqi(state: &State) -> BTreeMap<String, Option<u32>> {
    state
        .areas
        .all()
        .iter()
        .map(|area| (area.id.clone(), area_metrics(state, &area.id).aqi))
        .collect()
}
