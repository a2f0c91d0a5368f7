//! OTLP trace export end to end, over real HTTP: bff-web exports to a fake collector (axum on
//! port 0 keeping every POSTed body), and a product page requested with a `traceparent` arrives
//! as one trace: `http.request` continuing the caller's span, `graphql.operation` under it, one
//! `downstream.call` per call the demo services counted, whose span ids are the parents those
//! services received, and `dataloader.batch` spans; no token or variable value in any attribute.
//! An unsampled incoming trace is not exported.
//!
//! The tracing subscriber is global to this test binary (its own process): it is installed once,
//! from a thread with no runtime so the exporter runs on a thread of its own and outlives each
//! test's runtime. Tests tell their spans apart by trace id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use bff_web::Web;
use serde_json::{Value, json};
use shared::config::Secret;
use shared::error::Service;
use shared::observability::ObservabilityConfig;
use testkit::{TestStack, dev_customer_token};

const PRODUCT_PAGE: &str = r#"
query ProductPage($id: ID!) {
  product(id: $id) {
    id name description
    price { formatted }
    reviews { averageRating count recent { id rating title author { name } } }
    related { id name ratingSummary { averageRating count } }
  }
}"#;

/// A variable the query does not use: its value must not be exported.
const SECRET_VARIABLE: &str = "variable-value-42";

/// What the fake collector received.
struct Collector {
    bodies: Arc<Mutex<Vec<Value>>>,
    /// Headers of the first export request.
    headers: Arc<Mutex<Option<HeaderMap>>>,
}

/// The fake collector, and the global subscriber exporting to it (both started once).
fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let headers = Arc::new(Mutex::new(None));
        let (bound, addr) = std::sync::mpsc::channel();
        let (kept, first) = (bodies.clone(), headers.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().route(
                    "/v1/traces",
                    post(
                        move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                            first.lock().unwrap().get_or_insert(headers);
                            kept.lock().unwrap().push(body);
                            axum::Json(json!({}))
                        },
                    ),
                );
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = addr.recv().unwrap();
        let mut config = ObservabilityConfig {
            // Logs quiet; the export does not depend on the log filter.
            log_filter: "warn".into(),
            otlp_endpoint: Some(format!("http://{addr}")),
            ..ObservabilityConfig::default()
        };
        config.otlp.flush_interval = Duration::from_millis(50);
        config.otlp.headers = vec![("x-collector-key".into(), Secret::new("k-123"))];
        std::thread::spawn(move || shared::telemetry::init_with(&config))
            .join()
            .unwrap();
        assert!(shared::observability::otlp::installed());
        Collector { bodies, headers }
    })
}

/// One exported span with the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    span: Value,
}

impl Exported {
    fn id(&self) -> &str {
        self.span["spanId"].as_str().unwrap()
    }
    fn parent(&self) -> &str {
        self.span["parentSpanId"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.span["name"].as_str().unwrap()
    }
    fn trace(&self) -> &str {
        self.span["traceId"].as_str().unwrap()
    }
    /// An attribute's value as text, whatever its type.
    fn attr(&self, key: &str) -> Option<String> {
        let value = self.span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)?["value"]
            .clone();
        let (_, inner) = value.as_object()?.iter().next()?;
        Some(match inner {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// Every span received so far.
fn received() -> Vec<Exported> {
    let bodies = collector().bodies.lock().unwrap().clone();
    let mut spans = Vec::new();
    for body in bodies {
        for resource in body["resourceSpans"].as_array().unwrap() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].as_str().unwrap().to_owned())
                .unwrap();
            for scope in resource["scopeSpans"].as_array().unwrap() {
                assert_eq!(scope["scope"]["name"], "bff");
                for span in scope["spans"].as_array().unwrap() {
                    spans.push(Exported {
                        service: service.clone(),
                        span: span.clone(),
                    });
                }
            }
        }
    }
    spans
}

/// Polls `probe` every 25 ms until it gives a value; panics after 10 s.
async fn eventually<T, F>(what: &str, mut probe: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen in 10 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the `http.request` span of `trace_id` arrives, and returns every span received.
/// That span closes last, and spans are exported in the order they close, so the whole trace is
/// in by then.
async fn wait_for_trace(trace_id: &str) -> Vec<Exported> {
    eventually(&format!("the export of trace {trace_id}"), || async {
        let spans = received();
        spans
            .iter()
            .any(|s| s.trace() == trace_id && s.name() == "http.request")
            .then_some(spans)
    })
    .await
}

/// A product with at least 5 reviews, from the demo dataset.
fn product_with_reviews(stack: &TestStack) -> i64 {
    let data = stack.demo.data.read().unwrap();
    data.products()
        .iter()
        .map(|p| p.id)
        .find(|&id| data.reviews(id).is_some_and(|r| r.len() >= 5))
        .expect("a product with reviews")
}

/// POSTs the product page as the dev customer with `traceparent`.
async fn product_page(stack: &TestStack, traceparent: &str) -> Value {
    let id = product_with_reviews(stack);
    let response = stack
        .http()
        .post(format!("{}/graphql", stack.bff_url))
        .bearer_auth(dev_customer_token())
        .header("traceparent", traceparent)
        .json(&json!({
            "query": PRODUCT_PAGE,
            "variables": { "id": id.to_string(), "secretVar": SECRET_VARIABLE },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    body
}

/// The `traceparent` values the demo services received since their last reset.
async fn downstream_traceparents(stack: &TestStack) -> Vec<String> {
    let mut all = Vec::new();
    for service in Service::ALL {
        all.extend(stack.stats(service).await.traceparents);
    }
    all
}

/// bff-web and the demo services, counters zeroed, with the export to the collector on.
async fn exporting_stack() -> TestStack {
    collector();
    let stack = TestStack::start::<Web>().await;
    stack.reset_stats().await;
    stack
}

#[tokio::test]
async fn a_product_page_is_exported_as_one_trace_whose_calls_parent_the_downstream_spans() {
    let stack = exporting_stack().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    product_page(&stack, &format!("00-{trace_id}-{caller}-01")).await;
    let calls = stack.total_calls().await;
    assert_eq!(calls, 5, "the product page costs five calls");

    let all = wait_for_trace(trace_id).await;
    let trace: Vec<&Exported> = all.iter().filter(|s| s.trace() == trace_id).collect();
    let ids: BTreeSet<&str> = trace.iter().map(|s| s.id()).collect();
    assert_eq!(ids.len(), trace.len(), "span ids are unique");
    // Every span whose parent is in this trace is in this trace too.
    for span in &all {
        if ids.contains(span.parent()) {
            assert_eq!(span.trace(), trace_id, "{span:#?}");
        }
    }
    let by_id: BTreeMap<&str, &Exported> = trace.iter().map(|s| (s.id(), *s)).collect();
    let named = |name: &str| -> Vec<&Exported> {
        trace.iter().filter(|s| s.name() == name).copied().collect()
    };
    let descends_from = |span: &Exported, ancestor: &str| {
        let mut parent = span.parent();
        while let Some(up) = by_id.get(parent) {
            if up.id() == ancestor {
                return true;
            }
            parent = up.parent();
        }
        false
    };

    let requests = named("http.request");
    assert_eq!(requests.len(), 1);
    let request = requests[0];
    assert_eq!(request.parent(), caller);
    assert_eq!(request.span["kind"], 2);
    assert_eq!(request.service, "bff-web");
    assert_eq!(request.attr("status").as_deref(), Some("200"));
    assert_eq!(request.attr("route").as_deref(), Some("/graphql"));

    let operations = named("graphql.operation");
    assert_eq!(operations.len(), 1);
    let operation = operations[0];
    assert_eq!(operation.parent(), request.id());
    assert_eq!(operation.span["kind"], 1);
    assert_eq!(operation.attr("operation").as_deref(), Some("ProductPage"));
    assert_eq!(operation.attr("operation_type").as_deref(), Some("query"));
    assert_eq!(operation.attr("outcome").as_deref(), Some("ok"));
    assert!(operation.attr("document_hash").is_some());

    let downstream = named("downstream.call");
    assert_eq!(downstream.len() as u64, calls, "one span per call counted");
    for call in &downstream {
        assert_eq!(call.span["kind"], 3, "{call:#?}");
        assert_eq!(call.span["status"]["code"], 0, "{call:#?}");
        assert!(descends_from(call, operation.id()), "{call:#?}");
        assert!(call.attr("service").is_some() && call.attr("route").is_some());
        assert_eq!(call.attr("status").as_deref(), Some("200"), "{call:#?}");
        assert_eq!(call.attr("attempt").as_deref(), Some("1"));
        assert!(call.attr("duration_ms").is_some());
        assert!(call.attr("ids").is_some() && call.attr("id_count").is_some());
    }
    let routes: BTreeSet<String> = downstream.iter().filter_map(|c| c.attr("route")).collect();
    assert!(routes.contains("GET /products?ids"), "{routes:?}");
    assert!(routes.contains("GET /users?ids"), "{routes:?}");

    let batches = named("dataloader.batch");
    assert!(!batches.is_empty());
    for batch in &batches {
        assert!(descends_from(batch, operation.id()), "{batch:#?}");
    }
    // The batched calls run inside their loader's batch.
    let products = downstream
        .iter()
        .find(|c| c.attr("route").as_deref() == Some("GET /products?ids"))
        .unwrap();
    assert_eq!(by_id[products.parent()].name(), "dataloader.batch");

    // Each downstream request names its own call span as the parent, in the same trace.
    let received = downstream_traceparents(&stack).await;
    assert_eq!(received.len() as u64, calls, "{received:?}");
    let parents: BTreeSet<String> = received
        .iter()
        .map(|tp| {
            let parts: Vec<&str> = tp.split('-').collect();
            assert_eq!(parts.len(), 4, "{tp}");
            assert_eq!(parts[1], trace_id, "{tp}");
            assert_eq!(parts[3], "01", "{tp}");
            parts[2].to_owned()
        })
        .collect();
    let call_ids: BTreeSet<String> = downstream.iter().map(|c| c.id().to_owned()).collect();
    assert_eq!(parents, call_ids);

    // No token and no variable value anywhere in what was exported.
    let token = dev_customer_token();
    let exported = serde_json::to_string(&*collector().bodies.lock().unwrap()).unwrap();
    assert!(!exported.contains(&token));
    assert!(!exported.contains(SECRET_VARIABLE));
    assert!(!exported.to_lowercase().contains("bearer"));

    // The collector got JSON with the configured header.
    let headers = collector().headers.lock().unwrap().clone().unwrap();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-collector-key"], "k-123");

    // And /metrics counts the exported spans.
    let metrics = eventually("the count of exported spans", || async {
        let response = stack.http().get(format!("{}/metrics", stack.bff_url));
        let metrics = response.send().await.unwrap().text().await.unwrap();
        metrics
            .contains(r#"bff_otlp_spans_exported_total{bff="bff-web"}"#)
            .then_some(metrics)
    })
    .await;
    assert!(
        !metrics.contains("bff_otlp_spans_dropped_total{"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_unsampled_trace_is_not_exported_and_stays_unsampled_downstream() {
    let stack = exporting_stack().await;
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    product_page(&stack, &format!("00-{unsampled}-b7ad6b7169203331-00")).await;
    let received = downstream_traceparents(&stack).await;
    assert_eq!(received.len(), 5);
    for tp in &received {
        assert!(
            tp.starts_with(&format!("00-{unsampled}-")) && tp.ends_with("-00"),
            "{tp}"
        );
    }
    // A sampled request after it: once its trace is in, the first would be too if exported.
    let sampled = "0af7651916cd43dd8448eb211c80319d";
    product_page(&stack, &format!("00-{sampled}-b7ad6b7169203331-01")).await;
    let all = wait_for_trace(sampled).await;
    assert!(
        all.iter().all(|s| s.trace() != unsampled),
        "an unsampled trace was exported"
    );
}
