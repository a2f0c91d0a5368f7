//! The process-wide Prometheus registry (OpenMetrics text at `GET /metrics`). Every series has a
//! `bff` label, so several BFFs in one process (the stack, tests) keep apart. Label values are
//! bounded: operation names are capped per BFF (see [`OperationNames`]), routes are templates,
//! codes and cache names come from our own code and are sanitised anyway.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label set of a series.
pub(crate) type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Operation name used for anonymous operations and names that are not in the document.
pub const ANONYMOUS: &str = "anonymous";
/// Operation name used once a BFF has seen its cap of distinct names.
pub const OTHER: &str = "other";

pub(crate) struct Metrics {
    registry: Registry,
    pub http_requests: Family<Labels, Counter>,
    pub operations: Family<Labels, Counter>,
    pub operation_duration: HistogramFamily,
    pub errors: Family<Labels, Counter>,
    pub downstream_requests: Family<Labels, Counter>,
    pub downstream_duration: HistogramFamily,
    pub downstream_retries: Family<Labels, Counter>,
    pub calls_per_operation: HistogramFamily,
    pub batch_size: HistogramFamily,
    pub cache: Family<Labels, Counter>,
    pub breaker_state: Family<Labels, Gauge>,
    pub rejections: Family<Labels, Counter>,
    /// Redis calls answered by the in-process fallback (see `crate::scale`).
    pub redis_fallbacks: Family<Labels, Counter>,
    /// 1 while Redis answers, 0 while a replica falls back (see `crate::scale`).
    pub redis_up: Family<Labels, Gauge>,
    /// Spans the OTLP exporter sent (see `super::otlp`).
    pub otlp_exported: Family<Labels, Counter>,
    /// Spans the OTLP exporter dropped, by reason (`queue_full`, `export_failed`).
    pub otlp_dropped: Family<Labels, Counter>,
}

fn seconds_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

fn calls_histogram() -> Histogram {
    Histogram::new([
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 100.0,
    ])
}

fn batch_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let counter = Family::<Labels, Counter>::default;
        let histogram = |f: fn() -> Histogram| HistogramFamily::new_with_constructor(f);
        let metrics = Self {
            http_requests: counter(),
            operations: counter(),
            operation_duration: histogram(seconds_histogram),
            errors: counter(),
            downstream_requests: counter(),
            downstream_duration: histogram(seconds_histogram),
            downstream_retries: counter(),
            calls_per_operation: histogram(calls_histogram),
            batch_size: histogram(batch_histogram),
            cache: counter(),
            breaker_state: Family::default(),
            rejections: counter(),
            redis_fallbacks: counter(),
            redis_up: Family::default(),
            otlp_exported: counter(),
            otlp_dropped: counter(),
            registry: Registry::default(),
        };
        registry.register(
            "bff_http_requests",
            "HTTP requests by route and status",
            metrics.http_requests.clone(),
        );
        registry.register(
            "bff_graphql_operations",
            "GraphQL operations by operation name, type and outcome (ok or error)",
            metrics.operations.clone(),
        );
        registry.register(
            "bff_graphql_operation_duration_seconds",
            "GraphQL operation duration by operation name and outcome",
            metrics.operation_duration.clone(),
        );
        registry.register(
            "bff_graphql_errors",
            "GraphQL errors sent to clients, by extensions.code",
            metrics.errors.clone(),
        );
        registry.register(
            "bff_downstream_requests",
            "Downstream HTTP calls by service, route template and status (or timeout/error)",
            metrics.downstream_requests.clone(),
        );
        registry.register(
            "bff_downstream_request_duration_seconds",
            "Downstream call duration by service and route template",
            metrics.downstream_duration.clone(),
        );
        registry.register(
            "bff_downstream_retries",
            "Downstream calls that were a retry (attempt > 1)",
            metrics.downstream_retries.clone(),
        );
        registry.register(
            "bff_downstream_calls_per_operation",
            "Downstream calls one GraphQL operation cost (N+1 regressions show here)",
            metrics.calls_per_operation.clone(),
        );
        registry.register(
            "bff_dataloader_batch_size",
            "Keys per DataLoader batch, by loader",
            metrics.batch_size.clone(),
        );
        registry.register(
            "bff_cache_requests",
            "Cache lookups by cache and result (hit or miss)",
            metrics.cache.clone(),
        );
        registry.register(
            "bff_circuit_breaker_state",
            "Circuit breaker state per service: 0 closed, 1 half-open, 2 open",
            metrics.breaker_state.clone(),
        );
        registry.register(
            "bff_rejected_requests",
            "Requests refused before execution (rate limits, size/depth limits...), by code",
            metrics.rejections.clone(),
        );
        registry.register(
            "bff_redis_fallbacks",
            "Redis calls answered by the in-process fallback (Redis down or slow), by store",
            metrics.redis_fallbacks.clone(),
        );
        registry.register(
            "bff_redis_up",
            "1 while Redis answers this replica, 0 while it falls back to in-process stores",
            metrics.redis_up.clone(),
        );
        registry.register(
            "bff_otlp_spans_exported",
            "Spans sent to the OTLP collector (accepted with a 2xx answer)",
            metrics.otlp_exported.clone(),
        );
        registry.register(
            "bff_otlp_spans_dropped",
            "Spans not exported, by reason: queue_full (the exporter lags) or export_failed",
            metrics.otlp_dropped.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// The OpenMetrics text of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            tracing::error!("could not encode the metrics");
        }
        out
    }
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The distinct operation names each BFF has used as label values, capped.
pub(crate) struct OperationNames {
    seen: Mutex<HashMap<String, HashSet<String>>>,
}

pub(crate) static OPERATION_NAMES: LazyLock<OperationNames> = LazyLock::new(|| OperationNames {
    seen: Mutex::new(HashMap::new()),
});

impl OperationNames {
    /// The label value for `name` in `bff`: the name itself while fewer than `cap` distinct names
    /// were seen (or it was seen before), [`OTHER`] after that.
    pub fn label(&self, bff: &str, name: &str, cap: usize) -> String {
        let Ok(mut seen) = self.seen.lock() else {
            return OTHER.to_owned();
        };
        let names = seen.entry(bff.to_owned()).or_default();
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < cap {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        OTHER.to_owned()
    }
}

/// A label value from our own code (codes, cache names): `[A-Za-z0-9_.-]`, at most 64 bytes.
pub(crate) fn sanitize(value: &str) -> String {
    if is_label_safe(value) {
        value.to_owned()
    } else {
        OTHER.to_owned()
    }
}

/// Whether `value` is 1..=64 bytes of `[A-Za-z0-9_.-]`.
pub(crate) fn is_label_safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_capped_per_bff() {
        let names = OperationNames {
            seen: Mutex::new(HashMap::new()),
        };
        assert_eq!(names.label("a", "One", 2), "One");
        assert_eq!(names.label("a", "Two", 2), "Two");
        assert_eq!(names.label("a", "Three", 2), OTHER);
        assert_eq!(names.label("a", "One", 2), "One");
        assert_eq!(names.label("b", "Three", 2), "Three");
    }

    #[test]
    fn sanitize_bounds_values() {
        assert_eq!(sanitize("BAD_USER_INPUT"), "BAD_USER_INPUT");
        assert_eq!(sanitize("a\"b"), OTHER);
        assert_eq!(sanitize(&"x".repeat(65)), OTHER);
    }

    #[test]
    fn the_registry_renders() {
        METRICS
            .http_requests
            .get_or_create(&vec![
                ("bff", "unit".to_owned()),
                ("route", "/x".into()),
                ("status", "200".into()),
            ])
            .inc();
        let text = METRICS.render();
        assert!(text.contains(r#"bff_http_requests_total{bff="unit",route="/x",status="200"} 1"#));
    }
}
