//! What a run did: events sent, per area and kind, time taken and rate achieved.

use std::collections::BTreeMap;
use std::time::Duration;

use ioc_ingest::event::Kind;
use serde_json::{Value, json};

/// The outcome of [`run`](crate::run).
#[derive(Debug, Clone, PartialEq)]
pub struct SimSummary {
    /// Events sent: acknowledged by the broker at QoS 1, handed to the client at QoS 0; the
    /// manifest has exactly these.
    pub sent: u64,
    /// Events the run aimed for (`rate × duration`, capped by `max_events`).
    pub planned: u64,
    /// QoS 1 events handed to the client whose PUBACK never came (0 on a healthy broker).
    pub unacknowledged: u64,
    /// Sent events per `(area id, kind)`.
    pub counts: BTreeMap<(String, Kind), u64>,
    /// Wall-clock time from the first publish to the last acknowledgement.
    pub elapsed: Duration,
    /// Achieved rate, `sent / elapsed`, events per second.
    pub rate: f64,
    /// Times the connection to the broker was lost and re-established during the run.
    pub reconnects: u64,
    /// Simulated time of the earliest and latest sent event, epoch milliseconds.
    pub ts_range_ms: Option<(i64, i64)>,
    /// Reports posted over Open311 and operator changes made (zeros without a report target).
    pub reports: crate::ReportSummary,
}

impl SimSummary {
    /// Sent events of one area and kind.
    pub fn count(&self, area: &str, kind: Kind) -> u64 {
        self.counts
            .get(&(area.to_string(), kind))
            .copied()
            .unwrap_or(0)
    }

    /// The summary as JSON, counts nested as `{"area": {"kind": n}}`, for printing.
    pub fn to_json(&self) -> Value {
        let mut counts: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for ((area, kind), n) in &self.counts {
            counts
                .entry(area.as_str())
                .or_default()
                .insert(kind.as_str(), *n);
        }
        json!({
            "sent": self.sent,
            "planned": self.planned,
            "unacknowledged": self.unacknowledged,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rate": self.rate,
            "reconnects": self.reconnects,
            "first_ts": self.ts_range_ms.map(|(first, _)| ioc_ingest::event::format_ts(first)),
            "last_ts": self.ts_range_ms.map(|(_, last)| ioc_ingest::event::format_ts(last)),
            "counts": counts,
            "reports": {
                "posted": self.reports.posted,
                "failed": self.reports.failed,
                "operator_actions": self.reports.operator_actions,
                "resolved": self.reports.resolved,
            },
        })
    }
}
