//! Analytics settings. Every field has a default; the engine's config file sets them under
//! `[analytics]`.

use crate::dossiers::DossierTargets;
use crate::ranking::RankingWeights;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How analytics treats time, staleness and traffic.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// `allowed_lateness`: how far behind the newest event time an event may arrive and still
    /// count in its window (docs/events.md, default `2m`). Later events are journaled and
    /// counted as late. Held in milliseconds.
    #[serde(
        rename = "allowed_lateness",
        with = "ioc_ingest::duration_setting::millis"
    )]
    pub allowed_lateness_ms: i64,
    /// `stale_after`: a source with no reading for this long (event time) is flagged `stale`
    /// (default `5m`). Held in milliseconds.
    #[serde(rename = "stale_after", with = "ioc_ingest::duration_setting::millis")]
    pub stale_after_ms: i64,
    /// Free-flow speed (km/h) per traffic sensor id; sensors not listed learn theirs as the
    /// 95th percentile of their own speeds.
    pub free_flow_kmh: BTreeMap<String, f64>,
    /// Free-flow speed assumed before a sensor has any history (km/h).
    pub default_free_flow_kmh: f64,
    /// A traffic sensor whose last speed is under this share of its free-flow speed counts as
    /// congested (0.5: half the free-flow speed), besides one that reports `congested = true`.
    pub congested_speed_ratio: f64,
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
    /// How an area's VN_AQI comes from its stations: `worst` (the default: the area is as bad
    /// as its worst station) or `mean` (the mean of the stations' indices).
    pub area_aqi: AreaAqi,
    /// Noise limits of QCVN 26:2010 (`noise_limits = { day_db = 70, night_db = 55 }` for
    /// ordinary areas; special areas such as hospitals use 55/45).
    pub noise_limits: NoiseLimits,
}

/// How an area's VN_AQI is derived from its stations'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaAqi {
    /// The worst station's index.
    #[default]
    Worst,
    /// The mean of the stations' indices, rounded.
    Mean,
}

impl AreaAqi {
    /// An area's index from its stations' indices; `None` without any.
    pub fn combine(self, values: impl IntoIterator<Item = u32>) -> Option<u32> {
        let values: Vec<u32> = values.into_iter().collect();
        match self {
            AreaAqi::Worst => values.into_iter().max(),
            AreaAqi::Mean if values.is_empty() => None,
            AreaAqi::Mean => Some(
                (values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64).round()
                    as u32,
            ),
        }
    }
}

/// Day and night noise limits, dB(A), and where the day begins and ends (local hours, UTC+7).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseLimits {
    /// Limit by day (QCVN 26:2010 ordinary areas: 70).
    pub day_db: f64,
    /// Limit by night (QCVN 26:2010 ordinary areas: 55).
    pub night_db: f64,
    /// Local hour the day period starts (6).
    pub day_from_hour: u32,
    /// Local hour the night period starts (21).
    pub night_from_hour: u32,
}

impl Default for NoiseLimits {
    fn default() -> Self {
        Self {
            day_db: 70.0,
            night_db: 55.0,
            day_from_hour: 6,
            night_from_hour: 21,
        }
    }
}

impl NoiseLimits {
    /// The limit in force at an epoch-ms time, and whether it is the day limit.
    pub fn at(&self, ts_ms: i64) -> (f64, bool) {
        let local_hour = ((ts_ms + 7 * 3_600_000).div_euclid(3_600_000)).rem_euclid(24) as u32;
        let day = local_hour >= self.day_from_hour && local_hour < self.night_from_hour;
        (if day { self.day_db } else { self.night_db }, day)
    }
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            allowed_lateness_ms: 120_000,
            stale_after_ms: 300_000,
            free_flow_kmh: BTreeMap::new(),
            default_free_flow_kmh: 50.0,
            congested_speed_ratio: 0.5,
            dead_letter_capacity: ioc_ingest::deadletter::DEFAULT_CAPACITY,
            report_sla_hours: BTreeMap::new(),
            dossier_targets: DossierTargets::default(),
            ranking_weights: RankingWeights::default(),
            area_aqi: AreaAqi::default(),
            noise_limits: NoiseLimits::default(),
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
    fn noise_limits_follow_local_day_and_night() {
        let limits = NoiseLimits::default();
        // 2026-11-25 05:59 and 06:00 and 21:00 in Hanoi (UTC+7).
        let local_midnight = 1_795_539_600_000_i64;
        assert_eq!(limits.at(local_midnight + 359 * 60_000), (55.0, false));
        assert_eq!(limits.at(local_midnight + 6 * 3_600_000), (70.0, true));
        assert_eq!(limits.at(local_midnight + 21 * 3_600_000), (55.0, false));
    }

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
        let unknown = r#"{"noise_limits": {"day": 1}}"#;
        assert!(serde_json::from_str::<AnalyticsConfig>(unknown).is_err());
    }
}
