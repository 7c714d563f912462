//! A mergeable quantile sketch with relative-error guarantees (log-spaced bins, in the manner
//! of DDSketch). Two sketches built on different instances merge exactly into the sketch of the
//! union, which is what lets engine instances combine their window partials.
//!
//! Every window bucket of every series holds one, so their size is most of the engine's memory
//! at high rates: the bins of one sign are kept as one dense run of `u32` counts (a sensor's
//! values in a bucket fill a few hundred neighbouring bins), 4 bytes a bin where a map spent
//! about 30. See [`Store`] for the cases that fall back to a map.

use std::collections::BTreeMap;

/// Relative accuracy of every quantile answer: the value returned is within 1 % of a value of
/// the requested rank.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// Values closer to zero than this are counted in the zero bin.
const ZERO_THRESHOLD: f64 = 1e-9;

/// The widest run of bins kept dense (8 KiB of counts, a factor of about 3·10¹⁷ between the
/// smallest and the largest value); a wider spread goes to the sparse form.
const MAX_DENSE_BINS: usize = 2048;

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

/// [`bin_of`] remembered for the values seen last: a batch of readings repeats the same
/// values over and over (sensors report a decimal or two), and the logarithm behind each bin
/// was about a twentieth of B2's time in its profile. Exactly [`bin_of`]: a remembered bin
/// is given only for the very value (the same bits) it was computed for.
#[derive(Debug)]
pub struct BinMemo {
    /// (the value's bits, its bin), at a place chosen by the bits; [`BinMemo::UNSET`] where
    /// nothing is remembered.
    slots: Box<[(u64, i32)]>,
}

impl BinMemo {
    /// How many values are remembered at most (one per place).
    const PLACES: usize = 1024;

    /// The bits of a NaN no reading can hold (readings are finite): marks an empty place.
    const UNSET: u64 = u64::MAX;

    /// An empty memo.
    pub fn new() -> Self {
        Self {
            slots: vec![(Self::UNSET, 0); Self::PLACES].into_boxed_slice(),
        }
    }

    /// [`bin_of`] `value`, remembered.
    pub fn bin_of(&mut self, value: f64) -> i32 {
        let bits = value.to_bits();
        // The top bits of a multiplicative hash choose the place.
        let place = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize % Self::PLACES;
        match self.slots.get_mut(place) {
            Some((remembered, bin)) if *remembered == bits => *bin,
            Some(slot) => {
                let bin = bin_of(value);
                *slot = (bits, bin);
                bin
            }
            None => bin_of(value),
        }
    }
}

impl Default for BinMemo {
    fn default() -> Self {
        Self::new()
    }
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

/// Counts per bin; the sketch of a multiset of values. Two sketches are equal when they hold
/// the same counts in the same bins, whatever form their stores took.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct QuantileSketch {
    /// Values below zero, by the bin index of their magnitude.
    negative: Store,
    /// Values at (or within [`ZERO_THRESHOLD`] of) zero.
    zero: u64,
    /// Values above zero, by bin index.
    positive: Store,
    /// Number of values seen.
    count: u64,
}

impl QuantileSketch {
    /// Adds one value.
    pub fn add(&mut self, value: f64) {
        self.add_bin(bin_of(value), 1);
    }

    /// Adds `count` values that fall in `bin` (what a polars group-by produces).
    pub fn add_bin(&mut self, bin: i32, count: u64) {
        if count == 0 {
            return;
        }
        match bin {
            0 => self.zero += count,
            b if b > 0 => self.positive.add(b.unsigned_abs(), count),
            b => self.negative.add(b.unsigned_abs(), count),
        }
        self.count += count;
    }

    /// Merges another sketch into this one; exact (bins add).
    pub fn merge(&mut self, other: &QuantileSketch) {
        self.negative.merge(&other.negative);
        self.positive.merge(&other.positive);
        self.zero += other.zero;
        self.count += other.count;
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
        let mut highest = None;
        for (bin, count) in self.bins() {
            seen += count;
            highest = Some(bin);
            if seen > rank {
                return Some(value_of(bin));
            }
        }
        highest.map(value_of)
    }

    /// Every non-empty bin with its count, in ascending order of value.
    fn bins(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        let negative = self
            .negative
            .descending()
            .map(|(index, count)| (-signed(index), count));
        let zero = (self.zero > 0).then_some((0, self.zero));
        let positive = self
            .positive
            .ascending()
            .map(|(index, count)| (signed(index), count));
        negative.chain(zero).chain(positive)
    }
}

impl PartialEq for QuantileSketch {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.bins().eq(other.bins())
    }
}

/// A bin index back to `i32`; indices come from [`bin_of`], which never exceeds `i32::MAX`.
fn signed(index: u32) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// The counts of one sign's bins.
///
/// Dense while the bins seen lie within [`MAX_DENSE_BINS`] of each other and no count passes
/// `u32::MAX`, which covers every sensor series the engine has met; otherwise a map, exact for
/// any input. The move to the map is one-way: a store never shrinks back.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
enum Store {
    /// No value yet.
    #[default]
    Empty,
    /// `counts[i]` is the count of bin `first + i`.
    Dense { first: u32, counts: Vec<u32> },
    /// Bin → count, for spreads or counts the dense form cannot hold.
    Sparse(BTreeMap<u32, u64>),
}

impl Store {
    /// Adds `count` to bin `index`.
    fn add(&mut self, index: u32, count: u64) {
        match self {
            Store::Empty => {
                *self = match u32::try_from(count) {
                    Ok(small) => Store::Dense {
                        first: index,
                        counts: vec![small],
                    },
                    Err(_) => Store::Sparse(BTreeMap::from([(index, count)])),
                };
            }
            Store::Dense { first, counts } => {
                let small = u32::try_from(count).ok();
                if let (Some(small), Some(slot)) = (small, dense_slot(first, counts, index))
                    && let Some(sum) = counts[slot].checked_add(small)
                {
                    counts[slot] = sum;
                    return;
                }
                let mut map: BTreeMap<u32, u64> = self.ascending().collect();
                *map.entry(index).or_insert(0) += count;
                *self = Store::Sparse(map);
            }
            Store::Sparse(map) => *map.entry(index).or_insert(0) += count,
        }
    }

    /// Adds every count of `other`.
    fn merge(&mut self, other: &Store) {
        match other {
            Store::Empty => return,
            _ if matches!(self, Store::Empty) => {
                *self = other.clone();
                return;
            }
            Store::Dense { first, counts } if self.add_dense_run(*first, counts) => return,
            _ => {}
        }
        // A map on either side, too wide a spread or a count past u32::MAX: bin by bin, which
        // moves this store to the map where it must.
        for (index, count) in other.ascending() {
            self.add(index, count);
        }
    }

    /// Adds a dense run of counts starting at bin `run_first` in one pass; `false`, with no
    /// count added, when this store is not dense, the run would make it wider than
    /// [`MAX_DENSE_BINS`] or a count would pass `u32::MAX`.
    fn add_dense_run(&mut self, run_first: u32, run: &[u32]) -> bool {
        let Store::Dense { first, counts } = self else {
            return false;
        };
        let run_last = run_first + run.len() as u32 - 1;
        if dense_slot(first, counts, run_first).is_none()
            || dense_slot(first, counts, run_last).is_none()
        {
            return false;
        }
        let offset = (run_first - *first) as usize;
        let mine = &mut counts[offset..offset + run.len()];
        if !mine
            .iter()
            .zip(run)
            .all(|(a, b)| a.checked_add(*b).is_some())
        {
            return false;
        }
        for (a, b) in mine.iter_mut().zip(run) {
            *a += *b;
        }
        true
    }

    /// Non-empty bins, lowest index first.
    fn ascending(&self) -> Box<dyn DoubleEndedIterator<Item = (u32, u64)> + '_> {
        match self {
            Store::Empty => Box::new(std::iter::empty()),
            Store::Dense { first, counts } => Box::new(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, count)| **count > 0)
                    .map(move |(i, count)| (*first + i as u32, u64::from(*count))),
            ),
            Store::Sparse(map) => Box::new(map.iter().map(|(index, count)| (*index, *count))),
        }
    }

    /// Non-empty bins, highest index first.
    fn descending(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.ascending().rev()
    }
}

/// The slot of bin `index` in a dense run, growing the run to reach it; `None` when that would
/// make the run wider than [`MAX_DENSE_BINS`].
fn dense_slot(first: &mut u32, counts: &mut Vec<u32>, index: u32) -> Option<usize> {
    let last = *first + counts.len() as u32 - 1;
    let low = index.min(*first);
    let high = index.max(last);
    let width = (high - low) as usize + 1;
    if width > MAX_DENSE_BINS {
        return None;
    }
    if index < *first {
        let grow = (*first - index) as usize;
        let mut wider = Vec::with_capacity(width);
        wider.resize(grow, 0);
        wider.extend_from_slice(counts);
        *counts = wider;
        *first = index;
    } else if index > last {
        counts.reserve_exact(width - counts.len());
        counts.resize(width, 0);
    }
    Some((index - *first) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo gives what `bin_of` gives, for values met once and again, values whose places
    /// collide, zero, negative values and the unset marker's neighbours.
    #[test]
    fn the_memo_gives_the_bin_of_each_value() {
        let mut memo = BinMemo::new();
        let mut values: Vec<f64> = (0..5_000).map(|i| f64::from(i) / 10.0 - 100.0).collect();
        values.extend([0.0, -0.0, 1e-12, 5e-10, 1e300, -1e300, f64::MIN_POSITIVE]);
        values.extend([f64::from_bits(u64::MAX - 1), 42.5, 42.5, -42.5]);
        for round in 0..3 {
            for &value in &values {
                let expected = if value.is_nan() {
                    None
                } else {
                    Some(bin_of(value))
                };
                let got = (!value.is_nan()).then(|| memo.bin_of(value));
                assert_eq!(got, expected, "{value} in round {round}");
            }
        }
    }

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

    /// The bins a sketch holds, as (bin, count) in value order.
    fn bins(sketch: &QuantileSketch) -> Vec<(i32, u64)> {
        sketch.bins().collect()
    }

    #[test]
    fn sensor_values_stay_in_one_dense_run() {
        let mut sketch = QuantileSketch::default();
        for i in 0..5_000 {
            sketch.add(20.0 + f64::from(i % 600) * 0.1);
        }
        assert!(matches!(sketch.positive, Store::Dense { .. }));
        assert!(matches!(sketch.negative, Store::Empty));
        assert_eq!(sketch.count(), 5_000);
        assert_eq!(bins(&sketch).iter().map(|(_, n)| n).sum::<u64>(), 5_000);
    }

    #[test]
    fn values_of_every_magnitude_move_to_the_map_and_stay_exact() {
        let values = [1e-6, 3.0, 1e12, 2.5e-7, -4.0, -1e15, 0.0, 7.0, 1e12];
        let mut one_by_one = QuantileSketch::default();
        let mut merged = QuantileSketch::default();
        for (i, value) in values.iter().enumerate() {
            one_by_one.add(*value);
            let mut single = QuantileSketch::default();
            single.add(*value);
            if i % 2 == 0 {
                merged.merge(&single);
            } else {
                single.merge(&merged);
                merged = single;
            }
        }
        assert!(matches!(one_by_one.positive, Store::Sparse(_)));
        assert_eq!(one_by_one, merged);
        assert_eq!(one_by_one.count(), 9);
        let expected: Vec<(i32, u64)> = {
            let mut all: Vec<i32> = values.iter().map(|v| bin_of(*v)).collect();
            all.sort_unstable();
            let mut out: Vec<(i32, u64)> = Vec::new();
            for bin in all {
                match out.last_mut() {
                    Some((last, n)) if *last == bin => *n += 1,
                    _ => out.push((bin, 1)),
                }
            }
            out
        };
        assert_eq!(bins(&one_by_one), expected);
        assert_eq!(one_by_one.quantile(0.0), Some(value_of(bin_of(-1e15))));
        assert_eq!(one_by_one.quantile(1.0), Some(value_of(bin_of(1e12))));
    }

    #[test]
    fn a_count_past_u32_max_is_kept_exactly() {
        let bin = bin_of(42.0);
        let mut sketch = QuantileSketch::default();
        sketch.add_bin(bin, u64::from(u32::MAX));
        sketch.add(41.0);
        sketch.add_bin(bin, 5);
        assert_eq!(sketch.count(), u64::from(u32::MAX) + 6);
        let mut other = QuantileSketch::default();
        other.add_bin(bin, u64::from(u32::MAX));
        let mut sum = other.clone();
        sum.merge(&other);
        assert_eq!(bins(&sum), vec![(bin, 2 * u64::from(u32::MAX))]);
        assert!(bins(&sketch).contains(&(bin, u64::from(u32::MAX) + 5)));
    }

    #[test]
    fn dense_runs_grow_on_both_sides_when_merged() {
        let (mut low, mut high, mut all) = (
            QuantileSketch::default(),
            QuantileSketch::default(),
            QuantileSketch::default(),
        );
        for i in 1..=300 {
            let value = f64::from(i);
            if i < 150 {
                low.add(value)
            } else {
                high.add(value)
            }
            all.add(value);
        }
        let mut a = high.clone();
        a.merge(&low);
        let mut b = low.clone();
        b.merge(&high);
        assert_eq!(a, all);
        assert_eq!(b, all);
        assert!(matches!(a.positive, Store::Dense { .. }));
        assert_eq!(a.quantile(0.5), all.quantile(0.5));
    }
}
