//! The catalogue read cache shared by every replica: products, featured lists and review
//! summaries, cached in Redis with a TTL (`{prefix}product:{id}`, `{prefix}featured:{limit}`,
//! `{prefix}review_summary:{id}`) behind a short-lived in-process copy. A batch whose ids are
//! partly cached costs one `MGET` and one downstream call for the missing ids only.
//!
//! Writes never let an old value win: a fill only sets keys that are absent (`SET NX`), while a
//! product update overwrites the key with the updated product, publishes the key on the
//! invalidation channel (every replica drops its in-process copies, see [`super::invalidation`])
//! and bumps a generation so fills started before it do not reach the in-process copy. An
//! invalidation that cannot reach Redis is kept and replayed as soon as Redis answers again.
//!
//! A featured list is cached as its product ids, so a product update also updates every featured
//! list it is in.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Redis, ScaleConfig};
use crate::error::BffResult;
use crate::models::{Id, Product};
use crate::resilience::CatalogueCache;

const STORE: &str = "catalogue";

/// A pending write that must reach Redis: the key and, for an update, its new value.
type Pending = (String, Option<Arc<[u8]>>);

/// In-process copies: key → (stored at, JSON).
type Local = HashMap<String, (Instant, Arc<[u8]>)>;

/// The shared catalogue cache of one replica.
pub struct SharedCatalogue {
    redis: Arc<Redis>,
    ttl_ms: u64,
    local_ttl: Duration,
    local_max: usize,
    local: Mutex<Local>,
    /// Bumped by every invalidation; fills started under an older generation skip the local copy.
    generation: AtomicU64,
    /// The resilience stale-if-error cache, whose copies invalidations drop too.
    stale: OnceLock<Arc<dyn CatalogueCache>>,
    /// Invalidations Redis has not seen yet (it was down).
    pending: Mutex<Vec<Pending>>,
}

impl SharedCatalogue {
    /// A cache over `redis` with the TTLs of `config`.
    pub fn new(redis: Arc<Redis>, config: &ScaleConfig) -> Arc<Self> {
        Arc::new(Self {
            redis,
            ttl_ms: u64::try_from(config.catalogue_ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            local_ttl: config.catalogue_local_ttl,
            local_max: config.catalogue_local_max,
            local: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            stale: OnceLock::new(),
            pending: Mutex::new(Vec::new()),
        })
    }

    /// The Redis connection.
    pub fn redis(&self) -> &Arc<Redis> {
        &self.redis
    }

    /// The invalidation channel: `{prefix}invalidate`.
    pub fn channel(&self) -> String {
        self.redis.key("invalidate")
    }

    /// Lets invalidations drop the resilience stale cache's copies as well.
    pub fn attach_stale_cache(&self, cache: Arc<dyn CatalogueCache>) {
        let _ = self.stale.set(cache);
    }

    /// Values held in process.
    pub fn local_len(&self) -> usize {
        self.local.lock().map_or(0, |l| l.len())
    }

    /// Products by id: in-process copy, then Redis (`MGET`), then one `fetch` of the missing ids.
    pub async fn products<F, Fut>(&self, ids: &[Id], fetch: F) -> BffResult<Vec<Product>>
    where
        F: FnOnce(Vec<Id>) -> Fut,
        Fut: Future<Output = BffResult<Vec<Product>>>,
    {
        self.read_through("product", ids, |p: &Product| p.id, fetch)
            .await
    }

    /// Items of `kind` (`product`, `review_summary`) by id through the cache; only ids found
    /// nowhere are passed to `fetch`, in one call.
    pub async fn read_through<T, F, Fut>(
        &self,
        kind: &'static str,
        ids: &[Id],
        id_of: impl Fn(&T) -> Id,
        fetch: F,
    ) -> BffResult<Vec<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(Vec<Id>) -> Fut,
        Fut: Future<Output = BffResult<Vec<T>>>,
    {
        self.flush_pending().await;
        let generation = self.generation.load(Ordering::Acquire);
        let keys: Vec<String> = ids.iter().map(|id| format!("{kind}:{id}")).collect();
        let cached = self.get_many(&keys, generation).await;
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (id, value) in ids.iter().zip(cached) {
            match value.and_then(|json| serde_json::from_slice::<T>(&json).ok()) {
                Some(item) => found.push(item),
                None => missing.push(*id),
            }
        }
        if !missing.is_empty() {
            let fetched = fetch(missing).await?;
            let entries = fetched
                .iter()
                .filter_map(|item| {
                    let json = serde_json::to_vec(item).ok()?;
                    Some((format!("{kind}:{}", id_of(item)), Arc::<[u8]>::from(json)))
                })
                .collect();
            self.fill(entries, generation).await;
            found.extend(fetched);
        }
        Ok(found)
    }

    /// The featured products (`limit` of them): the cached id list read through the product
    /// cache, else one `fetch_featured` whose products fill both.
    pub async fn featured<FF, FutF, FP, FutP>(
        &self,
        limit: usize,
        fetch_featured: FF,
        fetch_products: FP,
    ) -> BffResult<Vec<Product>>
    where
        FF: FnOnce() -> FutF,
        FutF: Future<Output = BffResult<Vec<Product>>>,
        FP: FnOnce(Vec<Id>) -> FutP,
        FutP: Future<Output = BffResult<Vec<Product>>>,
    {
        self.flush_pending().await;
        let generation = self.generation.load(Ordering::Acquire);
        let list_key = format!("featured:{limit}");
        let list = self
            .get_many(std::slice::from_ref(&list_key), generation)
            .await
            .pop()
            .flatten()
            .and_then(|json| serde_json::from_slice::<Vec<Id>>(&json).ok());
        if let Some(ids) = list {
            let mut products: HashMap<Id, Product> = self
                .products(&ids, fetch_products)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
            return Ok(ids.iter().filter_map(|id| products.remove(id)).collect());
        }
        let products = fetch_featured().await?;
        let ids: Vec<Id> = products.iter().map(|p| p.id).collect();
        let mut entries = Vec::with_capacity(products.len() + 1);
        if let Ok(json) = serde_json::to_vec(&ids) {
            entries.push((list_key, Arc::<[u8]>::from(json)));
        }
        for product in &products {
            if let Ok(json) = serde_json::to_vec(product) {
                entries.push((format!("product:{}", product.id), Arc::from(json)));
            }
        }
        self.fill(entries, generation).await;
        Ok(products)
    }

    /// After a product update: every replica must stop serving the old product. Overwrites the
    /// Redis key with `updated` (or deletes it), publishes the key, drops the local copies.
    pub async fn product_updated(&self, id: Id, updated: Option<&Product>) {
        let key = format!("product:{id}");
        let value = updated
            .and_then(|p| serde_json::to_vec(p).ok())
            .map(Arc::<[u8]>::from);
        self.drop_local(&key).await;
        if !self.write_invalidation(&key, value.clone()).await
            && let Ok(mut pending) = self.pending.lock()
        {
            pending.push((key, value));
        }
    }

    /// Drops the in-process copies of `key` (this cache's and the stale cache's).
    pub async fn drop_local(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut local) = self.local.lock() {
            local.remove(key);
        }
        if let Some(stale) = self.stale.get() {
            stale.remove(key).await;
        }
    }

    /// Drops every in-process copy (after the invalidation channel was lost: messages may have
    /// been missed).
    pub fn clear_local(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut local) = self.local.lock() {
            local.clear();
        }
    }

    /// Writes one invalidation to Redis: the new value (or a delete), then the message.
    async fn write_invalidation(&self, key: &str, value: Option<Arc<[u8]>>) -> bool {
        let redis_key = self.redis.key(key);
        let channel = self.channel();
        let ttl = self.ttl_ms;
        let mut pipe = redis::pipe();
        match &value {
            Some(json) => pipe
                .cmd("SET")
                .arg(&redis_key)
                .arg(&json[..])
                .arg("PX")
                .arg(ttl),
            None => pipe.cmd("DEL").arg(&redis_key),
        };
        pipe.ignore().cmd("PUBLISH").arg(channel).arg(key).ignore();
        self.redis
            .run(STORE, |mut conn| async move {
                pipe.query_async::<()>(&mut conn).await
            })
            .await
            .is_some()
    }

    /// Replays invalidations that could not reach Redis, once it answers again.
    async fn flush_pending(&self) {
        let pending = match self.pending.lock() {
            Ok(mut pending) if !pending.is_empty() => std::mem::take(&mut *pending),
            _ => return,
        };
        let mut left = Vec::new();
        for (key, value) in pending {
            if !self.write_invalidation(&key, value.clone()).await {
                left.push((key, value));
            }
        }
        if !left.is_empty()
            && let Ok(mut pending) = self.pending.lock()
        {
            pending.extend(left);
        }
    }

    /// Values of `keys` (unprefixed): in process first, the rest with one `MGET`.
    async fn get_many(&self, keys: &[String], generation: u64) -> Vec<Option<Arc<[u8]>>> {
        let mut out: Vec<Option<Arc<[u8]>>> = vec![None; keys.len()];
        let mut remote = Vec::with_capacity(keys.len());
        if self.local_ttl.is_zero() {
            remote.extend(0..keys.len());
        } else if let Ok(mut local) = self.local.lock() {
            for (i, key) in keys.iter().enumerate() {
                match local.get(key) {
                    Some((at, value)) if at.elapsed() < self.local_ttl => {
                        out[i] = Some(value.clone());
                    }
                    Some(_) => {
                        local.remove(key);
                        remote.push(i);
                    }
                    None => remote.push(i),
                }
            }
        }
        for _ in out.iter().flatten() {
            crate::observability::record_cache("catalogue-local", true);
        }
        if remote.is_empty() {
            return out;
        }
        let redis_keys: Vec<String> = remote.iter().map(|&i| self.redis.key(&keys[i])).collect();
        let values: Option<Vec<Option<Vec<u8>>>> = self
            .redis
            .run(STORE, |mut conn| async move {
                redis::cmd("MGET")
                    .arg(&redis_keys)
                    .query_async(&mut conn)
                    .await
            })
            .await;
        let Some(values) = values else {
            return out;
        };
        let mut found = Vec::new();
        for (&i, value) in remote.iter().zip(values) {
            crate::observability::record_cache("catalogue-redis", value.is_some());
            if let Some(value) = value {
                let value = Arc::<[u8]>::from(value);
                found.push((keys[i].clone(), value.clone()));
                out[i] = Some(value);
            }
        }
        self.keep_local(found, generation);
        out
    }

    /// Stores fetched values: in process, and in Redis where absent (`SET NX`, with the TTL).
    async fn fill(&self, entries: Vec<(String, Arc<[u8]>)>, generation: u64) {
        if entries.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (key, value) in &entries {
            pipe.cmd("SET")
                .arg(self.redis.key(key))
                .arg(&value[..])
                .arg("PX")
                .arg(self.ttl_ms)
                .arg("NX")
                .ignore();
        }
        self.keep_local(entries, generation);
        let _: Option<()> = self
            .redis
            .run(STORE, |mut conn| async move {
                pipe.query_async(&mut conn).await
            })
            .await;
    }

    /// Keeps values in process unless an invalidation happened since `generation` was read.
    fn keep_local(&self, entries: Vec<(String, Arc<[u8]>)>, generation: u64) {
        if self.local_ttl.is_zero() || self.local_max == 0 || entries.is_empty() {
            return;
        }
        let Ok(mut local) = self.local.lock() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if local.len() + entries.len() > self.local_max {
            let ttl = self.local_ttl;
            local.retain(|_, (at, _)| at.elapsed() < ttl);
            if local.len() + entries.len() > self.local_max {
                local.clear();
            }
        }
        let now = Instant::now();
        for (key, value) in entries.into_iter().take(self.local_max) {
            local.insert(key, (now, value));
        }
    }
}
