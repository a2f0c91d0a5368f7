//! Automatic persisted queries shared by every replica: a [`PersistedQueryStore`] that keeps each
//! registered query in Redis (`{prefix}apq:{sha256}`, with a TTL) and in this replica's bounded
//! in-memory store. Lookups try memory first (a hash names one text forever, so a local copy is
//! never wrong), then Redis; when Redis is down the in-memory store alone answers.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::AsyncCommands;

use super::Redis;
use crate::edge::apq::{MemoryStore, PersistedQueryStore, sha256_hex};

/// The metric/log name of this store.
const STORE: &str = "apq";

/// Persisted queries in Redis in front of an in-memory store.
pub struct RedisPersistedQueries {
    redis: Arc<Redis>,
    local: MemoryStore,
    ttl_ms: u64,
}

impl RedisPersistedQueries {
    /// A store keeping `capacity` queries locally and each one `ttl` in Redis.
    pub fn new(redis: Arc<Redis>, capacity: usize, ttl: Duration) -> Self {
        Self {
            redis,
            local: MemoryStore::new(capacity),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1),
        }
    }
}

impl PersistedQueryStore for RedisPersistedQueries {
    fn get<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Option<Arc<str>>> {
        Box::pin(async move {
            if let Some(query) = self.local.get(hash).await {
                return Some(query);
            }
            let key = self.redis.key(&format!("apq:{hash}"));
            let found: Option<String> = self
                .redis
                .run(STORE, |mut conn| async move { conn.get(key).await })
                .await
                .flatten();
            // Whatever Redis holds is checked: only the text whose SHA-256 is the hash is used.
            let query = found.filter(|q| sha256_hex(q) == hash)?;
            self.local.put(hash, &query).await;
            Some(Arc::from(query))
        })
    }

    fn put<'a>(&'a self, hash: &'a str, query: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.local.put(hash, query).await;
            let key = self.redis.key(&format!("apq:{hash}"));
            let ttl = self.ttl_ms;
            let _: Option<()> = self
                .redis
                .run(STORE, |mut conn| async move {
                    conn.pset_ex(key, query, ttl).await
                })
                .await;
        })
    }
}
