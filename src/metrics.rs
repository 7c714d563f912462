//! The engine's ingest figures for `/metrics`: broker sessions, decoded events, journal commit
//! latency. A cluster instance reports the same figures, summed over its slot sessions, and
//! adds its own (see `cluster.rs`). The names are listed in docs/operations.md.

use ioc_dashboard_api::MetricsSource;
use ioc_dashboard_api::prometheus::{write_histogram, write_labelled, write_metric};
use ioc_ingest::journal::JournalHandle;
use ioc_ingest::metrics::IntakeCounters;
use ioc_ingest::mqtt::SessionTotals;
use std::sync::Arc;

/// Ingest counters for `/metrics`.
pub struct IngestMetrics {
    /// The broker session, or a cluster instance's slot sessions together.
    pub sessions: Arc<dyn SessionTotals>,
    /// Events decoded, by kind and format.
    pub intake: Arc<IntakeCounters>,
    /// The journal, for its commit latency.
    pub journal: JournalHandle,
}

impl MetricsSource for IngestMetrics {
    fn render(&self) -> String {
        let mut text = String::new();
        let mqtt = &self.sessions;
        let metrics = [
            (
                "ioc_mqtt_received_total",
                "counter",
                "MQTT messages received.",
                mqtt.received(),
            ),
            (
                "ioc_mqtt_acknowledged_total",
                "counter",
                "MQTT messages journaled and acknowledged.",
                mqtt.acknowledged(),
            ),
            (
                "ioc_mqtt_connection_errors_total",
                "counter",
                "Broker connection errors.",
                mqtt.connection_errors(),
            ),
            (
                "ioc_mqtt_connected",
                "gauge",
                "Whether the broker connection (every slot session, in a cluster) is up.",
                u64::from(mqtt.connected()),
            ),
        ];
        for (name, kind, help, value) in metrics {
            write_metric(&mut text, name, kind, help, value);
        }
        let events = self.intake.events();
        let rows: Vec<(Vec<(&str, &str)>, String)> = events
            .iter()
            .map(|(kind, format, count)| {
                let labels = vec![("kind", kind.as_str()), ("format", format.as_str())];
                (labels, count.to_string())
            })
            .collect();
        write_labelled(
            &mut text,
            "ioc_ingest_events_total",
            "counter",
            "Valid events decoded from MQTT, by kind and payload format (redeliveries included).",
            &rows,
        );
        write_metric(
            &mut text,
            "ioc_zoneless_timestamps_total",
            "counter",
            "Valid events whose device time had no zone and was read in the device zone.",
            self.intake.zoneless(),
        );
        let commits = self.journal.commit_latency().snapshot();
        write_histogram(
            &mut text,
            "ioc_journal_commit_seconds",
            "Duration of each journal group-commit transaction.",
            &commits.buckets,
            commits.sum_seconds,
            commits.count,
        );
        text
    }
}
