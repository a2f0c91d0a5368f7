//! Observability of a BFF: request identity (`x-request-id`, W3C `traceparent`) passed to every
//! downstream call, tracing spans (HTTP request, GraphQL operation, DataLoader batch, downstream
//! call attempt), their export over OTLP/HTTP when configured ([`otlp`]), Prometheus metrics at
//! `GET /metrics`, and one access-log line per request.
//!
//! How it fits together: the [`observe_http`] middleware opens a per-request [`RequestObs`] and
//! runs the request inside a task-local scope holding it, so code that has no handle on the
//! request (the downstream clients, the DataLoaders, the resilience and edge layers) can still
//! record against it through the free functions here ([`record_downstream_call`],
//! [`record_cache`], [`set_breaker_state`], [`record_rejection`]). DataLoader batches run on
//! spawned tasks: [`spawn_in_request`] carries the scope and the span over to them.
//!
//! Nothing here ever reads `Authorization`, cookies or variable values: spans and logs carry
//! ids, names, route templates, statuses, counts and durations only.

pub mod config;
pub mod ids;
pub mod metrics;
pub mod otlp;

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::dataloader::Loader;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::Service;
pub use config::{LogFormat, ObservabilityConfig};
pub use ids::TraceContext;
use metrics::{ANONYMOUS, METRICS, OPERATION_NAMES, sanitize};

tokio::task_local! {
    static REQUEST: Arc<RequestObs>;
}

/// Per-BFF settings of the observability layer.
#[derive(Debug, Clone)]
pub struct HttpObserver {
    settings: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    bff: String,
    max_operation_names: usize,
}

impl HttpObserver {
    /// The observer of the BFF called `bff` (the `bff` label of its metrics).
    pub fn new(bff: &str, config: &ObservabilityConfig) -> Self {
        Self {
            settings: Arc::new(Settings {
                bff: bff.to_owned(),
                max_operation_names: config.max_operation_names,
            }),
        }
    }
}

/// What the observability layer knows about one HTTP request while it runs.
#[derive(Debug)]
pub struct RequestObs {
    settings: Arc<Settings>,
    /// The accepted or generated request id.
    pub request_id: String,
    /// The request's trace context.
    pub trace: TraceContext,
    downstream_calls: AtomicU64,
    operation: Mutex<Option<String>>,
    error_codes: Mutex<Vec<String>>,
}

impl RequestObs {
    /// The BFF this request belongs to.
    pub fn bff(&self) -> &str {
        &self.settings.bff
    }

    /// Downstream calls made so far for this request.
    pub fn downstream_calls(&self) -> u64 {
        self.downstream_calls.load(Ordering::Relaxed)
    }
}

/// The current request's observability record, when running inside [`observe_http`].
pub fn current() -> Option<Arc<RequestObs>> {
    REQUEST.try_with(Arc::clone).ok()
}

/// The current request's id, e.g. for a refusal body built outside the GraphQL executor.
pub fn current_request_id() -> Option<String> {
    REQUEST.try_with(|r| r.request_id.clone()).ok()
}

/// The `traceparent` the current request's downstream calls carry.
pub fn current_traceparent() -> Option<String> {
    REQUEST.try_with(|r| r.trace.traceparent()).ok()
}

fn bff_label() -> String {
    REQUEST
        .try_with(|r| r.settings.bff.clone())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Axum middleware: request id and trace context, the `http.request` span, HTTP metrics, the
/// `x-request-id` response header and the access-log line (target `access`).
pub async fn observe_http(
    State(observer): State<HttpObserver>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let (request_id, trace) = {
        let headers = request.headers();
        let header_str = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        (
            ids::accept_request_id(header_str("x-request-id")),
            TraceContext::from_header(header_str("traceparent")),
        )
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let obs = Arc::new(RequestObs {
        settings: observer.settings.clone(),
        request_id,
        trace,
        downstream_calls: AtomicU64::new(0),
        operation: Mutex::new(None),
        error_codes: Mutex::new(Vec::new()),
    });
    let span = tracing::info_span!(
        "http.request",
        bff = %obs.settings.bff,
        method = %method,
        route = %route,
        request_id = %obs.request_id,
        trace_id = %obs.trace.trace_id,
        span_id = %obs.trace.span_id,
        parent_span_id = obs.trace.parent_span_id.as_deref().unwrap_or(""),
        sampled = obs.trace.sampled(),
        status = Empty,
    );
    let mut response = REQUEST
        .scope(obs.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status().as_u16();
    span.record("status", status);
    if let Ok(value) = HeaderValue::from_str(&obs.request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    METRICS
        .http_requests
        .get_or_create(&vec![
            ("bff", obs.settings.bff.clone()),
            ("route", route.clone()),
            ("status", status.to_string()),
        ])
        .inc();
    let operation = obs
        .operation
        .lock()
        .ok()
        .and_then(|op| op.clone())
        .unwrap_or_default();
    let error_codes = obs
        .error_codes
        .lock()
        .map(|codes| codes.join(","))
        .unwrap_or_default();
    tracing::info!(
        target: "access",
        bff = %obs.settings.bff,
        request_id = %obs.request_id,
        trace_id = %obs.trace.trace_id,
        method = %method,
        route = %route,
        operation = %operation,
        status,
        duration_ms = duration_ms(started.elapsed()),
        downstream_calls = obs.downstream_calls(),
        error_codes = %error_codes,
        "request"
    );
    response
}

/// `GET /metrics`: every series of this process, OpenMetrics text.
pub async fn metrics_endpoint() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        METRICS.render(),
    )
        .into_response()
}

fn duration_ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// One GraphQL operation being executed: its span and, at the end, its metrics.
pub struct GraphqlOperation {
    obs: Option<Arc<RequestObs>>,
    bff: String,
    name: String,
    kind: &'static str,
    span: tracing::Span,
    started: Instant,
}

impl GraphqlOperation {
    /// Reads the operation's name and type from the request's document (never its variables).
    /// Anonymous operations, names not in the document and unparsable documents are
    /// `anonymous`; past the per-BFF cap of distinct names, `other`.
    pub fn start(request: &async_graphql::Request) -> Self {
        let (name, kind) = operation_of(&request.query, request.operation_name.as_deref());
        Self::named(request, name, kind)
    }

    /// Like [`Self::start`], reading the request's parsed document (set by the edge) instead of
    /// parsing the text again; a request without one is parsed here, once, for the executor too.
    pub fn start_parsed(request: &mut async_graphql::Request) -> Self {
        let operation_name = request.operation_name.clone();
        let (name, kind) = match request.parsed_query() {
            Ok(document) => operation_of_document(document, operation_name.as_deref()),
            Err(_) => (ANONYMOUS.to_owned(), "unknown"),
        };
        Self::named(request, name, kind)
    }

    fn named(request: &async_graphql::Request, name: String, kind: &'static str) -> Self {
        let obs = current();
        let (bff, name) = match &obs {
            Some(obs) if name != ANONYMOUS => (
                obs.settings.bff.clone(),
                OPERATION_NAMES.label(&obs.settings.bff, &name, obs.settings.max_operation_names),
            ),
            Some(obs) => (obs.settings.bff.clone(), name),
            None => ("unknown".to_owned(), name),
        };
        let span = tracing::info_span!(
            "graphql.operation",
            operation = %name,
            operation_type = kind,
            document_hash = %format!("{:016x}", fnv1a(request.query.as_bytes())),
            outcome = Empty,
            downstream_calls = Empty,
            error_codes = Empty,
        );
        if let Some(obs) = &obs
            && let Ok(mut op) = obs.operation.lock()
        {
            *op = Some(name.clone());
        }
        Self {
            obs,
            bff,
            name,
            kind,
            span,
            started: Instant::now(),
        }
    }

    /// The operation's span, to instrument its execution with.
    pub fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    /// Records the outcome and puts the request id in every error's `extensions.requestId`.
    pub fn finish(self, mut response: async_graphql::Response) -> async_graphql::Response {
        let elapsed = self.started.elapsed();
        let outcome = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        let mut codes = Vec::with_capacity(response.errors.len());
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            let code = match extensions.get("code") {
                Some(async_graphql::Value::String(code)) => sanitize(code),
                _ => "UNCODED".to_owned(),
            };
            if let Some(obs) = &self.obs {
                extensions.set("requestId", obs.request_id.as_str());
            }
            codes.push(code);
        }
        let calls = self.obs.as_ref().map_or(0, |obs| obs.downstream_calls());
        self.span.record("outcome", outcome);
        self.span.record("downstream_calls", calls);
        if !codes.is_empty() {
            self.span.record("error_codes", codes.join(","));
        }
        let op_labels = vec![
            ("bff", self.bff.clone()),
            ("operation", self.name.clone()),
            ("outcome", outcome.to_owned()),
        ];
        METRICS
            .operation_duration
            .get_or_create(&op_labels)
            .observe(elapsed.as_secs_f64());
        let mut counted = op_labels;
        counted.push(("type", self.kind.to_owned()));
        METRICS.operations.get_or_create(&counted).inc();
        METRICS
            .calls_per_operation
            .get_or_create(&vec![
                ("bff", self.bff.clone()),
                ("operation", self.name.clone()),
            ])
            .observe(calls as f64);
        for code in &codes {
            METRICS
                .errors
                .get_or_create(&vec![("bff", self.bff.clone()), ("code", code.clone())])
                .inc();
        }
        if let Some(obs) = &self.obs
            && let Ok(mut all) = obs.error_codes.lock()
        {
            all.extend(codes);
        }
        response
    }
}

/// The selected operation's name and type; `anonymous`/`unknown` when it cannot be told.
fn operation_of(query: &str, operation_name: Option<&str>) -> (String, &'static str) {
    match async_graphql::parser::parse_query(query) {
        Ok(document) => operation_of_document(&document, operation_name),
        Err(_) => (ANONYMOUS.to_owned(), "unknown"),
    }
}

/// [`operation_of`] on an already parsed document.
fn operation_of_document(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> (String, &'static str) {
    let kind = |ty: OperationType| match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => (ANONYMOUS.to_owned(), kind(op.node.ty)),
        (DocumentOperations::Single(_), Some(_)) => (ANONYMOUS.to_owned(), "unknown"),
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => (name.to_owned(), kind(op.node.ty)),
            None => (ANONYMOUS.to_owned(), "unknown"),
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (name.to_string(), kind(op.node.ty)))
            .unwrap_or((ANONYMOUS.to_owned(), "unknown")),
        (DocumentOperations::Multiple(_), None) => (ANONYMOUS.to_owned(), "unknown"),
    }
}

/// FNV-1a, 64 bits: a stable, dependency-free hash identifying a document in spans.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How a downstream call ended, for its `status` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// The service answered with this HTTP status.
    Http(u16),
    /// No answer in time.
    Timeout,
    /// No answer (connection refused, reset...), or the call was not made (breaker open).
    Error,
    /// The circuit breaker refused the call without sending it.
    BreakerOpen,
}

impl CallStatus {
    fn label(self) -> String {
        match self {
            CallStatus::Http(code) => code.to_string(),
            CallStatus::Timeout => "timeout".into(),
            CallStatus::Error => "error".into(),
            CallStatus::BreakerOpen => "breaker_open".into(),
        }
    }

    fn is_failure(self) -> bool {
        !matches!(self, CallStatus::Http(code) if code < 500)
    }
}

impl From<u16> for CallStatus {
    fn from(code: u16) -> Self {
        CallStatus::Http(code)
    }
}

impl From<reqwest::StatusCode> for CallStatus {
    fn from(code: reqwest::StatusCode) -> Self {
        CallStatus::Http(code.as_u16())
    }
}

impl From<&reqwest::Error> for CallStatus {
    fn from(err: &reqwest::Error) -> Self {
        match err.status() {
            Some(status) => CallStatus::Http(status.as_u16()),
            None if err.is_timeout() => CallStatus::Timeout,
            None => CallStatus::Error,
        }
    }
}

impl From<Option<u16>> for CallStatus {
    fn from(code: Option<u16>) -> Self {
        code.map_or(CallStatus::Error, CallStatus::Http)
    }
}

impl From<&crate::error::DownstreamError> for CallStatus {
    fn from(err: &crate::error::DownstreamError) -> Self {
        use crate::error::DownstreamError as E;
        match err {
            E::NotFound { .. } => CallStatus::Http(404),
            E::Rejected { status, .. } => CallStatus::Http(*status),
            E::Timeout { .. } => CallStatus::Timeout,
            E::Unavailable { .. } | E::Decode { .. } => CallStatus::Error,
        }
    }
}

/// The `downstream.call` span of one downstream HTTP attempt (target `downstream`, DEBUG level:
/// it costs nothing unless the OTLP exporter or `BFF_LOG=downstream=debug` wants it). Fields:
/// service, route (template), method, attempt, ids (at most [`otlp::MAX_LISTED_IDS`]) and
/// id_count, span_id, then status and duration_ms. When the span is recorded it gets a span id
/// of its own, which the call's `traceparent` carries as the parent, so the downstream service's
/// spans are its children; otherwise the call carries the request's `traceparent` unchanged.
pub struct DownstreamCall {
    span: tracing::Span,
    traceparent: Option<String>,
}

impl DownstreamCall {
    /// Opens the span (not entered: instrument the exchange with [`Self::span`]).
    /// `request_traceparent` is the request's, as the call would send it.
    pub fn start(
        service: Service,
        route: &'static str,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        attempt: u32,
        request_traceparent: Option<&str>,
    ) -> Self {
        let span = tracing::debug_span!(
            target: "downstream",
            "downstream.call",
            service = service.as_str(),
            route,
            method,
            attempt,
            ids = Empty,
            id_count = Empty,
            span_id = Empty,
            status = Empty,
            duration_ms = Empty,
        );
        if span.is_disabled() {
            return Self {
                span,
                traceparent: None,
            };
        }
        if let Some((ids, count)) = otlp::call_ids(path, query) {
            span.record("ids", ids);
            span.record("id_count", count);
        }
        let span_id = ids::new_span_id();
        span.record("span_id", span_id.as_str());
        let traceparent = request_traceparent.and_then(|tp| ids::with_parent(tp, &span_id));
        Self { span, traceparent }
    }

    /// The span, to instrument the HTTP exchange with.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The `traceparent` naming this call's span as the parent; `None` when the span is not
    /// recorded (the request's is sent then).
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// Records how the attempt ended and closes the span.
    pub fn finish(self, status: impl Into<CallStatus>, duration: Duration) {
        if !self.span.is_disabled() {
            self.span.record("status", status.into().label());
            self.span.record("duration_ms", duration_ms(duration));
        }
    }
}

/// Records one downstream call attempt (the hook in `clients.rs`): metrics by service, route
/// template and status, the current request's call count, and a `downstream` event in the
/// current span. `attempt` starts at 1.
pub fn record_downstream_call(
    service: Service,
    route: &'static str,
    status: impl Into<CallStatus>,
    duration: Duration,
    attempt: u32,
) {
    let status = status.into();
    if let Ok(obs) = REQUEST.try_with(Arc::clone) {
        obs.downstream_calls.fetch_add(1, Ordering::Relaxed);
    }
    let bff = bff_label();
    let labels = vec![
        ("bff", bff),
        ("service", service.as_str().to_owned()),
        ("route", route.to_owned()),
    ];
    METRICS
        .downstream_duration
        .get_or_create(&labels)
        .observe(duration.as_secs_f64());
    if attempt > 1 {
        METRICS.downstream_retries.get_or_create(&labels).inc();
    }
    let mut labels = labels;
    labels.push(("status", status.label()));
    METRICS.downstream_requests.get_or_create(&labels).inc();
    let duration_ms = duration_ms(duration);
    let service = service.as_str();
    if status.is_failure() {
        tracing::info!(target: "downstream", service, route, status = %status.label(), attempt, duration_ms, "downstream call failed");
    } else {
        tracing::debug!(target: "downstream", service, route, status = %status.label(), attempt, duration_ms, "downstream call");
    }
}

/// Records a cache lookup (`cache` names the cache, e.g. `products-stale`).
pub fn record_cache(cache: &str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    METRICS
        .cache
        .get_or_create(&vec![
            ("bff", bff_label()),
            ("cache", sanitize(cache)),
            ("result", result.to_owned()),
        ])
        .inc();
}

/// Circuit-breaker states as exported by [`set_breaker_state`].
pub mod breaker_state {
    pub const CLOSED: i64 = 0;
    pub const HALF_OPEN: i64 = 1;
    pub const OPEN: i64 = 2;
}

/// Sets a service's circuit-breaker state gauge ([`breaker_state`] codes). Call it inside a
/// request (the `bff` label comes from the request scope; `unknown` outside one).
pub fn set_breaker_state(service: Service, state_code: i64) {
    METRICS
        .breaker_state
        .get_or_create(&vec![
            ("bff", bff_label()),
            ("service", service.as_str().to_owned()),
        ])
        .set(state_code);
}

/// Counts a request refused before execution (rate limit, size, depth...), by its error code.
pub fn record_rejection(code: &str) {
    METRICS
        .rejections
        .get_or_create(&vec![("bff", bff_label()), ("code", sanitize(code))])
        .inc();
}

/// Spawns `future` carrying the current request scope and span, so work a request hands to
/// another task (DataLoader batches) is still counted and traced as part of it.
pub fn spawn_in_request<F>(future: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let span = tracing::Span::current();
    match current() {
        Some(obs) => tokio::spawn(REQUEST.scope(obs, future).instrument(span)),
        None => tokio::spawn(future.instrument(span)),
    }
}

/// A DataLoader [`Loader`] that records each batch: the `dataloader.batch` span and the batch
/// size histogram, labelled with the inner loader's type name.
pub struct Observed<L> {
    name: &'static str,
    inner: L,
}

impl<L> Observed<L> {
    /// Wraps `inner`, named after its type (e.g. `UsersById`).
    pub fn new(inner: L) -> Self {
        let full = std::any::type_name::<L>();
        let name = full.rsplit("::").next().unwrap_or(full);
        Self { name, inner }
    }

    /// The wrapped loader.
    pub fn inner(&self) -> &L {
        &self.inner
    }
}

impl<K, L> Loader<K> for Observed<L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    type Value = L::Value;
    type Error = L::Error;

    fn load(
        &self,
        keys: &[K],
    ) -> impl Future<Output = Result<HashMap<K, Self::Value>, Self::Error>> + Send {
        METRICS
            .batch_size
            .get_or_create(&vec![
                ("bff", bff_label()),
                ("loader", self.name.to_owned()),
            ])
            .observe(keys.len() as f64);
        let span = tracing::info_span!(
            "dataloader.batch",
            loader = self.name,
            batch_size = keys.len()
        );
        self.inner.load(keys).instrument(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_from_the_document() {
        assert_eq!(
            operation_of("query Home { a }", None),
            ("Home".into(), "query")
        );
        assert_eq!(
            operation_of("query A { a } mutation B { b }", Some("B")),
            ("B".into(), "mutation")
        );
        assert_eq!(operation_of("{ a }", None), (ANONYMOUS.into(), "query"));
        assert_eq!(
            operation_of("query A { a } query B { b }", Some("C")),
            (ANONYMOUS.into(), "unknown")
        );
        assert_eq!(operation_of("query {", None), (ANONYMOUS.into(), "unknown"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
