//! OTLP/HTTP trace export without the OpenTelemetry SDK. [`OtlpLayer`], a `tracing_subscriber`
//! layer, gives every exported span its ids in the request's W3C trace and keeps its fields; a
//! closed span goes into a bounded queue (when it is full the span is dropped and counted: the
//! request path never waits); [`Exporter`], a background task, POSTs batches as OTLP JSON
//! (`ExportTraceServiceRequest`) to `{OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`. A failed export is
//! dropped and counted, never retried. [`crate::telemetry`] installs both only when an endpoint
//! is configured; otherwise none of this runs.
//!
//! Ids: a span with `trace_id`, `span_id`, `parent_span_id` and `sampled` fields (`http.request`,
//! from the request's [`super::TraceContext`]) takes them, so its span id is the one downstream
//! calls and logs name; a span that records `span_id` later (`downstream.call`, whose id travels
//! in the call's `traceparent`) takes that one; any other span gets a fresh span id in its
//! parent's trace. Those fields are ids, not attributes; every other field is an attribute
//! (string, integer, boolean or float). A span's `bff` field names the service of its trace
//! (`service.name`; spans of several BFFs in one process keep apart), else the configured one.
//!
//! Kind: `http.request` SERVER, `downstream.call` CLIENT, anything else INTERNAL. Status: ERROR
//! when the span recorded `outcome = "error"`, a numeric `status` of 500 or more, or a status
//! that is not a number (`timeout`, `error`, `breaker_open`); UNSET otherwise.
//!
//! Exported spans are those at INFO level or above and those of target `downstream` (the
//! DEBUG-level `downstream.call`, free when nothing wants it); events are not exported, nor the
//! traces of probes and scrapes (`http.request` of `/health`, `/ready`, `/metrics`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::config::{ObservabilityConfig, Sampler};
use super::ids;
use super::metrics::METRICS;

/// `service.version` and the scope version of exported spans.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Most `ids` listed on a `downstream.call` span (`id_count` has them all).
pub const MAX_LISTED_IDS: usize = 20;
/// Least time between two warnings of the exporter.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The installed sampler (set once, when the exporter starts).
static SAMPLER: OnceLock<Sampler> = OnceLock::new();
/// Asks the running exporter to send what it holds (see [`flush`]).
static FLUSH: OnceLock<mpsc::Sender<oneshot::Sender<()>>> = OnceLock::new();

/// The sampling decision for a request's trace: the installed sampler's, or without an exporter
/// the incoming sampled flag (new traces sampled), as before there was an exporter.
pub(crate) fn sampled(trace_id: &str, parent_flags: Option<u8>) -> bool {
    match SAMPLER.get() {
        Some(sampler) => sampler.sample(trace_id, parent_flags),
        None => parent_flags.is_none_or(|flags| flags & 1 == 1),
    }
}

/// Whether the exporter was started in this process.
pub fn installed() -> bool {
    SAMPLER.get().is_some()
}

/// The per-layer filter of [`OtlpLayer`]: spans at INFO or above, and spans of target
/// `downstream`; no events.
pub fn exported(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && (*metadata.level() <= Level::INFO || metadata.target() == "downstream")
}

/// Sends what the exporter holds now and waits for it, at most `timeout`; `true` when done (or
/// when no exporter runs). For shutdown, so the last second of spans is not lost.
pub async fn flush(timeout: Duration) -> bool {
    let Some(flushes) = FLUSH.get() else {
        return true;
    };
    let (done, wait) = oneshot::channel();
    tokio::time::timeout(timeout, async {
        flushes.send(done).await.is_ok() && wait.await.is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The layer and its exporter for `config`; `None` when no endpoint is set (nothing is
/// exported, nothing is installed) or the HTTP client cannot be built (said on stderr).
pub fn pipeline(config: &ObservabilityConfig) -> Option<(OtlpLayer, Exporter)> {
    let endpoint = config.otlp_endpoint.as_deref()?;
    let otlp = &config.otlp;
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &otlp.headers {
        // Both were checked when the configuration was read.
        if let (Ok(name), Ok(mut value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value.expose()),
        ) {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
    }
    let http = match reqwest::Client::builder()
        .timeout(otlp.timeout)
        .default_headers(headers)
        .build()
    {
        Ok(http) => http,
        Err(err) => {
            eprintln!("OTLP export is off: cannot build its HTTP client: {err}");
            return None;
        }
    };
    let service: Arc<str> = Arc::from(config.service_name.as_deref().unwrap_or("bff"));
    let (spans, receiver) = mpsc::channel(otlp.queue);
    let queue_drops = Arc::new(AtomicU64::new(0));
    let layer = OtlpLayer {
        queue: spans,
        service: service.clone(),
        sampler: otlp.sampler,
        queue_drops: queue_drops.clone(),
    };
    let exporter = Exporter {
        http,
        url: format!("{}/v1/traces", endpoint.trim_end_matches('/')),
        endpoint: redact(endpoint),
        service,
        sampler: otlp.sampler,
        batch_size: otlp.batch_size,
        flush_interval: otlp.flush_interval,
        receiver,
        queue_drops,
        reported_queue_drops: 0,
        warned: None,
    };
    Some((layer, exporter))
}

/// `url` without credentials (`user:password@`), for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
enum AttrValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Double(f64),
}

impl AttrValue {
    fn to_json(&self) -> Value {
        match self {
            AttrValue::Str(s) => json!({ "stringValue": s }),
            // OTLP JSON writes 64-bit integers as strings.
            AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
            AttrValue::Bool(b) => json!({ "boolValue": b }),
            AttrValue::Double(d) => json!({ "doubleValue": d }),
        }
    }
}

/// What the layer keeps on each live span (in the registry's span extensions).
#[derive(Debug)]
struct SpanData {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    sampled: bool,
    /// The trace's `bff` field, when a span of it had one.
    service: Option<Arc<str>>,
    start_unix_nanos: u64,
    attributes: Vec<(&'static str, AttrValue)>,
}

/// A closed span waiting for export.
#[derive(Debug)]
pub struct FinishedSpan {
    name: &'static str,
    data: SpanData,
    end_unix_nanos: u64,
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && value.bytes().any(|b| b != b'0')
}

/// Records a span's fields into its [`SpanData`]: the id fields as ids, the rest as attributes.
struct Fields<'a> {
    data: &'a mut SpanData,
    trace_given: bool,
    parent_given: bool,
    sampled_given: bool,
}

impl<'a> Fields<'a> {
    fn new(data: &'a mut SpanData) -> Self {
        Self {
            data,
            trace_given: false,
            parent_given: false,
            sampled_given: false,
        }
    }

    fn set(&mut self, name: &'static str, value: AttrValue) {
        match (name, value) {
            ("trace_id", AttrValue::Str(id)) => {
                if is_lower_hex(&id, 32) {
                    self.data.trace_id = id;
                    self.trace_given = true;
                }
            }
            ("span_id", AttrValue::Str(id)) => {
                if is_lower_hex(&id, 16) {
                    self.data.span_id = id;
                }
            }
            ("parent_span_id", AttrValue::Str(id)) => {
                self.parent_given = true;
                self.data.parent_span_id = is_lower_hex(&id, 16).then_some(id);
            }
            ("sampled", AttrValue::Bool(sampled)) => {
                self.data.sampled = sampled;
                self.sampled_given = true;
            }
            (name, value) => {
                if let ("bff", AttrValue::Str(bff)) = (name, &value) {
                    self.data.service = Some(Arc::from(bff.as_str()));
                }
                match self
                    .data
                    .attributes
                    .iter_mut()
                    .find(|(key, _)| *key == name)
                {
                    Some((_, slot)) => *slot = value,
                    None => self.data.attributes.push((name, value)),
                }
            }
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), AttrValue::Double(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), AttrValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(
            field.name(),
            i64::try_from(value).map_or_else(|_| AttrValue::Str(value.to_string()), AttrValue::Int),
        );
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), AttrValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), AttrValue::Str(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%value` fields arrive here too, formatted with Display.
        self.set(field.name(), AttrValue::Str(format!("{value:?}")));
    }
}

/// The `tracing_subscriber` layer that records spans for export (see the module docs). Install
/// it with the [`exported`] filter.
pub struct OtlpLayer {
    queue: mpsc::Sender<FinishedSpan>,
    /// `service.name` of spans whose trace has no `bff` field.
    service: Arc<str>,
    sampler: Sampler,
    /// Spans dropped because the queue was full, for the exporter's warning.
    queue_drops: Arc<AtomicU64>,
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let inherited = span.parent().and_then(|parent| {
            parent.extensions().get::<SpanData>().map(|p| {
                (
                    p.trace_id.clone(),
                    p.span_id.clone(),
                    p.sampled,
                    p.service.clone(),
                )
            })
        });
        let root = inherited.is_none();
        let mut data = match inherited {
            Some((trace_id, parent_span_id, sampled, service)) => SpanData {
                trace_id,
                span_id: String::new(),
                parent_span_id: Some(parent_span_id),
                sampled,
                service,
                start_unix_nanos: unix_nanos(),
                attributes: Vec::new(),
            },
            None => SpanData {
                trace_id: String::new(),
                span_id: String::new(),
                parent_span_id: None,
                sampled: true,
                service: None,
                start_unix_nanos: unix_nanos(),
                attributes: Vec::new(),
            },
        };
        let mut fields = Fields::new(&mut data);
        attrs.record(&mut fields);
        let (trace_given, parent_given, sampled_given) = (
            fields.trace_given,
            fields.parent_given,
            fields.sampled_given,
        );
        // A span naming its trace starts it here, whatever encloses it locally.
        if trace_given && !parent_given {
            data.parent_span_id = None;
        }
        if data.trace_id.is_empty() {
            data.trace_id = ids::new_trace_id();
        }
        if data.span_id.is_empty() {
            data.span_id = ids::new_span_id();
        }
        if (trace_given || root) && !sampled_given {
            data.sampled = self.sampler.sample(&data.trace_id, None);
        }
        if span.name() == "http.request" && is_probe(&data.attributes) {
            data.sampled = false;
        }
        if !data.sampled {
            data.attributes = Vec::new();
        }
        span.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(data) = extensions.get_mut::<SpanData>()
            && data.sampled
        {
            values.record(&mut Fields::new(data));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(data) = span.extensions_mut().remove::<SpanData>() else {
            return;
        };
        if !data.sampled {
            return;
        }
        let finished = FinishedSpan {
            name: span.name(),
            data,
            end_unix_nanos: unix_nanos(),
        };
        if let Err(err) = self.queue.try_send(finished) {
            // Full (the exporter lags) or closed (it stopped): drop, count, never wait.
            let span = err.into_inner();
            self.queue_drops.fetch_add(1, Ordering::Relaxed);
            let service = span.data.service.as_deref().unwrap_or(&self.service);
            count_dropped(service, "queue_full", 1);
        }
    }
}

/// Whether an `http.request` is a probe or a scrape (`/health`, `/ready`, `/metrics`), whose
/// traces would only be noise: not exported.
fn is_probe(attributes: &[(&'static str, AttrValue)]) -> bool {
    attributes.iter().any(|(key, value)| {
        *key == "route"
            && matches!(value, AttrValue::Str(route) if matches!(route.as_str(), "/health" | "/ready" | "/metrics"))
    })
}

fn count_dropped(service: &str, reason: &'static str, spans: u64) {
    METRICS
        .otlp_dropped
        .get_or_create(&vec![
            ("bff", service.to_owned()),
            ("reason", reason.to_owned()),
        ])
        .inc_by(spans);
}

impl FinishedSpan {
    fn service<'a>(&'a self, default: &'a str) -> &'a str {
        self.data.service.as_deref().unwrap_or(default)
    }

    /// OTLP span kind: 2 SERVER, 3 CLIENT, 1 INTERNAL.
    fn kind(&self) -> u8 {
        match self.name {
            "http.request" => 2,
            "downstream.call" => 3,
            _ => 1,
        }
    }

    /// Whether the span recorded a failure (see the module docs).
    fn is_error(&self) -> bool {
        self.data
            .attributes
            .iter()
            .any(|(key, value)| match (*key, value) {
                ("outcome", AttrValue::Str(outcome)) => outcome == "error",
                ("status", AttrValue::Int(code)) => *code >= 500,
                ("status", AttrValue::Str(status)) => {
                    status.parse::<u16>().map_or(true, |c| c >= 500)
                }
                _ => false,
            })
    }

    fn to_json(&self) -> Value {
        let data = &self.data;
        let attributes: Vec<Value> = data
            .attributes
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": value.to_json() }))
            .collect();
        json!({
            "traceId": data.trace_id,
            "spanId": data.span_id,
            "parentSpanId": data.parent_span_id.as_deref().unwrap_or(""),
            "name": self.name,
            "kind": self.kind(),
            "startTimeUnixNano": data.start_unix_nanos.to_string(),
            "endTimeUnixNano": self.end_unix_nanos.max(data.start_unix_nanos).to_string(),
            "attributes": attributes,
            "status": { "code": if self.is_error() { 2 } else { 0 } },
        })
    }
}

fn string_attribute(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

/// The OTLP JSON `ExportTraceServiceRequest` of `spans`: one resource per service name.
fn encode(spans: &[FinishedSpan], default_service: &str) -> Value {
    let mut by_service: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for span in spans {
        by_service
            .entry(span.service(default_service))
            .or_default()
            .push(span.to_json());
    }
    let resource_spans: Vec<Value> = by_service
        .into_iter()
        .map(|(service, spans)| {
            json!({
                "resource": { "attributes": [
                    string_attribute("service.name", service),
                    string_attribute("service.version", VERSION),
                ]},
                "scopeSpans": [{
                    "scope": { "name": "bff", "version": VERSION },
                    "spans": spans,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

/// The background task that sends finished spans: a batch when it holds `batch_size` spans,
/// and whatever it holds every `flush_interval`.
pub struct Exporter {
    http: reqwest::Client,
    url: String,
    /// The endpoint without credentials, for warnings.
    endpoint: String,
    service: Arc<str>,
    sampler: Sampler,
    batch_size: usize,
    flush_interval: Duration,
    receiver: mpsc::Receiver<FinishedSpan>,
    queue_drops: Arc<AtomicU64>,
    reported_queue_drops: u64,
    warned: Option<Instant>,
}

impl Exporter {
    /// Installs the sampler and starts sending: on the current tokio runtime, else on a thread
    /// of its own. Call it once the layer is installed (a second exporter is not started).
    pub fn start(self) {
        if SAMPLER.set(self.sampler).is_err() {
            return;
        }
        let (flushes, flush_requests) = mpsc::channel(1);
        let _ = FLUSH.set(flushes);
        tracing::info!(
            endpoint = %self.endpoint,
            service = %self.service,
            "exporting traces over OTLP/HTTP JSON"
        );
        let task = self.run(flush_requests);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(task);
            }
            Err(_) => {
                let thread = std::thread::Builder::new()
                    .name("otlp-export".into())
                    .spawn(move || {
                        match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(runtime) => runtime.block_on(task),
                            Err(err) => eprintln!("OTLP export is off: no runtime: {err}"),
                        }
                    });
                if let Err(err) = thread {
                    eprintln!("OTLP export is off: cannot start its thread: {err}");
                }
            }
        }
    }

    async fn run(mut self, mut flush_requests: mpsc::Receiver<oneshot::Sender<()>>) {
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut tick = tokio::time::interval(self.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= self.batch_size {
                            self.export(&mut batch).await;
                        }
                    }
                    None => {
                        // The layer is gone.
                        self.export(&mut batch).await;
                        return;
                    }
                },
                Some(done) = flush_requests.recv() => {
                    while let Ok(span) = self.receiver.try_recv() {
                        batch.push(span);
                        if batch.len() >= self.batch_size {
                            self.export(&mut batch).await;
                        }
                    }
                    self.export(&mut batch).await;
                    let _ = done.send(());
                }
                _ = tick.tick() => {
                    self.export(&mut batch).await;
                    self.report_queue_drops();
                }
            }
        }
    }

    /// Sends `batch` (emptying it); on failure its spans are dropped and counted.
    async fn export(&mut self, batch: &mut Vec<FinishedSpan>) {
        if batch.is_empty() {
            return;
        }
        let body = encode(batch, &self.service);
        let mut per_service: BTreeMap<String, u64> = BTreeMap::new();
        for span in batch.iter() {
            *per_service
                .entry(span.service(&self.service).to_owned())
                .or_default() += 1;
        }
        batch.clear();
        let failure = match self.http.post(&self.url).json(&body).send().await {
            Ok(response) if response.status().is_success() => {
                // Read the (small) answer so the connection is reused.
                let _ = response.bytes().await;
                None
            }
            Ok(response) => Some(format!("the collector answered {}", response.status())),
            Err(err) => Some(err.without_url().to_string()),
        };
        for (service, spans) in per_service {
            if failure.is_none() {
                METRICS
                    .otlp_exported
                    .get_or_create(&vec![("bff", service)])
                    .inc_by(spans);
            } else {
                count_dropped(&service, "export_failed", spans);
            }
        }
        if let Some(reason) = failure {
            self.warn(&format!("OTLP export failed, spans dropped: {reason}"));
        }
    }

    fn report_queue_drops(&mut self) {
        let drops = self.queue_drops.load(Ordering::Relaxed);
        if drops > self.reported_queue_drops {
            let new = drops - self.reported_queue_drops;
            self.reported_queue_drops = drops;
            self.warn(&format!(
                "OTLP export queue full, {new} spans dropped (raise BFF_OTLP_QUEUE or check the collector)"
            ));
        }
    }

    /// A warning at most every [`WARN_EVERY`]; the metrics count everything.
    fn warn(&mut self, message: &str) {
        if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            self.warned = Some(Instant::now());
            tracing::warn!(endpoint = %self.endpoint, "{message}");
        }
    }
}

/// The `ids` and `id_count` of a downstream call: the ids of its query's `ids`, `user_ids`,
/// `product_ids` or `user_id` parameter, else the numeric segments of its path; at most
/// [`MAX_LISTED_IDS`] listed.
pub(crate) fn call_ids<'a>(path: &'a str, query: &'a [(&str, String)]) -> Option<(&'a str, usize)> {
    let listed = |all: &'a str, count: usize| {
        let end = all
            .match_indices(',')
            .nth(MAX_LISTED_IDS - 1)
            .map_or(all.len(), |(at, _)| at);
        (&all[..end], count)
    };
    if let Some((_, value)) = query
        .iter()
        .find(|(name, _)| matches!(*name, "ids" | "user_ids" | "product_ids" | "user_id"))
    {
        let count = value.split(',').filter(|id| !id.is_empty()).count();
        return Some(listed(value, count));
    }
    // `/users/42`, `/products/7/reviews`: the path's numbers, which are ids.
    let start = path.find(|c: char| c.is_ascii_digit())?;
    let ids = &path[start..];
    let end = ids.find(|c: char| !c.is_ascii_digit()).unwrap_or(ids.len());
    Some((&ids[..end], 1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;

    fn layer(queue: usize) -> (OtlpLayer, Exporter) {
        let mut config = ObservabilityConfig {
            otlp_endpoint: Some("http://user:pw@127.0.0.1:1".into()),
            service_name: Some("unit-bff".into()),
            ..ObservabilityConfig::default()
        };
        config.otlp.queue = queue;
        pipeline(&config).unwrap()
    }

    fn drain(exporter: &mut Exporter) -> Vec<FinishedSpan> {
        let mut spans = Vec::new();
        while let Ok(span) = exporter.receiver.try_recv() {
            spans.push(span);
        }
        spans
    }

    fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| &a["value"])
    }

    #[test]
    fn nothing_is_built_without_an_endpoint() {
        assert!(pipeline(&ObservabilityConfig::default()).is_none());
        // And without an exporter, the sampling decision is the caller's flag.
        assert!(sampled("4bf92f3577b34da6a3ce929d0e0e4736", None));
        assert!(!sampled("4bf92f3577b34da6a3ce929d0e0e4736", Some(0)));
    }

    #[test]
    fn spans_get_the_request_trace_and_are_encoded_as_otlp_json() {
        let (layer, mut exporter) = layer(64);
        assert_eq!(exporter.url, "http://user:pw@127.0.0.1:1/v1/traces");
        assert_eq!(exporter.endpoint, "http://***@127.0.0.1:1");
        let subscriber =
            tracing_subscriber::registry().with(layer.with_filter(filter_fn(exported)));
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(
                "http.request",
                bff = "web-unit",
                route = "/graphql",
                trace_id = %trace_id,
                span_id = "00000000000000aa",
                parent_span_id = "00f067aa0ba902b7",
                sampled = true,
                status = tracing::field::Empty,
            );
            request.in_scope(|| {
                let operation = tracing::info_span!(
                    "graphql.operation",
                    operation = "Home",
                    outcome = tracing::field::Empty
                );
                operation.in_scope(|| {
                    let call = tracing::debug_span!(
                        target: "downstream",
                        "downstream.call",
                        service = "users",
                        attempt = 1u32,
                        span_id = tracing::field::Empty,
                        status = tracing::field::Empty,
                    );
                    call.record("span_id", "00000000000000cc");
                    call.record("status", "timeout");
                    // Neither exported nor in the way: a debug span of another target.
                    let _hidden = tracing::debug_span!("internal.detail").entered();
                });
                operation.record("outcome", "error");
            });
            request.record("status", 200u16);
        });
        let spans = drain(&mut exporter);
        assert_eq!(spans.len(), 3);
        let body = encode(&spans, "unit-bff");
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0],
            json!({ "key": "service.name", "value": { "stringValue": "web-unit" } })
        );
        assert_eq!(resource["scopeSpans"][0]["scope"]["name"], "bff");
        let exported = resource["scopeSpans"][0]["spans"].as_array().unwrap();
        let by_name = |name: &str| exported.iter().find(|s| s["name"] == name).unwrap();
        let (request, operation, call) = (
            by_name("http.request"),
            by_name("graphql.operation"),
            by_name("downstream.call"),
        );
        for span in exported {
            assert_eq!(span["traceId"], trace_id);
            let (start, end) = (
                span["startTimeUnixNano"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
                span["endTimeUnixNano"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
            assert!(start > 0 && end >= start);
        }
        assert_eq!(request["spanId"], "00000000000000aa");
        assert_eq!(request["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(request["kind"], 2);
        assert_eq!(request["status"]["code"], 0);
        assert_eq!(attr(request, "status"), Some(&json!({ "intValue": "200" })));
        assert_eq!(
            attr(request, "route"),
            Some(&json!({ "stringValue": "/graphql" }))
        );
        // The ids are ids, not attributes.
        assert_eq!(attr(request, "trace_id"), None);
        assert_eq!(attr(request, "sampled"), None);
        assert_eq!(operation["parentSpanId"], "00000000000000aa");
        assert_eq!(operation["kind"], 1);
        assert_eq!(operation["status"]["code"], 2);
        assert_eq!(call["spanId"], "00000000000000cc");
        assert_eq!(call["parentSpanId"], operation["spanId"]);
        assert_eq!(call["kind"], 3);
        assert_eq!(call["status"]["code"], 2);
        assert_eq!(attr(call, "attempt"), Some(&json!({ "intValue": "1" })));
        assert_ne!(operation["spanId"], request["spanId"]);
    }

    #[test]
    fn unsampled_traces_are_not_queued_and_a_full_queue_drops() {
        let (layer, mut exporter) = layer(2);
        let subscriber =
            tracing_subscriber::registry().with(layer.with_filter(filter_fn(exported)));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(
                "http.request",
                bff = "drop-unit",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id = "00000000000000aa",
                parent_span_id = "",
                sampled = false,
            );
            request.in_scope(|| drop(tracing::info_span!("child")));
            drop(request);
            drop(tracing::info_span!("http.request", route = "/health"));
            for _ in 0..5 {
                drop(tracing::info_span!("root", bff = "drop-unit"));
            }
        });
        let spans = drain(&mut exporter);
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert!(spans.iter().all(|s| s.name == "root"));
        assert_eq!(exporter.queue_drops.load(Ordering::Relaxed), 3);
        let text = METRICS.render();
        assert!(
            text.contains(r#"bff_otlp_spans_dropped_total{bff="drop-unit",reason="queue_full"} 3"#),
            "{text}"
        );
        // Roots without a trace get a fresh trace each, and no parent.
        assert_ne!(spans[0].data.trace_id, spans[1].data.trace_id);
        assert!(spans[0].data.parent_span_id.is_none());
    }

    #[test]
    fn calls_name_their_ids_bounded() {
        let many: String = (1..=30)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let query = vec![("ids", many)];
        let (ids, count) = call_ids("/users", &query).unwrap();
        assert_eq!(count, 30);
        assert_eq!(
            ids,
            (1..=20)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let query = vec![("limit", "5".to_owned()), ("user_id", "7".to_owned())];
        assert_eq!(call_ids("/orders", &query), Some(("7", 1)));
        assert_eq!(call_ids("/products/42/reviews", &[]), Some(("42", 1)));
        assert_eq!(call_ids("/products", &[("q", "x".to_owned())]), None);
    }
}
