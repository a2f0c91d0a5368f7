//! A bounded cache of parsed GraphQL documents keyed by the query text. async-graphql parses
//! every request's document again (its parser is the largest fixed cost of a small query); the
//! router looks the text up here first and hands a clone of the parsed document to the request
//! ([`async_graphql::Request::set_parsed_query`]), so validation and execution are unchanged and
//! only the parse is saved. Only documents that parsed are cached; a query that does not parse
//! is left to async-graphql, which reports the error as usual. When full, an arbitrary entry is
//! evicted, so a client sending ever-new queries costs at most one parse each and bounded memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;

/// Longest query text that is cached (longer ones are parsed every time).
pub const MAX_CACHED_QUERY_BYTES: usize = 64 * 1024;

/// Parsed documents by query text; `capacity` 0 switches the cache off.
pub struct DocumentCache {
    capacity: usize,
    hasher: RandomState,
    entries: Mutex<HashMap<u64, Arc<(Box<str>, ExecutableDocument)>>>,
}

impl DocumentCache {
    /// A cache of at most `capacity` documents.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            hasher: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Number of cached documents.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives `request` its parsed document, from the cache or parsed now (and cached).
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        let query = request.query.as_str();
        if self.capacity == 0 || query.is_empty() || query.len() > MAX_CACHED_QUERY_BYTES {
            return;
        }
        let key = self.hasher.hash_one(query);
        // The lock is held for a lookup only; the document is cloned outside it.
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            entries.get(&key).cloned()
        };
        let doc = match cached {
            Some(entry) if &*entry.0 == query => entry.1.clone(),
            _ => {
                let Ok(doc) = async_graphql::parser::parse_query(query) else {
                    return;
                };
                let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
                if entries.len() >= self.capacity
                    && let Some(&evict) = entries.keys().next()
                {
                    entries.remove(&evict);
                }
                entries.insert(key, Arc::new((query.into(), doc.clone())));
                doc
            }
        };
        request.set_parsed_query(doc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_parsed_documents_up_to_capacity() {
        let cache = DocumentCache::new(2);
        for q in ["{ a }", "{ a }", "{ b }", "{ c }"] {
            let mut request = async_graphql::Request::new(q);
            cache.prepare(&mut request);
        }
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_query_that_does_not_parse_is_not_cached() {
        let cache = DocumentCache::new(8);
        let mut request = async_graphql::Request::new("{ a");
        cache.prepare(&mut request);
        assert!(cache.is_empty());
    }

    #[test]
    fn capacity_zero_is_off() {
        let cache = DocumentCache::new(0);
        let mut request = async_graphql::Request::new("{ a }");
        cache.prepare(&mut request);
        assert!(cache.is_empty());
    }
}
