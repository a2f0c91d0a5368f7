//! Rate limits that hold across replicas: GCRA (the algorithm of [`crate::edge::rate_limit`]) in
//! one atomic Lua script on Redis, with Redis's own clock, so a client hitting several replicas
//! gets its limit in total. When Redis cannot answer, the replica's own in-memory [`Gcra`] decides
//! (fail-open, the default) or the request is refused (`BFF_RATE_LIMIT_FAIL_CLOSED=true`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::Redis;
use crate::edge::RateLimit;
use crate::edge::rate_limit::{Gcra, RateDecision, RateLimiter};

const STORE: &str = "rate_limit";

/// GCRA on the key's theoretical arrival time (TAT, microseconds of Redis time).
/// KEYS[1]: the client's key. ARGV: emission interval (µs), tolerance (µs), cost.
/// Returns 0 when allowed, else the wait in microseconds.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission * cost
local allowed_until = now + tolerance
if new_tat <= allowed_until then
  local ttl_ms = math.floor((new_tat - now) / 1000) + 1
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
  return 0
end
return math.max(1, math.floor(new_tat - allowed_until))
";

/// A [`RateLimiter`] shared by every replica through Redis.
pub struct RedisRateLimiter {
    redis: Arc<Redis>,
    script: redis::Script,
    emission_us: u64,
    tolerance_us: u64,
    /// This replica's own limiter, used when Redis cannot answer (fail-open).
    local: Gcra,
    fail_closed: bool,
}

impl RedisRateLimiter {
    /// A limiter for `rate`; `None` when the rate is 0 (off).
    pub fn new(redis: Arc<Redis>, rate: RateLimit, fail_closed: bool) -> Option<Self> {
        let local = Gcra::new(rate)?;
        let emission = Duration::from_secs(60) / rate.per_minute;
        let tolerance = emission * rate.burst.max(1);
        Some(Self {
            redis,
            script: redis::Script::new(GCRA_LUA),
            emission_us: u64::try_from(emission.as_micros()).unwrap_or(u64::MAX),
            tolerance_us: u64::try_from(tolerance.as_micros()).unwrap_or(u64::MAX),
            local,
            fail_closed,
        })
    }
}

impl RateLimiter for RedisRateLimiter {
    fn check<'a>(&'a self, key: &'a str, cost: u32) -> BoxFuture<'a, RateDecision> {
        Box::pin(async move {
            let redis_key = self.redis.key(&format!("rl:{key}"));
            let mut invocation = self.script.key(redis_key);
            invocation
                .arg(self.emission_us)
                .arg(self.tolerance_us)
                .arg(cost);
            let answer: Option<u64> = self
                .redis
                .run(STORE, |mut conn| async move {
                    invocation.invoke_async(&mut conn).await
                })
                .await;
            match answer {
                Some(0) => RateDecision::Allowed,
                Some(wait_us) => RateDecision::Limited {
                    retry_after: Duration::from_micros(wait_us).max(Duration::from_secs(1)),
                },
                None if self.fail_closed => RateDecision::Limited {
                    retry_after: Duration::from_secs(1),
                },
                None => self.local.check(key, cost).await,
            }
        })
    }
}
