//! Analytics settings. Every field has a default; the engine's config file sets them under
//! `[analytics]`.

use crate::dossiers::DossierTargets;
use crate::ranking::RankingWeights;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How analytics treats time, staleness and traffic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// How far behind the newest event time an event may arrive and still count in its window
    /// (DESIGN §3, default 2 minutes). Later events are journaled and counted as late.
    pub allowed_lateness_ms: i64,
    /// A source with no reading for this long (event time) is flagged `stale` (default 5 min).
    pub stale_after_ms: i64,
    /// Free-flow speed (km/h) per traffic sensor id; sensors not listed learn theirs as the
    /// 95th percentile of their own speeds.
    pub free_flow_kmh: BTreeMap<String, f64>,
    /// Free-flow speed assumed before a sensor has any history (km/h).
    pub default_free_flow_kmh: f64,
    /// Dead-letter records kept in memory for `GET /api/deadletter`.
    pub dead_letter_capacity: usize,
    /// Time to resolve per report category, hours (`[analytics.report_sla_hours]`); categories
    /// not listed keep the catalogue's defaults (flooding 4 h, security 12 h, traffic 24 h,
    /// environment 72 h …).
    pub report_sla_hours: BTreeMap<String, f64>,
    /// Targets of the dossier indicators, percent (`dossier_targets = { online_pct = 20,
    /// level4_pct = 30, on_time_pct = 95 }`, Resolution 17's values by default).
    pub dossier_targets: DossierTargets,
    /// Weights of the area ranking's terms (`ranking_weights = { report_on_time = 0.25, … }`);
    /// see [`RankingWeights`] for the terms and defaults.
    pub ranking_weights: RankingWeights,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            allowed_lateness_ms: 120_000,
            stale_after_ms: 300_000,
            free_flow_kmh: BTreeMap::new(),
            default_free_flow_kmh: 50.0,
            dead_letter_capacity: ioc_ingest::deadletter::DEFAULT_CAPACITY,
            report_sla_hours: BTreeMap::new(),
            dossier_targets: DossierTargets::default(),
            ranking_weights: RankingWeights::default(),
        }
    }
}

/// SLA of a category nobody configured and the catalogue does not know (hours).
const FALLBACK_SLA_HOURS: f64 = 72.0;

impl AnalyticsConfig {
    /// The SLA of every category, hours: configured values over the catalogue's defaults.
    pub fn report_sla_hours(&self) -> BTreeMap<String, f64> {
        ioc_ingest::report::catalog::SERVICES
            .iter()
            .map(|service| (service.code.to_string(), self.sla_hours(service.code)))
            .collect()
    }

    /// The SLA of one category, hours.
    pub fn sla_hours(&self, code: &str) -> f64 {
        self.report_sla_hours
            .get(code)
            .copied()
            .filter(|hours| hours.is_finite() && *hours > 0.0)
            .or_else(|| ioc_ingest::report::catalog::service(code).map(|s| s.sla_hours))
            .unwrap_or(FALLBACK_SLA_HOURS)
    }

    /// The SLA of one category, milliseconds.
    pub fn sla_ms(&self, code: &str) -> i64 {
        (self.sla_hours(code) * 3_600_000.0).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dossier_targets_and_weights_parse_with_defaults_for_the_rest() {
        let text = r#"{"dossier_targets": {"online_pct": 25, "on_time_pct": 100},
            "ranking_weights": {"environment": 0, "dossier_online": 2}}"#;
        let config: AnalyticsConfig = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.dossier_targets.online_pct, 25.0);
        assert_eq!(config.dossier_targets.level4_pct, 30.0);
        assert_eq!(config.dossier_targets.on_time_pct, 100.0);
        assert_eq!(config.ranking_weights.environment, 0.0);
        assert_eq!(config.ranking_weights.dossier_online, 2.0);
        assert_eq!(config.ranking_weights.report_on_time, 0.25);
        let unknown = r#"{"dossier_targets": {"online": 1}}"#;
        assert!(serde_json::from_str::<AnalyticsConfig>(unknown).is_err());
    }
}
