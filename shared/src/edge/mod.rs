//! The edge of a BFF: everything that happens to an HTTP request before the schema runs it.
//! Body size, GraphQL-over-HTTP rules (GET for queries only, JSON content types against CSRF,
//! response media types and status codes), batching, rate limits, automatic persisted queries and
//! the trusted-document safelist, operation limits on the parsed document (depth, aliases, root
//! fields, directives, tokens, complexity, page sizes), introspection and suggestion policy,
//! public caching of persisted GETs, CORS and compression.
//!
//! Every refusal is a GraphQL error body with a stable `extensions.code` and the HTTP status that
//! fits ([`EdgeRefusal`]). The policy comes from [`EdgeConfig`], whose defaults depend on the BFF's
//! [`Profile`]: mobile is strictest on size, admin strictest on identity.

pub mod apq;
pub mod config;
pub mod http;
pub mod jwks;
pub mod limits;
pub mod rate_limit;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use self::config::{EdgeConfig, IntrospectionPolicy, OperationLimits, Profile, RateLimit};
pub use self::http::Edge;

/// The stable codes of edge refusals, sent as `extensions.code`.
pub mod codes {
    /// The body is larger than the limit (413).
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The body or query string is not a GraphQL request (400).
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// A POST without a JSON content type, e.g. a cross-site form or text/plain post (415).
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// A mutation sent over GET (405).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// A batch sent while batching is off (400).
    pub const BATCHING_DISABLED: &str = "BATCHING_DISABLED";
    /// A batch with more operations than allowed (400).
    pub const BATCH_TOO_LARGE: &str = "BATCH_TOO_LARGE";
    /// Too many requests from this client (429, with Retry-After).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The query text has more characters or tokens than allowed (400).
    pub const QUERY_TOO_LARGE: &str = "QUERY_TOO_LARGE";
    /// The query is not valid GraphQL syntax (400).
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// Fields nest deeper than allowed (400).
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// More aliases (or repeated fields such as `__typename`) than allowed (400).
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    /// More root fields than allowed (400).
    pub const TOO_MANY_ROOT_FIELDS: &str = "TOO_MANY_ROOT_FIELDS";
    /// More directives than allowed (400).
    pub const TOO_MANY_DIRECTIVES: &str = "TOO_MANY_DIRECTIVES";
    /// The estimated cost exceeds the limit (400).
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    /// A `first` argument above the maximum page size (400); the same code the BFFs use.
    pub const PAGE_SIZE_TOO_LARGE: &str = "BAD_USER_INPUT";
    /// Fragments that spread each other in a cycle (400).
    pub const FRAGMENT_CYCLE: &str = "FRAGMENT_CYCLE";
    /// The persisted-query hash is unknown: send the query with the hash to register it (200).
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// The sent hash is not the SHA-256 of the sent query (400).
    pub const PERSISTED_QUERY_HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";
    /// Safelist mode: the document is not a trusted document (400).
    pub const PERSISTED_QUERY_NOT_ALLOWED: &str = "PERSISTED_QUERY_NOT_ALLOWED";
    /// No valid bearer token where the profile requires one (401).
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
}

/// A request refused at the edge: HTTP status, stable code, a short message that never echoes the
/// query back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EdgeRefusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
    /// Extra headers, e.g. `Allow` for 405.
    pub allow: Option<&'static str>,
    /// The argument at fault, sent as `extensions.field` (as the BFFs' own input errors do).
    pub field: Option<&'static str>,
}

impl EdgeRefusal {
    /// A refusal with no extra headers.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
            field: None,
        }
    }

    /// A 400 request error.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The GraphQL error body of this refusal.
    pub fn body(&self) -> serde_json::Value {
        let mut extensions = json!({ "code": self.code });
        if let Some(field) = self.field {
            extensions["field"] = json!(field);
        }
        json!({ "errors": [{ "message": self.message, "extensions": extensions }] })
    }

    /// The response, in the negotiated media type.
    pub fn into_response_as(self, media_type: &'static str) -> Response {
        record_rejection(self.code);
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

impl IntoResponse for EdgeRefusal {
    fn into_response(self) -> Response {
        self.into_response_as(http::JSON)
    }
}

/// Counts a refusal: a debug log line and the rejections metric.
fn record_rejection(code: &'static str) {
    tracing::debug!(code, "request refused at the edge");
    crate::observability::record_rejection(code);
}
