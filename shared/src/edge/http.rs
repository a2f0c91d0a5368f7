//! The GraphQL-over-HTTP handling of `/graphql`: [`Edge::prepare`] turns an HTTP request into
//! checked GraphQL requests (or a refusal), the server executes them, [`Edge::respond`] builds the
//! HTTP response; [`Edge::layers`] adds CORS and compression around the router.
//!
//! The order of the checks, cheapest and least trusting first: method and content type (CSRF),
//! body size on the stream, JSON shape, batching, credentials, rate limit, persisted query
//! resolution, operation limits on the parsed document, GET for queries only, introspection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, Request as GqlRequest, Response as GqlResponse};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::apq::{ManifestError, MemoryStore, PersistedQueryStore, TrustedDocuments, sha256_hex};
use super::config::{EdgeConfig, IntrospectionPolicy};
use super::rate_limit::{Gcra, RateDecision, RateLimiter};
use super::{EdgeRefusal, codes, limits};
use crate::auth::{Auth, TokenVerifier};
use crate::config::BffConfig;

/// `application/json`, the legacy GraphQL response media type.
pub const JSON: &str = "application/json";
/// `application/graphql-response+json`, the GraphQL-over-HTTP media type.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Why the edge could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EdgeSetupError {
    #[error("trusted documents: {0}")]
    Manifest(#[from] ManifestError),
    #[error("could not build the JWKS client: {0}")]
    Jwks(#[from] reqwest::Error),
}

/// The edge of one BFF.
pub struct Edge {
    config: EdgeConfig,
    verifier: TokenVerifier,
    limiter: Option<Arc<dyn RateLimiter>>,
    apq: Arc<dyn PersistedQueryStore>,
    trusted: TrustedDocuments,
    /// Parsed, text-checked documents by query text (see [`crate::doc_cache`]).
    documents: crate::doc_cache::DocumentCache,
}

/// Checked requests, ready to execute, and what the response needs to know.
pub struct Prepared {
    /// The GraphQL requests (one unless batched), with the request's [`Auth`] attached.
    pub requests: Vec<GqlRequest>,
    /// What the request's credentials say.
    pub auth: Auth,
    shape: ResponseShape,
}

/// What [`Edge::respond`] needs from the request.
#[derive(Debug, Clone, Copy)]
pub struct ResponseShape {
    batch: bool,
    media: &'static str,
    /// A GET of a persisted query without credentials: may be cached publicly.
    cacheable: bool,
}

impl Prepared {
    /// The requests and the response shape, apart.
    pub fn into_parts(self) -> (Vec<GqlRequest>, ResponseShape) {
        (self.requests, self.shape)
    }
}

impl Edge {
    /// The edge of `config`: loads the trusted documents, prepares the JWKS client.
    pub fn new(config: &BffConfig) -> Result<Self, EdgeSetupError> {
        let edge = &config.edge;
        let trusted = match &edge.trusted_documents {
            Some(path) => TrustedDocuments::load(path)?,
            None => TrustedDocuments::default(),
        };
        Ok(Self {
            verifier: TokenVerifier::with_policy(&config.auth, &edge.jwt)?,
            limiter: Gcra::new(edge.rate_limit).map(|g| Arc::new(g) as Arc<dyn RateLimiter>),
            apq: Arc::new(MemoryStore::new(edge.apq_capacity)),
            trusted,
            documents: crate::doc_cache::DocumentCache::new(edge.document_cache),
            config: edge.clone(),
        })
    }

    /// Replaces the rate limiter (e.g. a Redis one).
    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Replaces the persisted-query store (e.g. a Redis one).
    pub fn with_persisted_queries(mut self, store: Arc<dyn PersistedQueryStore>) -> Self {
        self.apq = store;
        self
    }

    /// The token verifier.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// The HTTP layers of the edge (see [`layers`]).
    pub fn layers<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        layers(&self.config, router)
    }

    /// Checks an HTTP request and turns it into GraphQL requests, or refuses it.
    pub async fn prepare(&self, request: axum::extract::Request) -> Result<Prepared, Response> {
        let (parts, body) = request.into_parts();
        let media = negotiate(&parts.headers);
        self.prepare_inner(&parts, body, media)
            .await
            .map_err(|refusal| refusal.into_response_as(media))
    }

    async fn prepare_inner(
        &self,
        parts: &Parts,
        body: Body,
        media: &'static str,
    ) -> Result<Prepared, EdgeRefusal> {
        let is_get = parts.method == Method::GET;
        let batch = if is_get {
            BatchRequest::Single(parse_get(parts)?)
        } else if parts.method == Method::POST {
            require_json(&parts.headers)?;
            let body = read_body(&parts.headers, body, self.config.max_body_bytes).await?;
            serde_json::from_slice::<BatchRequest>(&body).map_err(|_| {
                EdgeRefusal::bad_request(
                    codes::BAD_REQUEST,
                    "the body is not a GraphQL request: expected JSON with a `query` string",
                )
            })?
        } else {
            let mut refusal = EdgeRefusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                codes::METHOD_NOT_ALLOWED,
                "use GET or POST",
            );
            refusal.allow = Some("GET, POST");
            return Err(refusal);
        };
        let (requests, batched) = match batch {
            BatchRequest::Single(request) => (vec![request], false),
            BatchRequest::Batch(requests) => {
                if self.config.max_batch == 0 {
                    return Err(EdgeRefusal::bad_request(
                        codes::BATCHING_DISABLED,
                        "batched requests are not accepted: send one operation per request",
                    ));
                }
                if requests.len() > self.config.max_batch {
                    return Err(EdgeRefusal::bad_request(
                        codes::BATCH_TOO_LARGE,
                        format!(
                            "a batch may carry at most {} operations",
                            self.config.max_batch
                        ),
                    ));
                }
                (requests, true)
            }
        };

        let auth = self.verifier.authenticate_async(&parts.headers).await;
        if self.config.jwt.require_viewer && !matches!(auth, Auth::Viewer(_)) {
            return Err(EdgeRefusal::new(
                StatusCode::UNAUTHORIZED,
                codes::UNAUTHENTICATED,
                "sign in: this API needs a valid bearer token",
            ));
        }
        if let Some(limiter) = &self.limiter {
            let key = match auth {
                Auth::Viewer(viewer) => Some(format!("viewer:{}", viewer.user_id)),
                _ => self.client_addr(parts).map(|addr| format!("addr:{addr}")),
            };
            let cost = u32::try_from(requests.len()).unwrap_or(u32::MAX);
            let decision = match &key {
                Some(key) => limiter.check(key, cost).await,
                // Served without peer addresses: no per-address bucket (one shared bucket would
                // let one client throttle everybody).
                None => RateDecision::Allowed,
            };
            if let RateDecision::Limited { retry_after } = decision {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let mut refusal = EdgeRefusal::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    codes::RATE_LIMITED,
                    format!("too many requests: retry in {seconds} s"),
                );
                refusal.retry_after = Some(seconds);
                return Err(refusal);
            }
        }

        let mut persisted_any = false;
        let mut checked = Vec::with_capacity(requests.len());
        for mut request in requests {
            let (persisted, register) = self.resolve_persisted(&mut request).await?;
            persisted_any |= persisted;
            // One parse per distinct text: the text-only checks are cached with the document,
            // the variable-dependent ones (page sizes, cost) run every time.
            let document = self.documents.get_or_check(&request.query, |query| {
                limits::check_document(query, &self.config.limits)
            })?;
            let operation = limits::check_operation(
                document.document(),
                request.operation_name.as_deref(),
                &request.variables,
                &self.config.limits,
            )?;
            if is_get && matches!(operation, Some(ty) if ty != OperationType::Query) {
                let mut refusal = EdgeRefusal::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    codes::METHOD_NOT_ALLOWED,
                    "mutations are not accepted over GET: use POST",
                );
                refusal.allow = Some("POST");
                return Err(refusal);
            }
            if let Some(hash) = register {
                self.apq.put(&hash, &request.query).await;
            }
            request.set_parsed_query(document.document().clone());
            let introspect = match self.config.introspection {
                IntrospectionPolicy::Enabled => true,
                IntrospectionPolicy::Disabled => false,
                IntrospectionPolicy::AdminsOnly => {
                    matches!(auth, Auth::Viewer(viewer) if viewer.is_admin())
                }
            };
            if !introspect {
                request = request.disable_introspection();
            }
            checked.push(request.data(auth));
        }
        Ok(Prepared {
            requests: checked,
            auth,
            shape: ResponseShape {
                batch: batched,
                media,
                cacheable: is_get && persisted_any && auth == Auth::Anonymous,
            },
        })
    }

    /// Resolves `extensions.persistedQuery`: fills the query from a trusted document or the APQ
    /// store, verifies a sent hash, enforces the safelist. Returns whether the request named a
    /// persisted query, and the hash to register once the query passes the limits.
    async fn resolve_persisted(
        &self,
        request: &mut GqlRequest,
    ) -> Result<(bool, Option<String>), EdgeRefusal> {
        let hash = match request.extensions.get("persistedQuery") {
            Some(async_graphql::Value::Object(pq)) => match pq.get("sha256Hash") {
                Some(async_graphql::Value::String(hash)) => Some(hash.to_ascii_lowercase()),
                _ => {
                    return Err(EdgeRefusal::bad_request(
                        codes::BAD_REQUEST,
                        "extensions.persistedQuery needs a sha256Hash string",
                    ));
                }
            },
            Some(_) => {
                return Err(EdgeRefusal::bad_request(
                    codes::BAD_REQUEST,
                    "extensions.persistedQuery must be an object",
                ));
            }
            None => None,
        };
        let not_allowed = || {
            EdgeRefusal::bad_request(
                codes::PERSISTED_QUERY_NOT_ALLOWED,
                "only trusted documents are accepted here",
            )
        };
        let Some(hash) = hash else {
            if self.config.safelist && !self.trusted.contains(&sha256_hex(&request.query)) {
                return Err(not_allowed());
            }
            return Ok((false, None));
        };
        if request.query.is_empty() {
            if let Some(document) = self.trusted.get(&hash) {
                request.query = document.to_string();
                return Ok((true, None));
            }
            if self.config.safelist {
                return Err(not_allowed());
            }
            return match self.apq.get(&hash).await {
                Some(query) => {
                    request.query = query.to_string();
                    Ok((true, None))
                }
                None => Err(EdgeRefusal::new(
                    StatusCode::OK,
                    codes::PERSISTED_QUERY_NOT_FOUND,
                    "PersistedQueryNotFound",
                )),
            };
        }
        if sha256_hex(&request.query) != hash {
            return Err(EdgeRefusal::bad_request(
                codes::PERSISTED_QUERY_HASH_MISMATCH,
                "the sha256Hash is not the SHA-256 of the query",
            ));
        }
        if self.trusted.contains(&hash) {
            return Ok((true, None));
        }
        if self.config.safelist {
            return Err(not_allowed());
        }
        Ok((true, Some(hash)))
    }

    /// The client's address (`None` when served without peer addresses): the peer, or (when the peer is a trusted proxy) the right-most
    /// `X-Forwarded-For` entry that is not a trusted proxy.
    fn client_addr(&self, parts: &Parts) -> Option<String> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())?;
        let trusted = |ip: &IpAddr| self.config.trusted_proxies.contains(ip);
        if !trusted(&peer) {
            return Some(peer.to_string());
        }
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|ip| ip.trim().parse().ok())
            .collect();
        let client = forwarded.into_iter().rev().find(|ip| !trusted(ip));
        Some(client.unwrap_or(peer).to_string())
    }

    /// The HTTP response of executed requests: media type, status, caching, no suggestions.
    pub fn respond(&self, shape: ResponseShape, mut responses: Vec<GqlResponse>) -> Response {
        if !self.config.suggestions {
            for response in &mut responses {
                for error in &mut response.errors {
                    if let Some(at) = error.message.find(" Did you mean") {
                        error.message.truncate(at);
                    }
                }
            }
        }
        let status = match (shape.batch, responses.first()) {
            (false, Some(response)) => status_of(response, shape.media),
            _ => StatusCode::OK,
        };
        let cache_control = match (shape.batch, responses.first()) {
            (false, Some(response))
                if shape.cacheable
                    && response.errors.is_empty()
                    && response.cache_control.public
                    && response.cache_control.max_age >= 0 =>
            {
                let max_age = match response.cache_control.max_age {
                    0 => self.config.public_max_age.as_secs(),
                    hinted => u64::try_from(hinted).unwrap_or(0),
                };
                format!("public, max-age={max_age}")
            }
            _ => "private, no-store".to_owned(),
        };
        let body = if shape.batch {
            serde_json::to_vec(&responses)
        } else {
            match responses.first() {
                Some(response) => serde_json::to_vec(response),
                None => Ok(b"{}".to_vec()),
            }
        };
        let body = match body {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(%err, "could not serialise a GraphQL response");
                return EdgeRefusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_SERVER_ERROR",
                    "internal error",
                )
                .into_response_as(shape.media);
            }
        };
        let mut http = (status, body).into_response();
        let headers = http.headers_mut();
        for response in &responses {
            for (name, value) in &response.http_headers {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(shape.media));
        if let Ok(value) = HeaderValue::from_str(&cache_control) {
            headers.insert(header::CACHE_CONTROL, value);
        }
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Accept, Authorization"),
        );
        http
    }
}

/// The HTTP layers of the edge, innermost first: compression, then CORS (outermost, so a
/// preflight is answered before anything else runs).
pub fn layers<S: Clone + Send + Sync + 'static>(
    config: &EdgeConfig,
    router: Router<S>,
) -> Router<S> {
    let mut router = router;
    if config.compression {
        router = router.layer(tower_http::compression::CompressionLayer::new());
    }
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if !origins.is_empty() {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    header::ACCEPT,
                    header::HeaderName::from_static("x-request-id"),
                ])
                .allow_credentials(true)
                .max_age(std::time::Duration::from_secs(600)),
        );
    }
    router
}

/// 401 when every error is UNAUTHENTICATED and nothing was produced; with
/// `application/graphql-response+json`, 400 for request errors (no data, errors without a path);
/// otherwise 200.
fn status_of(response: &GqlResponse, media: &'static str) -> StatusCode {
    if response.errors.is_empty() {
        return StatusCode::OK;
    }
    let no_data = match &response.data {
        async_graphql::Value::Null => true,
        async_graphql::Value::Object(fields) => {
            fields.values().all(|v| *v == async_graphql::Value::Null)
        }
        _ => false,
    };
    let all_unauthenticated = response.errors.iter().all(|e| {
        e.extensions.as_ref().and_then(|x| x.get("code"))
            == Some(&async_graphql::Value::from(codes::UNAUTHENTICATED))
    });
    if no_data && all_unauthenticated {
        StatusCode::UNAUTHORIZED
    } else if media == GRAPHQL_RESPONSE_JSON
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty())
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// The response media type by `Accept`: graphql-response+json when the client lists it.
fn negotiate(headers: &HeaderMap) -> &'static str {
    let accepts = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE_JSON));
    if accepts { GRAPHQL_RESPONSE_JSON } else { JSON }
}

/// POST bodies must be JSON: text/plain and form posts (which browsers send cross-site without
/// a preflight) are refused.
fn require_json(headers: &HeaderMap) -> Result<(), EdgeRefusal> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("application/json") => Ok(()),
        _ => Err(EdgeRefusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "POST needs Content-Type: application/json",
        )),
    }
}

/// Reads the body, refusing (without reading on) as soon as it exceeds `max` bytes.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Vec<u8>, EdgeRefusal> {
    let too_large = || {
        EdgeRefusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            EdgeRefusal::bad_request(codes::BAD_REQUEST, "the body could not be read")
        })?;
        if buf.len() + chunk.len() > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A GET request from the query string: `query`, `operationName`, and JSON-encoded `variables`
/// and `extensions`.
fn parse_get(parts: &Parts) -> Result<GqlRequest, EdgeRefusal> {
    let bad = |message: &str| EdgeRefusal::bad_request(codes::BAD_REQUEST, message);
    let Query(params) =
        Query::<std::collections::HashMap<String, String>>::try_from_uri(&parts.uri)
            .map_err(|_| bad("the query string is malformed"))?;
    let json_param = |name: &str| -> Result<serde_json::Value, EdgeRefusal> {
        match params.get(name) {
            Some(text) => {
                serde_json::from_str(text).map_err(|_| bad(&format!("`{name}` must be JSON")))
            }
            None => Ok(serde_json::Value::Null),
        }
    };
    let mut request = serde_json::json!({
        "query": params.get("query").cloned().unwrap_or_default(),
        "variables": json_param("variables")?,
        "extensions": json_param("extensions")?,
    });
    if let Some(name) = params.get("operationName") {
        request["operationName"] = serde_json::Value::String(name.clone());
    }
    if request["variables"].is_null() {
        request["variables"] = serde_json::json!({});
    }
    if request["extensions"].is_null() {
        request["extensions"] = serde_json::json!({});
    }
    serde_json::from_value(request).map_err(|_| bad("the query string is not a GraphQL request"))
}
