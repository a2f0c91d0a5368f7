//! Observability end to end, against a small test-only schema served by the shared server (same
//! router, middleware, clients and loaders as the real BFFs): request id and trace context reach
//! every downstream call and come back to the client, `/metrics` shows operations, downstream
//! calls and their cost with bounded labels, and tokens never reach the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use serde_json::{Value, json};
use shared::config::BffConfig;
use shared::error::{BffError, Service};
use shared::graphiql::GraphiqlPage;
use shared::graphql::RequestContext;
use shared::server::Bff;
use testkit::demo_services::DemoConfig;
use testkit::{TestStack, dev_customer_token};

struct Query;

#[derive(SimpleObject)]
struct Person {
    id: i64,
    name: String,
}

#[Object]
impl Query {
    /// A user, through the batching loader.
    async fn user(&self, ctx: &Context<'_>, id: i64) -> async_graphql::Result<Option<Person>> {
        let user = ctx.downstream()?.user(id).await?;
        Ok(user.map(|u| Person {
            id: u.id,
            name: u.name,
        }))
    }

    /// A product's name, through the batching loader.
    async fn product_name(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> async_graphql::Result<Option<String>> {
        Ok(ctx.downstream()?.product(id).await?.map(|p| p.name))
    }

    /// An order's id, through the batching loader.
    async fn order_id(&self, ctx: &Context<'_>, id: i64) -> async_graphql::Result<Option<i64>> {
        Ok(ctx.downstream()?.order(id).await?.map(|o| o.id))
    }

    /// Always refused.
    async fn forbidden(&self) -> async_graphql::Result<i32> {
        Err(BffError::Forbidden("not for you").into())
    }
}

type TestSchema = Schema<Query, EmptyMutation, EmptySubscription>;

struct ObsBff;

impl Bff for ObsBff {
    const NAME: &'static str = "obs-test";
    const DEFAULT_PORT: u16 = 0;
    type Schema = TestSchema;

    fn schema(_: &BffConfig) -> TestSchema {
        Schema::build(Query, EmptyMutation, EmptySubscription).finish()
    }

    fn sdl() -> String {
        Self::schema(&BffConfig::dev(([127, 0, 0, 1], 0).into())).sdl()
    }

    fn graphiql(_: &BffConfig) -> GraphiqlPage {
        GraphiqlPage::new("obs-test", "{ __typename }", None)
    }
}

/// A stack whose metrics carry a `bff` label unique to the test.
async fn stack(bff: &str) -> TestStack {
    captured_logs();
    let bff = bff.to_owned();
    TestStack::start_with::<ObsBff>(DemoConfig::small(), move |config| {
        config.observability.service_name = Some(bff);
    })
    .await
}

async fn post(
    stack: &TestStack,
    body: Value,
    headers: &[(&str, &str)],
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = stack
        .http()
        .post(format!("{}/graphql", stack.bff_url))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

/// One sample of `/metrics`: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

async fn scrape(stack: &TestStack) -> Vec<Sample> {
    let response = stack
        .http()
        .get(format!("{}/metrics", stack.bff_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap();
                    (key.to_owned(), value.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

/// The value of the one series `name` with (at least) these labels; 0 when absent.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "several series match {name} {labels:?}: {matching:?}"
    );
    matching.first().map_or(0.0, |s| s.value)
}

const KNOWN: &str = "query ObsKnown { a: user(id: 1) { id name } b: user(id: 2) { id } c: user(id: 3) { id } productName(id: 5) orderId(id: 7) }";

#[tokio::test]
async fn request_id_and_traceparent_reach_every_downstream_call() {
    let stack = stack("obs-headers").await;
    stack.reset_stats().await;
    for _ in 0..3 {
        let response = stack.as_customer(KNOWN, json!({})).await;
        response.ok();
    }
    let mut total = 0;
    for service in Service::ALL {
        let stats = stack.stats(service).await;
        assert!(stats.total > 0, "{service} was not called");
        assert_eq!(
            stats.headers.get("traceparent"),
            Some(&stats.total),
            "{service}"
        );
        assert_eq!(
            stats.headers.get("x-request-id"),
            Some(&stats.total),
            "{service}"
        );
        total += stats.total;
    }
    // Batched: one call per service per request.
    assert_eq!(total, 9);
}

#[tokio::test]
async fn the_request_id_comes_back_in_the_header_and_in_errors() {
    let stack = stack("obs-ids").await;
    // A given sane id is echoed, in the header and in every error.
    let (status, headers, body) = post(
        &stack,
        json!({ "query": "query Refused { forbidden }" }),
        &[
            ("x-request-id", "client-id_1.2-3"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-request-id"], "client-id_1.2-3");
    let errors = body["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for error in errors {
        assert_eq!(
            error["extensions"]["requestId"], "client-id_1.2-3",
            "{body}"
        );
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{body}");
    }
    // No id, or an insane one: a fresh id is generated and returned.
    for given in [None, Some("not ok!"), Some(&*"x".repeat(129))] {
        let extra: Vec<(&str, &str)> = given.map(|g| ("x-request-id", g)).into_iter().collect();
        let (_, headers, body) = post(&stack, json!({ "query": "{ forbidden }" }), &extra).await;
        let id = headers["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(Some(id.as_str()), given);
        assert_eq!(body["errors"][0]["extensions"]["requestId"], id.as_str());
    }
    // Successful answers carry it too.
    let (_, headers, _) = post(
        &stack,
        json!({ "query": "{ __typename }" }),
        &[("x-request-id", "ok-1")],
    )
    .await;
    assert_eq!(headers["x-request-id"], "ok-1");
}

#[tokio::test]
async fn metrics_show_the_operation_its_downstream_calls_and_their_cost() {
    let stack = stack("obs-metrics").await;
    let before = scrape(&stack).await;
    let bff = ("bff", "obs-metrics");
    assert_eq!(
        value(
            &before,
            "bff_graphql_operations_total",
            &[bff, ("operation", "ObsKnown")]
        ),
        0.0
    );
    stack.as_customer(KNOWN, json!({})).await.ok();
    let (_, _, body) = post(
        &stack,
        json!({ "query": "query Refused { forbidden }" }),
        &[],
    )
    .await;
    assert!(body["errors"].is_array());

    let after = scrape(&stack).await;
    let op = [bff, ("operation", "ObsKnown")];
    assert_eq!(
        value(
            &after,
            "bff_graphql_operations_total",
            &[
                bff,
                ("operation", "ObsKnown"),
                ("type", "query"),
                ("outcome", "ok")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "bff_graphql_operation_duration_seconds_count",
            &[bff, ("operation", "ObsKnown"), ("outcome", "ok")]
        ),
        1.0
    );
    // Exactly three downstream calls: users (3 ids batched), products, orders.
    assert_eq!(
        value(&after, "bff_downstream_calls_per_operation_count", &op),
        1.0
    );
    assert_eq!(
        value(&after, "bff_downstream_calls_per_operation_sum", &op),
        3.0
    );
    for (service, route) in [
        ("users", "GET /users?ids"),
        ("products", "GET /products?ids"),
        ("orders", "GET /orders?ids"),
    ] {
        let labels = [bff, ("service", service), ("route", route)];
        let mut with_status = labels.to_vec();
        with_status.push(("status", "200"));
        assert_eq!(
            value(&after, "bff_downstream_requests_total", &with_status),
            1.0,
            "{route}"
        );
        assert_eq!(
            value(
                &after,
                "bff_downstream_request_duration_seconds_count",
                &labels
            ),
            1.0,
            "{route}"
        );
    }
    assert_eq!(
        value(
            &after,
            "bff_dataloader_batch_size_sum",
            &[bff, ("loader", "UsersById")]
        ),
        3.0
    );
    // The refused operation: outcome error, its code counted, no downstream call.
    assert_eq!(
        value(
            &after,
            "bff_graphql_operations_total",
            &[bff, ("operation", "Refused"), ("outcome", "error")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "bff_graphql_errors_total",
            &[bff, ("code", "FORBIDDEN")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "bff_downstream_calls_per_operation_sum",
            &[bff, ("operation", "Refused")]
        ),
        0.0
    );
    assert!(
        value(
            &after,
            "bff_http_requests_total",
            &[bff, ("route", "/graphql"), ("status", "200")]
        ) >= 2.0
    );
}

#[tokio::test]
async fn a_flood_of_operation_names_does_not_grow_series_without_bound() {
    let stack = stack("obs-flood").await;
    let names: Vec<String> = (0..500)
        .map(|i| format!("Flood{i}x{}", i * 7919 % 1000))
        .collect();
    for chunk in names.chunks(50) {
        let requests = chunk.iter().map(|name| {
            post(
                &stack,
                json!({ "query": format!("query {name} {{ __typename }}"), "operationName": name }),
                &[],
            )
        });
        for (status, _, _) in futures_util::future::join_all(requests).await {
            assert_eq!(status, 200);
        }
    }
    // Anonymous and unknown names collapse to one value.
    post(&stack, json!({ "query": "{ __typename }" }), &[]).await;
    post(&stack, json!({ "query": "query A { __typename } query B { __typename }", "operationName": "Nope" }), &[]).await;

    let samples = scrape(&stack).await;
    let operations: BTreeSet<&str> = samples
        .iter()
        .filter(|s| {
            s.name == "bff_graphql_operations_total"
                && s.labels.get("bff").map(String::as_str) == Some("obs-flood")
        })
        .map(|s| s.labels["operation"].as_str())
        .collect();
    assert_eq!(operations.len(), 202, "200 names + other + anonymous");
    assert!(operations.contains("other") && operations.contains("anonymous"));
    let other = value(
        &samples,
        "bff_graphql_operations_total",
        &[("bff", "obs-flood"), ("operation", "other")],
    );
    assert_eq!(other, 300.0);
}

/// A `MakeWriter` over a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The log of this whole test binary: one global subscriber (a thread-local one misses events
/// whose callsites other test threads registered first), installed by every test's first line.
fn captured_logs() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        captured
    })
}

#[tokio::test]
async fn tokens_and_cookies_never_reach_the_logs() {
    let captured = captured_logs();
    let stack = stack("obs-logs").await;
    let token = dev_customer_token();
    let bogus = "eyJhbGciOiJIUzI1NiJ9.bogus-token-payload.c2lnbmF0dXJlLXNlY3JldA";
    for (authorization, id) in [
        (format!("Bearer {token}"), "log-valid"),
        (format!("Bearer {bogus}"), "log-bogus"),
    ] {
        let (status, _, _) = post(
            &stack,
            json!({ "query": KNOWN, "variables": { "secretVar": "variable-value-42" } }),
            &[
                ("authorization", &authorization),
                ("cookie", "session=cookie-secret-99"),
                ("x-request-id", id),
            ],
        )
        .await;
        assert_eq!(status, 200);
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for secret in [
        token.as_str(),
        bogus,
        "bogus-token-payload",
        "cookie-secret-99",
        "variable-value-42",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
    for id in ["log-valid", "log-bogus"] {
        let access = logs
            .lines()
            .find(|line| line.contains("access") && line.contains(&format!("request_id={id}")))
            .unwrap_or_else(|| panic!("no access line for {id}:\n{logs}"));
        assert!(access.contains("operation=ObsKnown"), "{access}");
        assert!(access.contains("status=200"), "{access}");
        assert!(access.contains("downstream_calls="), "{access}");
    }
    // The spans are in the log too: the operation with its cost, each loader batch.
    assert!(logs.contains("graphql.operation"), "{logs}");
    assert!(logs.contains("dataloader.batch"), "{logs}");
}
