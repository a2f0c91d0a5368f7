//! A bounded cache of parsed, limit-checked GraphQL documents keyed by the query text.
//!
//! Parsing (async-graphql's pest parser) is the largest fixed cost of a small query: about a
//! quarter of the BFF's CPU for a one-call query before this cache. The edge
//! ([`crate::edge::Edge`]) looks the text up here; on a miss it parses the text and runs the
//! checks that depend on the document alone (characters, tokens, syntax, fragment cycles,
//! directives, aliases: [`crate::edge::limits::check_document`]) and caches the document only if
//! they pass. The checks that depend on the variables or the operation name (page sizes, cost,
//! depth, root fields of the selected operation: [`crate::edge::limits::check_operation`]) are a
//! cheap walk and run on every request. The request gets a clone of the cached document
//! ([`async_graphql::Request::set_parsed_query`]), so validation and execution are unchanged and
//! the text is parsed once per process instead of twice per request.
//!
//! Bounded (`BFF_DOCUMENT_CACHE` entries, default 512; 0 = off) and keyed by a randomly seeded
//! hash whose entry also keeps the text (a hash collision is a miss, never a wrong document);
//! when full an arbitrary entry is evicted, so a client sending ever-new queries costs at most
//! one parse each and bounded memory. Texts longer than [`MAX_CACHED_QUERY_BYTES`] are not cached.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;

/// Longest query text that is cached (longer ones are parsed and checked every time).
pub const MAX_CACHED_QUERY_BYTES: usize = 64 * 1024;

/// Default number of cached documents (`BFF_DOCUMENT_CACHE`).
pub const DEFAULT_CAPACITY: usize = 512;

/// A cached document and the text it was parsed from.
#[derive(Debug)]
pub struct CachedDocument {
    query: Box<str>,
    document: ExecutableDocument,
}

impl CachedDocument {
    /// The parsed document.
    pub fn document(&self) -> &ExecutableDocument {
        &self.document
    }
}

/// Parsed, checked documents by query text; capacity 0 switches the cache off.
pub struct DocumentCache {
    capacity: usize,
    hasher: RandomState,
    entries: Mutex<HashMap<u64, Arc<CachedDocument>>>,
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl DocumentCache {
    /// A cache of at most `capacity` documents (0 = off).
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

    /// The document of `query`: from the cache, or made by `check` now (and cached when it
    /// succeeds and the cache is on). A refusal from `check` is returned and not cached.
    pub fn get_or_check<E>(
        &self,
        query: &str,
        check: impl FnOnce(&str) -> Result<ExecutableDocument, E>,
    ) -> Result<Arc<CachedDocument>, E> {
        let cacheable =
            self.capacity > 0 && !query.is_empty() && query.len() <= MAX_CACHED_QUERY_BYTES;
        if !cacheable {
            return Ok(Arc::new(CachedDocument {
                query: Box::from(""),
                document: check(query)?,
            }));
        }
        let key = self.hasher.hash_one(query);
        // The lock is held for a lookup only; parsing happens outside it.
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(entry) = cached
            && &*entry.query == query
        {
            return Ok(entry);
        }
        let entry = Arc::new(CachedDocument {
            query: Box::from(query),
            document: check(query)?,
        });
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity
            && !entries.contains_key(&key)
            && let Some(&evict) = entries.keys().next()
        {
            entries.remove(&evict);
        }
        entries.insert(key, entry.clone());
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<ExecutableDocument, ()> {
        async_graphql::parser::parse_query(query).map_err(|_| ())
    }

    #[test]
    fn caches_checked_documents_up_to_capacity() {
        let cache = DocumentCache::new(2);
        let mut parses = 0;
        for q in ["{ a }", "{ a }", "{ b }", "{ c }", "{ c }"] {
            let doc = cache.get_or_check(q, |q| {
                parses += 1;
                parse(q)
            });
            assert!(doc.is_ok());
        }
        assert_eq!(parses, 3, "repeated texts are parsed once");
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_refused_document_is_not_cached() {
        let cache = DocumentCache::new(8);
        assert!(cache.get_or_check("{ a", parse).is_err());
        assert!(cache.is_empty());
    }

    #[test]
    fn capacity_zero_is_off() {
        let cache = DocumentCache::new(0);
        let mut parses = 0;
        for _ in 0..2 {
            let doc = cache.get_or_check("{ a }", |q| {
                parses += 1;
                parse(q)
            });
            assert!(doc.is_ok());
        }
        assert_eq!(parses, 2);
        assert!(cache.is_empty());
    }
}
