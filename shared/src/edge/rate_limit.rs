//! Per-client rate limits: GCRA (generic cell rate algorithm) behind the [`RateLimiter`] trait so
//! a shared store (Redis) can implement it later. A client is the viewer when signed in, else its
//! address; a batch costs as many operations as it carries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::config::RateLimit;

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit: retry after this long.
    Limited {
        retry_after: Duration,
    },
}

/// A rate limiter keyed by client.
pub trait RateLimiter: Send + Sync {
    /// Takes `cost` operations from `key`'s allowance.
    fn check<'a>(&'a self, key: &'a str, cost: u32) -> BoxFuture<'a, RateDecision>;
}

/// In-memory GCRA: each key keeps its theoretical arrival time (TAT).
pub struct Gcra {
    /// Time one operation "costs".
    emission: Duration,
    /// How far the TAT may run ahead of now (the burst).
    tolerance: Duration,
    tats: Mutex<HashMap<String, Instant>>,
}

/// Keys kept before expired ones are swept.
const SWEEP_AT: usize = 100_000;

impl Gcra {
    /// A limiter for `rate`; `None` when the rate is 0 (off).
    pub fn new(rate: RateLimit) -> Option<Self> {
        if rate.per_minute == 0 {
            return None;
        }
        let emission = Duration::from_secs(60) / rate.per_minute;
        Some(Self {
            emission,
            tolerance: emission * rate.burst.max(1),
            tats: Mutex::new(HashMap::new()),
        })
    }

    /// The decision at `now` (the testable core).
    pub fn check_at(&self, key: &str, cost: u32, now: Instant) -> RateDecision {
        let Ok(mut tats) = self.tats.lock() else {
            return RateDecision::Allowed;
        };
        if tats.len() >= SWEEP_AT {
            tats.retain(|_, tat| *tat > now);
        }
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + self.emission * cost;
        let allowed_until = now + self.tolerance;
        if new_tat <= allowed_until {
            tats.insert(key.to_owned(), new_tat);
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: (new_tat - allowed_until).max(Duration::from_secs(1)),
            }
        }
    }
}

impl RateLimiter for Gcra {
    fn check<'a>(&'a self, key: &'a str, cost: u32) -> BoxFuture<'a, RateDecision> {
        Box::pin(std::future::ready(self.check_at(key, cost, Instant::now())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let gcra = Gcra::new(RateLimit {
            per_minute: 60,
            burst: 3,
        })
        .unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(gcra.check_at("a", 1, t0), RateDecision::Allowed);
        }
        assert!(matches!(
            gcra.check_at("a", 1, t0),
            RateDecision::Limited { .. }
        ));
        assert_eq!(gcra.check_at("b", 1, t0), RateDecision::Allowed);
        assert_eq!(
            gcra.check_at("a", 1, t0 + Duration::from_secs(1)),
            RateDecision::Allowed
        );
        assert!(matches!(
            gcra.check_at("b", 5, t0),
            RateDecision::Limited { .. }
        ));
    }
}
