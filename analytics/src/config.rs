//! Analytics settings. Every field has a default; the engine's config file sets them under
//! `[analytics]`.

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
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            allowed_lateness_ms: 120_000,
            stale_after_ms: 300_000,
            free_flow_kmh: BTreeMap::new(),
            default_free_flow_kmh: 50.0,
            dead_letter_capacity: ioc_ingest::deadletter::DEFAULT_CAPACITY,
        }
    }
}
