//! History settings (`[history]` in the config file, `IOC_HISTORY_*` variables) and the
//! periodic compaction task of `ioc serve`.

use ioc_analytics::history::{History, HistorySettings};
use ioc_ingest::journal::compaction::MIN_HORIZON_MS;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// `[history]`: how old telemetry must be to leave the journal, and how often to look.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Telemetry with an event time older than this moves to the Parquet archive (default
    /// `48h`; at least the allowed lateness plus 10 minutes, the journal's dedupe minimum).
    #[serde(with = "humantime_serde")]
    pub horizon: Duration,
    /// How often compaction runs (default `5m`); it also runs once at start.
    #[serde(with = "humantime_serde")]
    pub compact_every: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            horizon: Duration::from_secs(48 * 3600),
            compact_every: Duration::from_secs(5 * 60),
        }
    }
}

impl HistoryConfig {
    /// The analytics settings, checked against the allowed lateness.
    pub fn settings(&self, allowed_lateness_ms: i64) -> anyhow::Result<HistorySettings> {
        let horizon_ms = i64::try_from(self.horizon.as_millis())?;
        let least = allowed_lateness_ms.max(0) + MIN_HORIZON_MS;
        anyhow::ensure!(
            horizon_ms >= least,
            "history.horizon {} is below the allowed lateness plus 10 minutes ({} s): events \
             that recent must stay in the journal to be deduplicated",
            humantime::format_duration(self.horizon),
            least / 1000
        );
        Ok(HistorySettings {
            horizon_ms,
            ..HistorySettings::default()
        })
    }

    /// The compaction period.
    pub fn every(&self) -> anyhow::Result<Duration> {
        anyhow::ensure!(
            self.compact_every >= Duration::from_secs(1),
            "history.compact_every {} is below one second",
            humantime::format_duration(self.compact_every)
        );
        Ok(self.compact_every)
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
        let config = |minutes: u64| HistoryConfig {
            horizon: Duration::from_secs(minutes * 60),
            ..HistoryConfig::default()
        };
        assert!(config(11).settings(120_000).is_err());
        assert_eq!(
            config(12).settings(120_000).map(|s| s.horizon_ms).ok(),
            Some(720_000)
        );
        assert_eq!(
            HistoryConfig::default()
                .settings(120_000)
                .map(|s| s.horizon_ms)
                .ok(),
            Some(48 * 3_600_000)
        );
        let every = HistoryConfig {
            compact_every: Duration::ZERO,
            ..HistoryConfig::default()
        };
        assert!(every.every().is_err());
    }
}
