//! A mergeable quantile sketch with relative-error guarantees (log-spaced bins, in the manner
//! of DDSketch). Two sketches built on different instances merge exactly into the sketch of the
//! union, which is what lets engine instances combine their window partials.

use std::collections::BTreeMap;

/// Relative accuracy of every quantile answer: the value returned is within 1 % of a value of
/// the requested rank.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// Values closer to zero than this are counted in the zero bin.
const ZERO_THRESHOLD: f64 = 1e-9;

/// The base of the bins' geometric progression, `(1 + α) / (1 − α)`.
fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// The bin a value falls in: 0 for (near) zero, ±(k) for positive/negative magnitudes.
pub fn bin_of(value: f64) -> i32 {
    let magnitude = value.abs();
    if magnitude < ZERO_THRESHOLD {
        return 0;
    }
    let k = (magnitude.ln() / gamma().ln()).ceil() as i32;
    // Shift so that positive bins are ≥ 1 and negative bins ≤ -1, leaving 0 for zero.
    let index = k.saturating_add(BIN_OFFSET);
    if value > 0.0 { index } else { -index }
}

/// Offset that keeps every magnitude's bin index positive (log_γ(1e-9) ≈ -1036).
const BIN_OFFSET: i32 = 2000;

/// The representative value of a bin (the midpoint in relative terms).
fn value_of(bin: i32) -> f64 {
    if bin == 0 {
        return 0.0;
    }
    let k = bin.abs() - BIN_OFFSET;
    let g = gamma();
    let magnitude = 2.0 * g.powi(k) / (1.0 + g);
    if bin > 0 { magnitude } else { -magnitude }
}

/// Counts per bin; the sketch of a multiset of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantileSketch {
    bins: BTreeMap<i32, u64>,
    count: u64,
}

impl QuantileSketch {
    /// Adds one value.
    pub fn add(&mut self, value: f64) {
        self.add_bin(bin_of(value), 1);
    }

    /// Adds `count` values that fall in `bin` (what a polars group-by produces).
    pub fn add_bin(&mut self, bin: i32, count: u64) {
        *self.bins.entry(bin).or_insert(0) += count;
        self.count += count;
    }

    /// Merges another sketch into this one; exact (bins add).
    pub fn merge(&mut self, other: &QuantileSketch) {
        for (bin, count) in &other.bins {
            self.add_bin(*bin, *count);
        }
    }

    /// Number of values seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` in 0..=1 (lower rank convention), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (bin, count) in &self.bins {
            seen += count;
            if seen > rank {
                return Some(value_of(*bin));
            }
        }
        self.bins.keys().next_back().map(|bin| value_of(*bin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_relative_accuracy() {
        let mut sketch = QuantileSketch::default();
        for i in 1..=1000 {
            sketch.add(f64::from(i));
        }
        let p50 = sketch.quantile(0.5).unwrap_or_default();
        let p95 = sketch.quantile(0.95).unwrap_or_default();
        assert!(
            (p50 - 500.0).abs() <= 500.0 * RELATIVE_ACCURACY,
            "p50 {p50}"
        );
        assert!(
            (p95 - 950.0).abs() <= 950.0 * RELATIVE_ACCURACY,
            "p95 {p95}"
        );
    }

    #[test]
    fn merging_equals_sketching_the_union() {
        let (mut a, mut b, mut all) = (
            QuantileSketch::default(),
            QuantileSketch::default(),
            QuantileSketch::default(),
        );
        for i in 0..500 {
            let v = f64::from(i) * 0.37 - 20.0;
            if i % 3 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
            all.add(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    fn zero_and_negatives_have_their_own_bins() {
        assert_eq!(bin_of(0.0), 0);
        assert!(bin_of(-3.0) < 0);
        assert!(bin_of(3.0) > 0);
        let mut sketch = QuantileSketch::default();
        sketch.add(-10.0);
        assert!((sketch.quantile(0.5).unwrap_or_default() + 10.0).abs() < 0.1);
    }
}
