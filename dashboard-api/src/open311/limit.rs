//! Rate limits of Open311 POSTs, per API key and per client IP (docs/open311.md): token buckets that
//! refill continuously; a caller over its budget gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are swept, so a scan of many addresses cannot grow memory.
const SWEEP_ABOVE: usize = 10_000;

/// A bucket idle this long is full again and can be forgotten.
const IDLE: Duration = Duration::from_secs(600);

/// How many POSTs a key and an address may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open311Limits {
    /// POSTs per minute per API key (also the burst size).
    pub per_key_per_min: u32,
    /// POSTs per minute per client IP address (also the burst size).
    pub per_ip_per_min: u32,
}

impl Default for Open311Limits {
    fn default() -> Self {
        Self {
            per_key_per_min: 6000,
            per_ip_per_min: 600,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by name (`key:…`, `ip:…`).
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Takes one token from each named bucket (capacity and refill `per_min`), or says how long
    /// to wait; nothing is taken unless every bucket has a token.
    pub(crate) fn take(&self, wanted: &[(String, u32)], now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, bucket| now.duration_since(bucket.at) < IDLE);
        }
        let mut wait = Duration::ZERO;
        let mut refilled = Vec::with_capacity(wanted.len());
        for (name, per_min) in wanted {
            let capacity = f64::from((*per_min).max(1));
            let bucket = buckets.get(name).copied().unwrap_or(Bucket {
                tokens: capacity,
                at: now,
            });
            let per_sec = capacity / 60.0;
            let tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_sec)
                .min(capacity);
            if tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - tokens) / per_sec));
            }
            refilled.push((name.clone(), tokens));
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for (name, tokens) in refilled {
            buckets.insert(
                name,
                Bucket {
                    tokens: tokens - 1.0,
                    at: now,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_it_refills() {
        let limiter = Limiter::default();
        let start = Instant::now();
        let wanted = [("ip:a".to_string(), 60)];
        for _ in 0..60 {
            assert_eq!(limiter.take(&wanted, start), Ok(()));
        }
        let wait = limiter.take(&wanted, start).err();
        assert!(wait.is_some_and(|w| w > Duration::from_millis(900)));
        assert_eq!(
            limiter.take(&wanted, start + Duration::from_secs(1)),
            Ok(())
        );
        // Another address has its own budget.
        assert_eq!(limiter.take(&[("ip:b".to_string(), 60)], start), Ok(()));
    }
}
