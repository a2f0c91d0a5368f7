//! Scale-out: what must agree across the replicas of a BFF lives in Redis when `REDIS_URL` is
//! set: persisted queries ([`redis_apq`]), rate limits ([`redis_rate_limit`]), the catalogue
//! read cache ([`catalogue_cache`]) and its cross-replica invalidation ([`invalidation`]).
//!
//! Redis is an option for scale, never a requirement: without `REDIS_URL` nothing here runs and
//! every store stays in-process. With it, every Redis call has a tight timeout
//! (`BFF_REDIS_TIMEOUT`, 50 ms); when Redis is slow or down, requests fall back to the in-process
//! store (and per-replica rate limits, unless `BFF_RATE_LIMIT_FAIL_CLOSED`), the
//! `bff_redis_fallbacks` counter and the `bff_redis_up` gauge say so, one log line is written per
//! transition (down, then back), and the connection heals by itself when Redis returns.

pub mod catalogue_cache;
pub mod invalidation;
pub mod redis_apq;
pub mod redis_rate_limit;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use catalogue_cache::SharedCatalogue;
pub use redis_apq::RedisPersistedQueries;
pub use redis_rate_limit::RedisRateLimiter;

use crate::config::{ConfigError, Secret, malformed, parse_bool, parse_duration};

/// The settings of scale-out (all read by [`ScaleConfig::read_vars`]).
#[derive(Debug, Clone)]
pub struct ScaleConfig {
    /// `REDIS_URL`, e.g. `redis://redis:6379/0`; unset (the default) keeps everything in-process.
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key and of the invalidation channel (`BFF_REDIS_PREFIX`, default
    /// `bff:`); replicas that must agree share it.
    pub key_prefix: String,
    /// Timeout of each Redis call (`BFF_REDIS_TIMEOUT`, default 50ms).
    pub timeout: Duration,
    /// How long a catalogue value (product, featured list, review summary) stays in Redis
    /// (`BFF_CATALOGUE_TTL`, default 30s; 0 switches the shared catalogue cache off).
    pub catalogue_ttl: Duration,
    /// How long a replica keeps a catalogue value in process in front of Redis
    /// (`BFF_CATALOGUE_LOCAL_TTL`, default 1s; 0 = off). Invalidations drop it at once.
    pub catalogue_local_ttl: Duration,
    /// Most values kept in process (`BFF_CATALOGUE_LOCAL_MAX`, default 10000).
    pub catalogue_local_max: usize,
    /// How long a registered persisted query stays in Redis (`BFF_APQ_TTL`, default 24h).
    pub apq_ttl: Duration,
    /// When Redis cannot answer a rate-limit check: `false` (default) falls back to this
    /// replica's own limiter, `true` refuses with 429 (`BFF_RATE_LIMIT_FAIL_CLOSED`).
    pub rate_limit_fail_closed: bool,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: "bff:".into(),
            timeout: Duration::from_millis(50),
            catalogue_ttl: Duration::from_secs(30),
            catalogue_local_ttl: Duration::from_secs(1),
            catalogue_local_max: 10_000,
            apq_ttl: Duration::from_secs(24 * 3600),
            rate_limit_fail_closed: false,
        }
    }
}

/// The variables [`ScaleConfig::read_vars`] reads (known to [`crate::config::is_known`]).
pub const VARS: &[&str] = &[
    "REDIS_URL",
    "BFF_REDIS_PREFIX",
    "BFF_REDIS_TIMEOUT",
    "BFF_CATALOGUE_TTL",
    "BFF_CATALOGUE_LOCAL_TTL",
    "BFF_CATALOGUE_LOCAL_MAX",
    "BFF_APQ_TTL",
    "BFF_RATE_LIMIT_FAIL_CLOSED",
];

impl ScaleConfig {
    /// Reads the scale settings through `take` (which removes a variable and returns its value).
    pub fn read_vars(
        &mut self,
        take: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = take("REDIS_URL") {
            let v = v.trim().to_owned();
            if !v.is_empty() {
                if redis::Client::open(v.as_str()).is_err() {
                    return Err(malformed(
                        "REDIS_URL",
                        "***",
                        "expected a redis:// or unix:// URL",
                    ));
                }
                self.redis_url = Some(Secret::new(v));
            }
        }
        if let Some(v) = take("BFF_REDIS_PREFIX") {
            if v.is_empty() || v.len() > 64 || v.chars().any(char::is_whitespace) {
                return Err(malformed(
                    "BFF_REDIS_PREFIX",
                    &v,
                    "expected 1 to 64 characters without spaces",
                ));
            }
            self.key_prefix = v;
        }
        for (name, slot) in [
            ("BFF_REDIS_TIMEOUT", &mut self.timeout),
            ("BFF_CATALOGUE_TTL", &mut self.catalogue_ttl),
            ("BFF_CATALOGUE_LOCAL_TTL", &mut self.catalogue_local_ttl),
            ("BFF_APQ_TTL", &mut self.apq_ttl),
        ] {
            if let Some(v) = take(name) {
                *slot = parse_duration(name, &v)?;
            }
        }
        if self.timeout.is_zero() {
            return Err(malformed("BFF_REDIS_TIMEOUT", "0", "must be above 0"));
        }
        if self.apq_ttl.as_millis() == 0 {
            return Err(malformed("BFF_APQ_TTL", "0", "must be above 0"));
        }
        if let Some(v) = take("BFF_CATALOGUE_LOCAL_MAX") {
            self.catalogue_local_max =
                crate::config::parse_number("BFF_CATALOGUE_LOCAL_MAX", &v, 0, 10_000_000)?;
        }
        if let Some(v) = take("BFF_RATE_LIMIT_FAIL_CLOSED") {
            self.rate_limit_fail_closed = parse_bool("BFF_RATE_LIMIT_FAIL_CLOSED", &v)?;
        }
        Ok(())
    }
}

/// Why the Redis connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("REDIS_URL is not a usable Redis URL")]
    Url(#[source] redis::RedisError),
    #[error("the Redis connection needs a Tokio runtime")]
    NoRuntime,
}

/// How long a replica that saw Redis fail waits before trying it again; meanwhile requests use
/// the in-process fallback without waiting for a timeout.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Whether Redis answered last time, and when to try again after a failure.
struct Health {
    up: bool,
    next_probe: Instant,
}

/// One replica's connection to Redis: a self-healing multiplexed connection, the key prefix, the
/// per-call timeout, and the up/down state (logged and exported once per transition).
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    bff: String,
    health: Mutex<Health>,
}

impl Redis {
    /// A lazy connection to `config.redis_url` (`None` without one); `bff` labels the metrics.
    /// Nothing is sent before the first call, so a BFF starts while Redis is down.
    pub fn connect(config: &ScaleConfig, bff: &str) -> Result<Option<Arc<Self>>, ScaleError> {
        let Some(url) = &config.redis_url else {
            return Ok(None);
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ScaleError::NoRuntime);
        }
        let client = redis::Client::open(url.expose()).map_err(ScaleError::Url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout.max(Duration::from_millis(100))))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(ScaleError::Url)?;
        set_up_gauge(bff, true);
        Ok(Some(Arc::new(Self {
            client,
            conn,
            prefix: config.key_prefix.clone(),
            timeout: config.timeout,
            bff: bff.to_owned(),
            health: Mutex::new(Health {
                up: true,
                next_probe: Instant::now(),
            }),
        })))
    }

    /// `prefix` + `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The client, for dedicated connections (pub/sub).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the last Redis call succeeded.
    pub fn is_up(&self) -> bool {
        self.health.lock().map(|h| h.up).unwrap_or(false)
    }

    /// Runs one Redis call for `store` within the timeout. `None` when Redis is down (known
    /// down and not yet due for a probe), failed or was too slow: the caller falls back.
    pub async fn run<T, F, Fut>(&self, store: &'static str, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.due() {
            record_fallback(&self.bff, store);
            return None;
        }
        match tokio::time::timeout(self.timeout, call(self.conn.clone())).await {
            Ok(Ok(value)) => {
                self.mark_up();
                Some(value)
            }
            Ok(Err(err)) => {
                self.mark_down(store, &err.to_string());
                None
            }
            Err(_) => {
                self.mark_down(store, "timed out");
                None
            }
        }
    }

    /// Whether to try Redis now: always while up; once per [`PROBE_INTERVAL`] while down.
    fn due(&self) -> bool {
        let Ok(mut health) = self.health.lock() else {
            return true;
        };
        if health.up {
            return true;
        }
        let now = Instant::now();
        if now >= health.next_probe {
            health.next_probe = now + PROBE_INTERVAL;
            return true;
        }
        false
    }

    fn mark_up(&self) {
        let was_down = self
            .health
            .lock()
            .map(|mut h| !std::mem::replace(&mut h.up, true))
            .unwrap_or(false);
        if was_down {
            tracing::warn!(bff = %self.bff, "Redis is back: shared caches, persisted queries and rate limits use it again");
            set_up_gauge(&self.bff, true);
        }
    }

    /// Notes a failure: the first one after a success logs and flips the gauge.
    pub(crate) fn mark_down(&self, store: &'static str, error: &str) {
        let was_up = self
            .health
            .lock()
            .map(|mut h| {
                h.next_probe = Instant::now() + PROBE_INTERVAL;
                std::mem::replace(&mut h.up, false)
            })
            .unwrap_or(false);
        if was_up {
            tracing::warn!(bff = %self.bff, store, error, "Redis unavailable: falling back to in-process caches, stores and per-replica rate limits");
            set_up_gauge(&self.bff, false);
        }
        record_fallback(&self.bff, store);
    }
}

/// Counts one Redis call answered by the in-process fallback (`bff_redis_fallbacks_total`).
fn record_fallback(bff: &str, store: &'static str) {
    crate::observability::metrics::METRICS
        .redis_fallbacks
        .get_or_create(&vec![("bff", bff.to_owned()), ("store", store.to_owned())])
        .inc();
}

/// Sets `bff_redis_up` (1 up, 0 down).
fn set_up_gauge(bff: &str, up: bool) {
    crate::observability::metrics::METRICS
        .redis_up
        .get_or_create(&vec![("bff", bff.to_owned())])
        .set(i64::from(up));
}

/// The Redis-backed pieces of one replica, built from config when `REDIS_URL` is set.
pub struct Scale {
    pub redis: Arc<Redis>,
    /// The shared catalogue cache; `None` when `BFF_CATALOGUE_TTL` is 0.
    pub catalogue: Option<Arc<SharedCatalogue>>,
}

impl Scale {
    /// `None` without `REDIS_URL`; `bff` labels metrics and logs.
    pub fn from_config(
        config: &crate::config::BffConfig,
        bff: &str,
    ) -> Result<Option<Self>, ScaleError> {
        let Some(redis) = Redis::connect(&config.scale, bff)? else {
            return Ok(None);
        };
        let catalogue = (!config.scale.catalogue_ttl.is_zero())
            .then(|| SharedCatalogue::new(redis.clone(), &config.scale));
        Ok(Some(Self { redis, catalogue }))
    }

    /// The edge with Redis-backed persisted queries and (when a rate is set) rate limits.
    pub fn wire_edge(
        &self,
        mut edge: crate::edge::Edge,
        config: &crate::config::BffConfig,
    ) -> crate::edge::Edge {
        edge = edge.with_persisted_queries(Arc::new(RedisPersistedQueries::new(
            self.redis.clone(),
            config.edge.apq_capacity,
            config.scale.apq_ttl,
        )));
        if let Some(limiter) = RedisRateLimiter::new(
            self.redis.clone(),
            config.edge.rate_limit,
            config.scale.rate_limit_fail_closed,
        ) {
            edge = edge.with_rate_limiter(Arc::new(limiter));
        }
        edge
    }

    /// The clients reading the catalogue through the shared cache, and subscribed to
    /// invalidations (which also drop the resilience stale cache's copies).
    pub fn wire_clients(
        &self,
        clients: crate::clients::DownstreamClients,
    ) -> crate::clients::DownstreamClients {
        match &self.catalogue {
            Some(catalogue) => {
                catalogue.attach_stale_cache(clients.resilience().cache.clone());
                invalidation::subscribe(catalogue);
                clients.with_catalogue(catalogue.clone())
            }
            None => clients,
        }
    }
}
