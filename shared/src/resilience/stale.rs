//! Stale-if-error for public catalogue reads: a bounded in-process cache (entries and age both
//! bounded) filled on every successful read and consulted only when the service fails or its
//! breaker is open. Behind the [`CatalogueCache`] trait so a shared store (e.g. Redis) can replace
//! the in-process map when the BFFs scale out. Values are JSON bytes, which any store can hold.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::error::Service;

/// A store of last-good catalogue values (JSON bytes by key).
pub trait CatalogueCache: Send + Sync {
    /// The value stored under `key`, unless missing or older than the cache's staleness bound.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Arc<[u8]>>>;
    /// Whether a fresh value for `key` is worth storing: true unless the copy held is younger
    /// than the cache's refresh interval (so hot keys are not re-serialised on every read).
    fn needs_refresh(&self, key: &str) -> bool {
        let _ = key;
        true
    }
    /// Stores `value` under `key`.
    fn put(&self, key: String, value: Arc<[u8]>) -> BoxFuture<'_, ()>;
    /// Drops `key` (after the value changed: a shared cache's invalidation). Default: nothing.
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        let _ = key;
        Box::pin(async {})
    }
}

struct Entry {
    stored: Instant,
    value: Arc<[u8]>,
    seq: u64,
}

#[derive(Default)]
struct Map {
    entries: HashMap<String, Entry>,
    /// Insertion order for eviction: (key, seq); outdated pairs are skipped.
    order: VecDeque<(String, u64)>,
    seq: u64,
}

/// The in-process [`CatalogueCache`]: at most `max_entries` values (oldest write evicted first),
/// none served older than `max_age`, none replaced before it is `refresh` old.
pub struct MemoryCache {
    max_entries: usize,
    max_age: Duration,
    refresh: Duration,
    map: Mutex<Map>,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new(max_entries: usize, max_age: Duration, refresh: Duration) -> Self {
        Self {
            max_entries,
            max_age,
            refresh,
            map: Mutex::new(Map::default()),
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.entries.len())
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get_now(&self, key: &str) -> Option<Arc<[u8]>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entries.get(key)?;
        if entry.stored.elapsed() <= self.max_age {
            return Some(entry.value.clone());
        }
        map.entries.remove(key);
        None
    }

    fn put_now(&self, key: String, value: Arc<[u8]>) {
        if self.max_entries == 0 {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.seq += 1;
        let seq = map.seq;
        map.order.push_back((key.clone(), seq));
        map.entries.insert(
            key,
            Entry {
                stored: Instant::now(),
                value,
                seq,
            },
        );
        while map.entries.len() > self.max_entries {
            let Some((old, old_seq)) = map.order.pop_front() else {
                break;
            };
            if map.entries.get(&old).is_some_and(|e| e.seq == old_seq) {
                map.entries.remove(&old);
            }
        }
        if map.order.len() > self.max_entries.saturating_mul(2).max(64) {
            let Map { entries, order, .. } = &mut *map;
            order.retain(|(k, s)| entries.get(k).is_some_and(|e| e.seq == *s));
        }
    }
}

impl CatalogueCache for MemoryCache {
    fn needs_refresh(&self, key: &str) -> bool {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.entries
            .get(key)
            .is_none_or(|entry| entry.stored.elapsed() >= self.refresh)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Arc<[u8]>>> {
        let value = self.get_now(key);
        Box::pin(async move { value })
    }

    fn put(&self, key: String, value: Arc<[u8]>) -> BoxFuture<'_, ()> {
        self.put_now(key, value);
        Box::pin(async {})
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        if let Ok(mut map) = self.map.lock() {
            map.entries.remove(key);
        }
        Box::pin(async {})
    }
}

/// The services whose stale data one request served (set by clients, read by the handler).
#[derive(Debug, Default)]
pub struct StaleMarks(Mutex<BTreeSet<&'static str>>);

impl StaleMarks {
    /// Notes that `service`'s data was served from the stale cache.
    pub fn mark(&self, service: Service) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service.as_str());
    }

    /// The services marked so far.
    pub fn services(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn bounded_in_entries_and_age() {
        let cache = MemoryCache::new(2, Duration::from_millis(50), Duration::ZERO);
        cache.put_now("a".into(), bytes("1"));
        cache.put_now("b".into(), bytes("2"));
        cache.put_now("a".into(), bytes("3"));
        cache.put_now("c".into(), bytes("4"));
        assert_eq!(cache.len(), 2);
        assert!(cache.get_now("b").is_none(), "oldest write evicted");
        assert_eq!(cache.get_now("a").as_deref(), Some(&b"3"[..]));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get_now("c").is_none(), "too old");
        for i in 0..1000 {
            cache.put_now(format!("k{}", i % 3), bytes("x"));
        }
        assert!(cache.map.lock().map(|m| m.order.len()).unwrap_or(0) <= 64 + 1);
    }

    #[test]
    fn a_young_copy_is_not_replaced() {
        let cache = MemoryCache::new(10, Duration::from_secs(60), Duration::from_millis(40));
        assert!(cache.needs_refresh("a"), "absent");
        cache.put_now("a".into(), bytes("1"));
        assert!(!cache.needs_refresh("a"), "just stored");
        std::thread::sleep(Duration::from_millis(50));
        assert!(cache.needs_refresh("a"), "older than the refresh interval");
    }
}
