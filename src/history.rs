//! History settings (`[history]` in the config file, `IOC_HISTORY_*` variables) and the
//! periodic compaction task of `ioc serve`.

use crate::cli::parse_duration;
use ioc_analytics::history::{History, HistorySettings};
use ioc_ingest::journal::compaction::MIN_HORIZON_MS;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// `[history]`: how old telemetry must be to leave the journal, and how often to look.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Telemetry with an event time older than this moves to the Parquet archive (default
    /// `48h`; at least the allowed lateness plus 10 minutes, the journal's dedupe minimum).
    pub horizon: String,
    /// How often compaction runs (default `5m`); it also runs once at start.
    pub compact_every: String,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            horizon: "48h".into(),
            compact_every: "5m".into(),
        }
    }
}

impl HistoryConfig {
    /// Takes `IOC_HISTORY_HORIZON` and `IOC_HISTORY_COMPACT_EVERY` over the file's values.
    pub fn apply_env(&mut self) {
        if let Ok(value) = std::env::var("IOC_HISTORY_HORIZON") {
            self.horizon = value;
        }
        if let Ok(value) = std::env::var("IOC_HISTORY_COMPACT_EVERY") {
            self.compact_every = value;
        }
    }

    /// The analytics settings, checked against the allowed lateness.
    pub fn settings(&self, allowed_lateness_ms: i64) -> anyhow::Result<HistorySettings> {
        let horizon_ms = i64::try_from(parse_duration(&self.horizon)?.as_millis())?;
        let least = allowed_lateness_ms.max(0) + MIN_HORIZON_MS;
        anyhow::ensure!(
            horizon_ms >= least,
            "history.horizon {:?} is below the allowed lateness plus 10 minutes ({} s): events \
             that recent must stay in the journal to be deduplicated",
            self.horizon,
            least / 1000
        );
        Ok(HistorySettings {
            horizon_ms,
            ..HistorySettings::default()
        })
    }

    /// The compaction period.
    pub fn every(&self) -> anyhow::Result<Duration> {
        let every = parse_duration(&self.compact_every)?;
        anyhow::ensure!(
            every >= Duration::from_secs(1),
            "history.compact_every {:?} is below one second",
            self.compact_every
        );
        Ok(every)
    }
}

/// Runs a compaction now and then every `every` until `stop` resolves, each off the async
/// runtime; a failed run is logged and retried at the next period.
pub async fn compact_periodically(
    history: Arc<History>,
    every: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(stop);
    loop {
        let history = Arc::clone(&history);
        let run = tokio::task::spawn_blocking(move || history.compact(ioc_ingest::event::now_ms()));
        match run.await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "compaction failed; retrying next period"),
            Err(error) => tracing::error!(%error, "compaction task failed"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_cannot_go_below_lateness_plus_ten_minutes() {
        let config = |horizon: &str| HistoryConfig {
            horizon: horizon.into(),
            ..HistoryConfig::default()
        };
        assert!(config("11m").settings(120_000).is_err());
        assert_eq!(
            config("12m").settings(120_000).map(|s| s.horizon_ms).ok(),
            Some(720_000)
        );
        assert_eq!(
            HistoryConfig::default()
                .settings(120_000)
                .map(|s| s.horizon_ms)
                .ok(),
            Some(48 * 3_600_000)
        );
        assert!(config("soon").settings(0).is_err());
        let every = HistoryConfig {
            compact_every: "0s".into(),
            ..HistoryConfig::default()
        };
        assert!(every.every().is_err());
    }
}
