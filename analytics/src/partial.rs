//! Partial aggregates: what one bucket (or one window) knows about one series. Every field
//! merges exactly, so partials from several micro-batches or engine instances combine into the
//! same result as one pass over all the events.

use crate::sketch::QuantileSketch;

/// Count, sum, min, max, the latest value and a quantile sketch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partial {
    /// Number of values.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value (`+∞` when empty).
    pub min: f64,
    /// Largest value (`−∞` when empty).
    pub max: f64,
    /// Event time of the latest value, epoch ms.
    pub last_ts: i64,
    /// The latest value by event time (on a tie, the one merged last).
    pub last: f64,
    /// Distribution, for p50/p95.
    pub sketch: QuantileSketch,
}

impl Partial {
    /// An empty partial.
    pub fn empty() -> Self {
        Self {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last_ts: i64::MIN,
            ..Self::default()
        }
    }

    /// Folds another partial into this one.
    pub fn merge(&mut self, other: &Partial) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.last_ts >= self.last_ts {
            self.last_ts = other.last_ts;
            self.last = other.last;
        }
        self.sketch.merge(&other.sketch);
    }

    /// The sketch's quantile, clamped to the exact min and max (so a window of one value
    /// reports that value), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q).map(|v| v.clamp(self.min, self.max))
    }

    /// The mean, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}
