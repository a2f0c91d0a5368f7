//! Resilience of the downstream calls and of the server: request deadlines, retries of reads with
//! a retry budget, a circuit breaker, a concurrency limit (bulkhead) and a balancer over several
//! instances per service, stale-if-error for catalogue reads, and the settings of readiness,
//! overload and graceful shutdown. [`crate::clients`] applies the per-call policies; the server
//! applies the per-request ones.

pub mod balancer;
pub mod breaker;
pub mod request;
pub mod retry;
pub mod stale;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::config::{ConfigError, parse_duration};
use crate::error::Service;

pub use balancer::{Balancer, EndpointStatus};
pub use breaker::{Breaker, BreakerSettings, BreakerState};
pub use retry::RetryBudget;
pub use stale::{CatalogueCache, MemoryCache, StaleMarks};

/// Every resilience setting, with its environment variable and default.
#[derive(Debug, Clone)]
pub struct ResilienceConfig {
    /// Total time one GraphQL request may take (`BFF_REQUEST_DEADLINE`); `None` picks the BFF's
    /// default: 2 s for bff-mobile, 5 s for bff-web and bff-admin.
    pub request_deadline: Option<Duration>,
    /// Extra time after the deadline before the whole execution is abandoned
    /// (`BFF_DEADLINE_GRACE`, default 250ms).
    pub deadline_grace: Duration,
    /// Retries of a failed read, at most (`BFF_RETRY_MAX`, default 2; writes are never retried).
    pub retry_max: u32,
    /// First backoff ceiling; doubles per retry, full jitter (`BFF_RETRY_BACKOFF_BASE`, default 25ms).
    pub retry_backoff_base: Duration,
    /// Largest backoff (`BFF_RETRY_BACKOFF_MAX`, default 250ms).
    pub retry_backoff_max: Duration,
    /// Retries as a fraction of calls, per service (`BFF_RETRY_BUDGET_RATIO`, default 0.2).
    pub retry_budget_ratio: f64,
    /// Retries the budget can hold in reserve (`BFF_RETRY_BUDGET_BURST`, default 10).
    pub retry_budget_burst: u32,
    /// Failure ratio that opens a breaker (`BFF_BREAKER_FAILURE_RATIO`, default 0.5).
    pub breaker_failure_ratio: f64,
    /// Fewest calls in the window before a breaker may open (`BFF_BREAKER_MIN_CALLS`, default 20).
    pub breaker_min_calls: u32,
    /// Rolling window of a breaker (`BFF_BREAKER_WINDOW`, default 10s).
    pub breaker_window: Duration,
    /// Time a breaker stays open before probing (`BFF_BREAKER_COOL_DOWN`, default 5s).
    pub breaker_cool_down: Duration,
    /// Probe calls at once while half-open (`BFF_BREAKER_HALF_OPEN_PROBES`, default 1).
    pub breaker_half_open_probes: u32,
    /// Calls in flight per service; more wait, within the deadline
    /// (`BFF_DOWNSTREAM_MAX_IN_FLIGHT`, default 256).
    pub max_in_flight_per_service: usize,
    /// Consecutive failures that eject an instance (`BFF_OUTLIER_FAILURES`, default 5).
    pub outlier_failures: u32,
    /// How long an ejected instance stays out (`BFF_OUTLIER_EJECTION`, default 30s).
    pub outlier_ejection: Duration,
    /// Entries of the stale-if-error catalogue cache; 0 switches it off
    /// (`BFF_STALE_MAX_ENTRIES`, default 10000).
    pub stale_max_entries: usize,
    /// Oldest value served as stale (`BFF_STALE_MAX_AGE`, default 5m).
    pub stale_max_age: Duration,
    /// How old a stale-cache copy gets before a successful read replaces it
    /// (`BFF_STALE_REFRESH`, default 10s): copies are not re-serialised on every read.
    pub stale_refresh: Duration,
    /// How long a `/ready` probe result is reused (`BFF_READY_CACHE`, default 1s).
    pub ready_cache: Duration,
    /// Timeout of each `/ready` health probe (`BFF_READY_PROBE_TIMEOUT`, default 500ms).
    pub ready_probe_timeout: Duration,
    /// GraphQL requests served at once; more get 503 OVERLOADED
    /// (`BFF_MAX_CONCURRENT_REQUESTS`, default 256: a 2-core BFF serves about a thousand requests a second, so 256 queued
    /// is already a quarter second of work, and each holds memory).
    pub max_concurrent_requests: usize,
    /// Time in-flight requests get to finish after SIGTERM (`BFF_SHUTDOWN_GRACE`, default 10s).
    pub shutdown_grace: Duration,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            request_deadline: None,
            deadline_grace: Duration::from_millis(250),
            retry_max: 2,
            retry_backoff_base: Duration::from_millis(25),
            retry_backoff_max: Duration::from_millis(250),
            retry_budget_ratio: 0.2,
            retry_budget_burst: 10,
            breaker_failure_ratio: 0.5,
            breaker_min_calls: 20,
            breaker_window: Duration::from_secs(10),
            breaker_cool_down: Duration::from_secs(5),
            breaker_half_open_probes: 1,
            max_in_flight_per_service: 256,
            outlier_failures: 5,
            outlier_ejection: Duration::from_secs(30),
            stale_max_entries: 10_000,
            stale_max_age: Duration::from_secs(300),
            stale_refresh: Duration::from_secs(10),
            ready_cache: Duration::from_secs(1),
            ready_probe_timeout: Duration::from_millis(500),
            max_concurrent_requests: 256,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The environment variables [`ResilienceConfig::read_vars`] reads (known to
/// [`crate::config::is_known`]).
pub const VARS: &[&str] = &[
    "BFF_REQUEST_DEADLINE",
    "BFF_DEADLINE_GRACE",
    "BFF_RETRY_MAX",
    "BFF_RETRY_BACKOFF_BASE",
    "BFF_RETRY_BACKOFF_MAX",
    "BFF_RETRY_BUDGET_RATIO",
    "BFF_RETRY_BUDGET_BURST",
    "BFF_BREAKER_FAILURE_RATIO",
    "BFF_BREAKER_MIN_CALLS",
    "BFF_BREAKER_WINDOW",
    "BFF_BREAKER_COOL_DOWN",
    "BFF_BREAKER_HALF_OPEN_PROBES",
    "BFF_DOWNSTREAM_MAX_IN_FLIGHT",
    "BFF_OUTLIER_FAILURES",
    "BFF_OUTLIER_EJECTION",
    "BFF_STALE_MAX_ENTRIES",
    "BFF_STALE_MAX_AGE",
    "BFF_STALE_REFRESH",
    "BFF_READY_CACHE",
    "BFF_READY_PROBE_TIMEOUT",
    "BFF_MAX_CONCURRENT_REQUESTS",
    "BFF_SHUTDOWN_GRACE",
];

fn malformed(name: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Malformed {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(malformed(
            name,
            value,
            &format!("expected a number from {min} to {max}"),
        )),
    }
}

impl ResilienceConfig {
    /// Reads this section's variables through `take` (which removes a variable and returns it).
    pub fn read_vars(
        &mut self,
        take: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = take("BFF_REQUEST_DEADLINE") {
            let d = parse_duration("BFF_REQUEST_DEADLINE", &v)?;
            if d.is_zero() {
                return Err(malformed("BFF_REQUEST_DEADLINE", &v, "must be above zero"));
            }
            self.request_deadline = Some(d);
        }
        for (name, slot) in [
            ("BFF_DEADLINE_GRACE", &mut self.deadline_grace),
            ("BFF_RETRY_BACKOFF_BASE", &mut self.retry_backoff_base),
            ("BFF_RETRY_BACKOFF_MAX", &mut self.retry_backoff_max),
            ("BFF_BREAKER_WINDOW", &mut self.breaker_window),
            ("BFF_BREAKER_COOL_DOWN", &mut self.breaker_cool_down),
            ("BFF_OUTLIER_EJECTION", &mut self.outlier_ejection),
            ("BFF_STALE_MAX_AGE", &mut self.stale_max_age),
            ("BFF_STALE_REFRESH", &mut self.stale_refresh),
            ("BFF_READY_CACHE", &mut self.ready_cache),
            ("BFF_READY_PROBE_TIMEOUT", &mut self.ready_probe_timeout),
            ("BFF_SHUTDOWN_GRACE", &mut self.shutdown_grace),
        ] {
            if let Some(v) = take(name) {
                *slot = parse_duration(name, &v)?;
            }
        }
        if let Some(v) = take("BFF_RETRY_MAX") {
            self.retry_max = number("BFF_RETRY_MAX", &v, 0, 10)?;
        }
        if let Some(v) = take("BFF_RETRY_BUDGET_RATIO") {
            self.retry_budget_ratio = number("BFF_RETRY_BUDGET_RATIO", &v, 0.0, 1.0)?;
        }
        if let Some(v) = take("BFF_RETRY_BUDGET_BURST") {
            self.retry_budget_burst = number("BFF_RETRY_BUDGET_BURST", &v, 0, 100_000)?;
        }
        if let Some(v) = take("BFF_BREAKER_FAILURE_RATIO") {
            self.breaker_failure_ratio = number("BFF_BREAKER_FAILURE_RATIO", &v, 0.01, 1.0)?;
        }
        if let Some(v) = take("BFF_BREAKER_MIN_CALLS") {
            self.breaker_min_calls = number("BFF_BREAKER_MIN_CALLS", &v, 1, 1_000_000)?;
        }
        if let Some(v) = take("BFF_BREAKER_HALF_OPEN_PROBES") {
            self.breaker_half_open_probes = number("BFF_BREAKER_HALF_OPEN_PROBES", &v, 1, 1000)?;
        }
        if let Some(v) = take("BFF_DOWNSTREAM_MAX_IN_FLIGHT") {
            self.max_in_flight_per_service =
                number("BFF_DOWNSTREAM_MAX_IN_FLIGHT", &v, 1, 100_000)?;
        }
        if let Some(v) = take("BFF_OUTLIER_FAILURES") {
            self.outlier_failures = number("BFF_OUTLIER_FAILURES", &v, 1, 1000)?;
        }
        if let Some(v) = take("BFF_STALE_MAX_ENTRIES") {
            self.stale_max_entries = number("BFF_STALE_MAX_ENTRIES", &v, 0, 10_000_000)?;
        }
        if let Some(v) = take("BFF_MAX_CONCURRENT_REQUESTS") {
            self.max_concurrent_requests = number("BFF_MAX_CONCURRENT_REQUESTS", &v, 1, 1_000_000)?;
        }
        Ok(())
    }

    /// The request deadline of the BFF called `bff` (its own setting, else the BFF's default).
    pub fn deadline_for(&self, bff: &str) -> Duration {
        self.request_deadline.unwrap_or(match bff {
            "bff-mobile" => Duration::from_secs(2),
            _ => Duration::from_secs(5),
        })
    }
}

/// The per-service policies of the downstream calls.
pub struct ServicePolicy {
    pub service: Service,
    pub breaker: Breaker,
    pub budget: RetryBudget,
    pub bulkhead: Semaphore,
    pub balancer: Balancer,
}

/// Policies of every service, plus the stale cache; shared by all requests of one BFF.
pub struct Resilience {
    pub config: ResilienceConfig,
    policies: [ServicePolicy; 3],
    pub cache: Arc<dyn CatalogueCache>,
}

impl Resilience {
    /// Policies over each service's instance URLs (`urls(service)`).
    pub fn new(config: &ResilienceConfig, urls: impl Fn(Service) -> Vec<String>) -> Self {
        let policy = |service: Service| ServicePolicy {
            service,
            breaker: Breaker::new(BreakerSettings {
                failure_ratio: config.breaker_failure_ratio,
                min_calls: config.breaker_min_calls,
                window: config.breaker_window,
                cool_down: config.breaker_cool_down,
                half_open_probes: config.breaker_half_open_probes,
            }),
            budget: RetryBudget::new(config.retry_budget_ratio, config.retry_budget_burst),
            bulkhead: Semaphore::new(config.max_in_flight_per_service),
            balancer: Balancer::new(
                &urls(service),
                config.outlier_failures,
                config.outlier_ejection,
            ),
        };
        Self {
            config: config.clone(),
            policies: Service::ALL.map(policy),
            cache: Arc::new(MemoryCache::new(
                config.stale_max_entries,
                config.stale_max_age,
                config.stale_refresh,
            )),
        }
    }

    /// The total deadline of one GraphQL request (the configured one, else 5 s; the BFF's own
    /// default is filled in by [`crate::server::Bff::router`]).
    pub fn request_deadline(&self) -> Duration {
        self.config.deadline_for("")
    }

    /// The backstop of a whole execution: the request deadline plus the grace period.
    pub fn execution_limit(&self) -> Duration {
        self.request_deadline() + self.config.deadline_grace
    }

    /// One service's policies.
    pub fn policy(&self, service: Service) -> &ServicePolicy {
        let i = match service {
            Service::Users => 0,
            Service::Orders => 1,
            Service::Products => 2,
        };
        &self.policies[i]
    }

    /// Each service's breaker state (for `/ready` and metrics).
    pub fn breaker_states(&self) -> Vec<(Service, BreakerState)> {
        self.policies
            .iter()
            .map(|p| (p.service, p.breaker.state()))
            .collect()
    }
}

/// One instance's reachability, for `/ready`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceReadiness {
    pub url: String,
    /// Answered its health check.
    pub up: bool,
    /// Taken out of rotation by outlier detection.
    pub ejected: bool,
    pub in_flight: usize,
}

/// One service's readiness: reachable (some instance answers) and its breaker not open.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceReadiness {
    pub up: bool,
    pub breaker: BreakerState,
    pub instances: Vec<InstanceReadiness>,
}

/// The `/ready` report: ready when every service is up with its breaker not open.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub services: std::collections::BTreeMap<&'static str, ServiceReadiness>,
}

impl Readiness {
    /// Combines probe results (`up[service][instance]`, in [`Service::ALL`] order) with the
    /// current breaker states and ejections.
    pub fn new(resilience: &Resilience, up: &[Vec<bool>]) -> Self {
        let mut services = std::collections::BTreeMap::new();
        for (i, service) in Service::ALL.into_iter().enumerate() {
            let policy = resilience.policy(service);
            let probes = up.get(i).map(Vec::as_slice).unwrap_or_default();
            let instances: Vec<InstanceReadiness> = policy
                .balancer
                .status()
                .into_iter()
                .enumerate()
                .map(|(j, e)| InstanceReadiness {
                    url: e.url,
                    up: probes.get(j).copied().unwrap_or(false),
                    ejected: e.ejected,
                    in_flight: e.in_flight,
                })
                .collect();
            let breaker = policy.breaker.state();
            let up = instances.iter().any(|i| i.up) && breaker != BreakerState::Open;
            services.insert(
                service.as_str(),
                ServiceReadiness {
                    up,
                    breaker,
                    instances,
                },
            );
        }
        Self {
            ready: services.values().all(|s| s.up),
            services,
        }
    }
}

/// Splits a service URL setting (`http://a:5001,http://b:5001`) into instance base URLs.
pub fn split_urls(setting: &str) -> Vec<String> {
    setting
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
        .collect()
}

/// A cheap, non-cryptographic random number (splitmix64 over a per-process random seed), for
/// jitter and load-balancing choices.
pub(crate) fn random_u64() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let mut z = seed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn settings_parse_and_malformed_ones_are_named() {
        let vars = [("BFF_RETRY_MAX", "3"), ("BFF_BREAKER_WINDOW", "2s")];
        let mut map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let mut config = ResilienceConfig::default();
        config.read_vars(&mut |name| map.remove(name)).unwrap();
        assert_eq!(config.retry_max, 3);
        assert_eq!(config.breaker_window, Duration::from_secs(2));
        assert!(map.is_empty());
        let mut bad = |name: &str| (name == "BFF_RETRY_BUDGET_RATIO").then(|| "2".to_owned());
        let err = config.read_vars(&mut bad).unwrap_err();
        assert!(err.to_string().contains("BFF_RETRY_BUDGET_RATIO"), "{err}");
        assert_eq!(
            ResilienceConfig::default().deadline_for("bff-mobile"),
            Duration::from_secs(2)
        );
        assert_eq!(
            ResilienceConfig::default().deadline_for("bff-web"),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn every_variable_is_known() {
        for var in VARS {
            assert!(crate::config::is_known(var), "{var}");
        }
    }

    #[test]
    fn urls_split() {
        assert_eq!(
            split_urls("http://a:1/, http://b:2"),
            vec!["http://a:1".to_owned(), "http://b:2".to_owned()]
        );
    }
}
