//! Persisted queries: Apollo's automatic persisted queries (`extensions.persistedQuery`, a SHA-256
//! hash, registered on first use and verified) in a bounded [`PersistedQueryStore`], and trusted
//! documents loaded from a manifest at start-up for safelist mode.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};

/// Where registered persisted queries live; in memory today, Redis can implement it later.
pub trait PersistedQueryStore: Send + Sync {
    /// The query registered under `hash`.
    fn get<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Option<Arc<str>>>;
    /// Registers `query` under its (already verified) `hash`.
    fn put<'a>(&'a self, hash: &'a str, query: &'a str) -> BoxFuture<'a, ()>;
}

/// A bounded in-memory store: at most `capacity` queries, the oldest registered goes first.
pub struct MemoryStore {
    capacity: usize,
    inner: Mutex<Entries>,
}

/// Queries by hash, and hashes in registration order (oldest first).
type Entries = (HashMap<String, Arc<str>>, VecDeque<String>);

impl MemoryStore {
    /// An empty store of `capacity` queries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }
}

impl PersistedQueryStore for MemoryStore {
    fn get<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Option<Arc<str>>> {
        let found = self
            .inner
            .lock()
            .ok()
            .and_then(|inner| inner.0.get(hash).cloned());
        Box::pin(std::future::ready(found))
    }

    fn put<'a>(&'a self, hash: &'a str, query: &'a str) -> BoxFuture<'a, ()> {
        if let Ok(mut inner) = self.inner.lock()
            && self.capacity > 0
            && !inner.0.contains_key(hash)
        {
            let (map, order) = &mut *inner;
            while map.len() >= self.capacity {
                match order.pop_front() {
                    Some(old) => {
                        map.remove(&old);
                    }
                    None => break,
                }
            }
            map.insert(hash.to_owned(), Arc::from(query));
            order.push_back(hash.to_owned());
        }
        Box::pin(std::future::ready(()))
    }
}

/// The lowercase hex SHA-256 of a query text.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why the trusted-document manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a JSON object of sha256 → document: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: the entry {hash} is not the SHA-256 of its document")]
    HashMismatch { path: String, hash: String },
}

/// Trusted documents by hash.
#[derive(Debug, Default, Clone)]
pub struct TrustedDocuments(HashMap<String, Arc<str>>);

impl TrustedDocuments {
    /// Loads and verifies a manifest `{ "<sha256>": "<document>", ... }`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: shown.clone(),
            source,
        })?;
        let entries: HashMap<String, String> =
            serde_json::from_str(&text).map_err(|source| ManifestError::Parse {
                path: shown.clone(),
                source,
            })?;
        let mut documents = HashMap::with_capacity(entries.len());
        for (hash, document) in entries {
            let hash = hash.to_ascii_lowercase();
            if sha256_hex(&document) != hash {
                return Err(ManifestError::HashMismatch { path: shown, hash });
            }
            documents.insert(hash, Arc::from(document));
        }
        Ok(Self(documents))
    }

    /// The document of `hash`.
    pub fn get(&self, hash: &str) -> Option<Arc<str>> {
        self.0.get(hash).cloned()
    }

    /// Whether a document with this hash is trusted.
    pub fn contains(&self, hash: &str) -> bool {
        self.0.contains_key(hash)
    }

    /// How many documents.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_is_bounded() {
        let store = MemoryStore::new(2);
        store.put("a", "{ a }").await;
        store.put("b", "{ b }").await;
        store.put("c", "{ c }").await;
        assert!(store.get("a").await.is_none());
        assert_eq!(store.get("c").await.as_deref(), Some("{ c }"));
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            sha256_hex("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
    }
}
