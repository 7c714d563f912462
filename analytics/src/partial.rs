//! Partial aggregates: what one bucket (or one window) knows about one series. Every field
//! merges exactly, so partials from several micro-batches or engine instances combine into the
//! same result as one pass over all the events: a restarted engine, which replays in other
//! batches than it ingested in, and every instance of a cluster serve the same numbers to the
//! last bit.

use crate::sketch::QuantileSketch;

/// Count, sum, min, max, the latest value and a quantile sketch.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Partial {
    /// Number of values.
    pub count: u64,
    /// Sum of the values, exact (floating-point addition would depend on the batching).
    pub sum: ExactSum,
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
        self.sum.add(other.sum);
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
        (self.count > 0).then(|| self.sum.value() / self.count as f64)
    }
}

/// A sum that adds exactly and in any order: each value is held as a whole number of
/// millionths ([`ExactSum::SCALE`]) in an `i128`. A value is rounded once, when it enters, to
/// six decimals — finer than any sensor reports — and never again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExactSum(i128);

/// 2^63: a whole number of units below it in magnitude converts to `i64` exactly.
const I64_UNITS_BELOW: f64 = 9_223_372_036_854_775_808.0;

impl ExactSum {
    /// Units per 1.0 of the value.
    pub const SCALE: f64 = 1e6;
    /// Largest magnitude of one value in units, 2^70 (about 1.2e15 as a value: noise energy up
    /// to 150 dB). With it the two 64-bit limbs of [`ExactSum::limbs`] add without overflow
    /// for up to 2^24 values, far more than one micro-batch holds.
    const MAX_UNITS: i128 = 1 << 70;

    /// The sum of one value (NaN counts as zero; beyond ±[`Self::MAX_UNITS`] it is clamped).
    /// `of(-v)` is exactly minus `of(v)`, so adding it takes a value back out.
    pub fn of(value: f64) -> Self {
        let scaled = (value * Self::SCALE).round();
        // Every reading but the loudest noise energy fits an `i64` of units (below about 9.2e12
        // as a value), converted by one instruction; converting to `i128` is a library call,
        // made for every window reading (B2's profile). Both give the same whole number.
        let units = if scaled.abs() < I64_UNITS_BELOW {
            i128::from(scaled as i64)
        } else {
            scaled as i128
        };
        Self(units.clamp(-Self::MAX_UNITS, Self::MAX_UNITS))
    }

    /// Adds another sum.
    pub fn add(&mut self, other: ExactSum) {
        self.0 = self.0.saturating_add(other.0);
    }

    /// The same sum with the opposite sign, to take a part back out of a running total.
    pub fn negated(self) -> ExactSum {
        ExactSum(self.0.saturating_neg())
    }

    /// The sum as a number.
    pub fn value(self) -> f64 {
        self.0 as f64 / Self::SCALE
    }

    /// The value split in a high and a low 64-bit limb (`high · 2^32 + low`, `low` in
    /// `0..2^32`), so that a columnar engine summing plain `i64` columns sums exactly.
    pub fn limbs(self) -> (i64, i64) {
        ((self.0 >> 32) as i64, (self.0 & 0xFFFF_FFFF) as i64)
    }

    /// The sum of values whose limbs were summed separately.
    pub fn from_limbs(high: i64, low: i64) -> Self {
        Self((i128::from(high) << 32) + i128::from(low))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `i64` way gives what the `i128` conversion gives, on both sides of 2^63 units, at
    /// the clamp, for zero, NaN and infinities.
    #[test]
    fn a_value_in_units_is_the_whole_number_of_its_millionths() {
        let through_i128 = |value: f64| {
            let units = (value * ExactSum::SCALE).round() as i128;
            ExactSum(units.clamp(-ExactSum::MAX_UNITS, ExactSum::MAX_UNITS))
        };
        let edge = I64_UNITS_BELOW / ExactSum::SCALE;
        let mut values = vec![
            0.0,
            -0.0,
            0.5e-6,
            -0.5e-6,
            1.5e-6,
            35.5,
            -17.25,
            1e12,
            edge,
            -edge,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ];
        for step in [1.0_f64, 1e-3, 1e3] {
            for sign in [1.0, -1.0] {
                values.push(sign * (edge - step));
                values.push(sign * (edge + step));
                values.push(sign * next_after(edge, step));
            }
        }
        for value in values {
            assert_eq!(ExactSum::of(value), through_i128(value), "{value}");
        }
        assert_eq!(ExactSum::of(-35.5), ExactSum::of(35.5).negated());
    }

    /// The next `f64` from `value` towards `value + direction`.
    fn next_after(value: f64, direction: f64) -> f64 {
        let bits = value.to_bits();
        f64::from_bits(if direction > 0.0 { bits + 1 } else { bits - 1 })
    }

    fn partial_of(values: &[f64]) -> Partial {
        let mut partial = Partial::empty();
        for (i, value) in values.iter().enumerate() {
            partial.merge(&Partial {
                count: 1,
                sum: ExactSum::of(*value),
                min: *value,
                max: *value,
                last_ts: i as i64,
                last: *value,
                sketch: Default::default(),
            });
        }
        partial
    }

    #[test]
    fn sums_do_not_depend_on_how_values_were_grouped() {
        // In floating point, (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3).
        let values = [0.1, 0.2, 0.3, 1e12, -1e12, 7.25];
        let mut one_by_one = Partial::empty();
        one_by_one.merge(&partial_of(&values));
        let mut grouped = partial_of(&values[..2]);
        grouped.merge(&partial_of(&values[2..]));
        assert_eq!(one_by_one.sum, grouped.sum);
        assert_eq!(grouped.sum.value(), 7.85);
        assert_eq!(grouped.mean(), Some(7.85 / 6.0));
    }

    #[test]
    fn limbs_round_trip_and_add_as_plain_integers() {
        for value in [0.0, 1.5, -1.5, 123_456.789_012, -9.9e14, 1.2e15, f64::NAN] {
            let sum = ExactSum::of(value);
            let (high, low) = sum.limbs();
            assert!((0..1 << 32).contains(&low));
            assert_eq!(ExactSum::from_limbs(high, low), sum);
        }
        let (a, b) = (ExactSum::of(-3.000_001), ExactSum::of(1e15));
        let ((ah, al), (bh, bl)) = (a.limbs(), b.limbs());
        let mut both = a;
        both.add(b);
        assert_eq!(ExactSum::from_limbs(ah + bh, al + bl), both);
        assert_eq!(ExactSum::of(f64::INFINITY), ExactSum::of(1e300));
        for value in [0.5e-6, 2.5e-6, 35.5, 1e300] {
            let mut none = ExactSum::of(value);
            none.add(ExactSum::of(-value));
            assert_eq!(none, ExactSum::default(), "{value}");
        }
    }
}
