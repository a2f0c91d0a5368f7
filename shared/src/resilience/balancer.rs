//! Spreading one service's calls over its instances: power of two choices on in-flight calls,
//! with outlier detection (an instance failing several calls in a row is ejected for a while, but
//! never the last one still in rotation).

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::random_u64;

/// One instance of a service.
#[derive(Debug)]
pub struct Endpoint {
    /// Base URL, without a trailing slash.
    pub url: String,
    /// `url` parsed once (None if it does not parse: calls then fail with the parse error).
    pub parsed: Option<reqwest::Url>,
    in_flight: AtomicUsize,
    consecutive_failures: AtomicU32,
    /// Milliseconds since the balancer's epoch until which the instance is ejected (0: never).
    ejected_until_ms: AtomicU64,
}

/// An instance's state, for `/ready`.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    pub url: String,
    pub in_flight: usize,
    pub ejected: bool,
}

/// The instances of one service.
#[derive(Debug)]
pub struct Balancer {
    endpoints: Vec<Endpoint>,
    epoch: Instant,
    max_failures: u32,
    ejection: Duration,
}

/// An instance picked for one call; counts as in flight until dropped.
#[derive(Debug)]
pub struct Picked<'a> {
    pub endpoint: &'a Endpoint,
}

impl Drop for Picked<'_> {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Balancer {
    /// A balancer over `urls` (at least one).
    pub fn new(urls: &[String], max_failures: u32, ejection: Duration) -> Self {
        Self {
            endpoints: urls
                .iter()
                .map(|url| Endpoint {
                    url: url.clone(),
                    parsed: reqwest::Url::parse(url).ok(),
                    in_flight: AtomicUsize::new(0),
                    consecutive_failures: AtomicU32::new(0),
                    ejected_until_ms: AtomicU64::new(0),
                })
                .collect(),
            epoch: Instant::now(),
            max_failures: max_failures.max(1),
            ejection,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn ejected(&self, endpoint: &Endpoint, now: u64) -> bool {
        endpoint.ejected_until_ms.load(Ordering::Relaxed) > now
    }

    /// Every instance.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The first instance's URL.
    pub fn primary(&self) -> &str {
        self.endpoints.first().map_or("", |e| e.url.as_str())
    }

    /// Instance states.
    pub fn status(&self) -> Vec<EndpointStatus> {
        let now = self.now_ms();
        self.endpoints
            .iter()
            .map(|e| EndpointStatus {
                url: e.url.clone(),
                in_flight: e.in_flight.load(Ordering::Relaxed),
                ejected: self.ejected(e, now),
            })
            .collect()
    }

    /// Picks an instance: of two random ones in rotation, the one with fewer calls in flight.
    pub fn pick(&self) -> Option<Picked<'_>> {
        let now = self.now_ms();
        let live: Vec<&Endpoint> = self
            .endpoints
            .iter()
            .filter(|e| !self.ejected(e, now))
            .collect();
        let pool: Vec<&Endpoint> = if live.is_empty() {
            self.endpoints.iter().collect()
        } else {
            live
        };
        let endpoint = match pool.len() {
            0 => return None,
            1 => pool[0],
            n => {
                let r = random_u64();
                let a = (r % n as u64) as usize;
                let b = (a + 1 + ((r >> 32) % (n as u64 - 1)) as usize) % n;
                let (ea, eb) = (pool[a], pool[b]);
                if eb.in_flight.load(Ordering::Relaxed) < ea.in_flight.load(Ordering::Relaxed) {
                    eb
                } else {
                    ea
                }
            }
        };
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Picked { endpoint })
    }

    /// Records a call's outcome on its instance; ejects it after too many failures in a row.
    pub fn record(&self, endpoint: &Endpoint, ok: bool) {
        if ok {
            endpoint.consecutive_failures.store(0, Ordering::Relaxed);
            return;
        }
        let failures = endpoint
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if failures < self.max_failures || self.endpoints.len() < 2 {
            return;
        }
        let now = self.now_ms();
        let others_live = self
            .endpoints
            .iter()
            .any(|e| !std::ptr::eq(e, endpoint) && !self.ejected(e, now));
        if others_live {
            endpoint
                .ejected_until_ms
                .store(now + self.ejection.as_millis() as u64, Ordering::Relaxed);
            endpoint.consecutive_failures.store(0, Ordering::Relaxed);
            tracing::warn!(url = %endpoint.url, failures, "instance ejected");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Vec<String> {
        vec!["http://a".into(), "http://b".into()]
    }

    #[test]
    fn spreads_over_instances_and_ejects_a_failing_one() {
        let b = Balancer::new(&urls(), 3, Duration::from_secs(30));
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..100 {
            let picked = b.pick().unwrap_or_else(|| unreachable!());
            *seen.entry(picked.endpoint.url.clone()).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        let a = &b.endpoints()[0];
        for _ in 0..3 {
            b.record(a, false);
        }
        for _ in 0..20 {
            let picked = b.pick().unwrap_or_else(|| unreachable!());
            assert_eq!(picked.endpoint.url, "http://b");
        }
        // The last instance in rotation is never ejected.
        let last = &b.endpoints()[1];
        for _ in 0..10 {
            b.record(last, false);
        }
        assert!(!b.status()[1].ejected);
    }
}
