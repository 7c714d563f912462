//! Events-per-second over the last ten wall-clock seconds.

use std::collections::VecDeque;

/// Seconds the rate is averaged over.
const SPAN_S: i64 = 10;

/// Counts of events per wall-clock second, for the last [`SPAN_S`] seconds.
#[derive(Debug, Default)]
pub struct RateMeter {
    seconds: VecDeque<(i64, u64)>,
}

impl RateMeter {
    /// Records `n` events at wall-clock `now_ms`.
    pub fn record(&mut self, now_ms: i64, n: u64) {
        let second = now_ms.div_euclid(1000);
        match self.seconds.back_mut() {
            Some((s, count)) if *s == second => *count += n,
            _ => self.seconds.push_back((second, n)),
        }
        while self
            .seconds
            .front()
            .is_some_and(|(s, _)| *s <= second - SPAN_S)
        {
            self.seconds.pop_front();
        }
    }

    /// Mean events per second over the ten full seconds before `now_ms`.
    pub fn per_second(&self, now_ms: i64) -> f64 {
        let current = now_ms.div_euclid(1000);
        let total: u64 = self
            .seconds
            .iter()
            .filter(|(s, _)| *s < current && *s >= current - SPAN_S)
            .map(|(_, n)| n)
            .sum();
        total as f64 / SPAN_S as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_averages_full_seconds_and_decays() {
        let mut meter = RateMeter::default();
        for second in 0..10 {
            meter.record(second * 1000 + 500, 100);
        }
        assert_eq!(meter.per_second(10_000), 100.0);
        assert_eq!(meter.per_second(25_000), 0.0);
    }
}
