//! Ingest counters for `/metrics`: events by kind and payload format, zone-less device times,
//! and the journal's commit latency. Plain atomics, so the hot path pays one relaxed add.

use crate::decode::Format;
use crate::event::Kind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the intake decoded and validated, counted before the journal's dedupe: the rate at which
/// each device family publishes, whether or not a message was a redelivery.
#[derive(Debug, Default)]
pub struct IntakeCounters {
    events: [[AtomicU64; Format::ALL.len()]; Kind::ALL.len()],
    zoneless: AtomicU64,
}

impl IntakeCounters {
    /// Counts `count` valid events of one kind that came in one format.
    pub fn record(&self, kind: Kind, format: Format, count: u64) {
        if let (Some(k), Some(f)) = (kind_index(kind), format_index(format)) {
            self.events[k][f].fetch_add(count, Ordering::Relaxed);
        }
    }

    /// Counts valid events whose time had no zone and was read in the device zone.
    pub fn record_zoneless(&self, count: u64) {
        self.zoneless.fetch_add(count, Ordering::Relaxed);
    }

    /// Every kind × format pair with its count (zeros included, so series exist from the start).
    pub fn events(&self) -> Vec<(Kind, Format, u64)> {
        let mut rows = Vec::with_capacity(Kind::ALL.len() * Format::ALL.len());
        for (k, kind) in Kind::ALL.iter().enumerate() {
            for (f, format) in Format::ALL.iter().enumerate() {
                rows.push((*kind, *format, self.events[k][f].load(Ordering::Relaxed)));
            }
        }
        rows
    }

    /// Valid events whose time was read in the device zone.
    pub fn zoneless(&self) -> u64 {
        self.zoneless.load(Ordering::Relaxed)
    }
}

fn kind_index(kind: Kind) -> Option<usize> {
    Kind::ALL.iter().position(|k| *k == kind)
}

fn format_index(format: Format) -> Option<usize> {
    Format::ALL.iter().position(|f| *f == format)
}

/// Upper bounds (seconds) of the commit-latency buckets: from a fast SSD's fsync to a stalled
/// disk.
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A latency histogram with fixed buckets, in the shape Prometheus expects.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A histogram read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per upper bound (seconds), ending with `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of every observation, in seconds.
    pub sum_seconds: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = COMMIT_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative buckets, sum and count.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let bounds = COMMIT_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets = bounds
            .zip(&self.buckets)
            .map(|(bound, count)| {
                running += count.load(Ordering::Relaxed);
                (bound, running)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_infinity() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(300));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(5));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 3);
        assert!((snapshot.sum_seconds - 5.0033).abs() < 1e-9);
        assert_eq!(snapshot.buckets[0], (0.0005, 1));
        assert_eq!(snapshot.buckets[3], (0.005, 2));
        assert_eq!(snapshot.buckets[11], (2.5, 2));
        assert_eq!(snapshot.buckets[12], (f64::INFINITY, 3));
    }

    #[test]
    fn intake_counts_land_on_their_kind_and_format() {
        let counters = IntakeCounters::default();
        counters.record(Kind::AirQuality, Format::Ngsi, 2);
        counters.record(Kind::Traffic, Format::Senml, 5);
        counters.record_zoneless(2);
        let rows = counters.events();
        assert_eq!(rows.len(), Kind::ALL.len() * Format::ALL.len());
        let count = |kind, format| {
            rows.iter()
                .find(|(k, f, _)| *k == kind && *f == format)
                .map(|(_, _, n)| *n)
        };
        assert_eq!(count(Kind::AirQuality, Format::Ngsi), Some(2));
        assert_eq!(count(Kind::Traffic, Format::Senml), Some(5));
        assert_eq!(count(Kind::Traffic, Format::Native), Some(0));
        assert_eq!(counters.zoneless(), 2);
    }
}
