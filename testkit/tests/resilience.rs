//! Resilience of a BFF (bff-mobile) against the demo services' fault injection, flipped
//! mid-test: partial results, deadlines, retries and the retry budget, circuit breakers,
//! stale-if-error, readiness, several instances per service, overload and graceful shutdown.
//! Behaviour is proven with the services' `/__stats` call counts; timings have wide margins.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bff_mobile::Mobile;
use serde_json::{Value, json};
use shared::config::BffConfig;
use shared::error::Service;
use shared::server::{Application, Bff};
use testkit::demo_services::DemoConfig;
use testkit::{TestStack, dev_customer_token};

const HOME: &str = "{ home { viewer { name } recentOrders { id } featuredProducts { id name } } }";
const FEATURED: &str = "GET /products/featured";

async fn start(tweak: impl FnOnce(&mut BffConfig)) -> TestStack {
    TestStack::start_with::<Mobile>(DemoConfig::small(), tweak).await
}

async fn home(stack: &TestStack) -> testkit::GqlResponse {
    stack.as_customer(HOME, json!({})).await
}

fn error_at<'a>(body: &'a Value, path: &[&str]) -> Option<&'a Value> {
    body["errors"].as_array()?.iter().find(|e| {
        e["path"].as_array().is_some_and(|p| {
            p.iter()
                .map(|s| s.as_str().unwrap_or(""))
                .eq(path.iter().copied())
        })
    })
}

async fn ready(stack: &TestStack) -> (u16, Value) {
    let response = stack
        .http()
        .get(format!("{}/ready", stack.bff_url))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn products_down_nulls_only_featured_products_or_serves_them_stale() {
    // Cold cache: featuredProducts is null with DOWNSTREAM_UNAVAILABLE at its path.
    let stack = start(|_| {}).await;
    stack
        .control(Service::Products, json!({ "down": true }))
        .await;
    let response = home(&stack).await;
    assert_eq!(response.status, 200);
    let home_data = &response.data()["home"];
    assert!(home_data["viewer"]["name"].is_string(), "{}", response.body);
    assert!(home_data["recentOrders"].is_array(), "{}", response.body);
    assert!(home_data["featuredProducts"].is_null(), "{}", response.body);
    let error = error_at(&response.body, &["home", "featuredProducts"]).expect("error at path");
    assert_eq!(error["extensions"]["code"], "DOWNSTREAM_UNAVAILABLE");
    assert_eq!(error["extensions"]["service"], "products");
    assert!(
        !error["message"].as_str().unwrap().contains("injected"),
        "downstream bodies never reach the client: {error}"
    );
    assert_eq!(response.errors().len(), 1, "{}", response.body);

    // Warm cache: the last good featured products are served, marked stale.
    stack
        .control(Service::Products, json!({ "down": false }))
        .await;
    let fresh = home(&stack).await;
    fresh.ok();
    assert!(
        fresh.body["extensions"]["stale"].is_null(),
        "{}",
        fresh.body
    );
    stack
        .control(Service::Products, json!({ "down": true }))
        .await;
    let stale = home(&stack).await;
    stale.ok();
    assert_eq!(
        stale.data()["home"]["featuredProducts"],
        fresh.data()["home"]["featuredProducts"]
    );
    assert_eq!(
        stale.body["extensions"]["stale"],
        json!([{ "service": "products" }]),
        "{}",
        stale.body
    );
}

#[tokio::test]
async fn a_slow_service_costs_at_most_the_deadline() {
    let deadline = Duration::from_secs(1);
    let stack = start(|c| c.resilience.request_deadline = Some(deadline)).await;
    stack
        .control(Service::Products, json!({ "latency_ms": 10_000 }))
        .await;
    let started = Instant::now();
    let response = home(&stack).await;
    let took = started.elapsed();
    println!("slow products: home answered in {took:?} (deadline {deadline:?})");
    assert!(took < deadline + Duration::from_millis(1500), "{took:?}");
    assert!(took >= deadline - Duration::from_millis(100), "{took:?}");
    assert_eq!(response.status, 200);
    let home_data = &response.data()["home"];
    assert!(home_data["viewer"]["name"].is_string(), "{}", response.body);
    assert!(home_data["recentOrders"].is_array(), "{}", response.body);
    assert!(home_data["featuredProducts"].is_null());
    let error = error_at(&response.body, &["home", "featuredProducts"]).expect("error at path");
    assert_eq!(error["extensions"]["code"], "DOWNSTREAM_TIMEOUT");
    assert_eq!(error["extensions"]["service"], "products");
    // The remaining budget travels downstream.
    let users = stack.stats(Service::Users).await;
    assert_eq!(
        users.headers.get("x-request-deadline-ms"),
        Some(&users.total)
    );
}

#[tokio::test]
async fn the_breaker_opens_stops_calls_and_closes_after_recovery() {
    let stack = start(|c| {
        c.resilience.breaker_min_calls = 5;
        c.resilience.breaker_cool_down = Duration::from_millis(1000);
        c.resilience.retry_max = 0;
    })
    .await;
    stack
        .control(Service::Products, json!({ "down": true }))
        .await;
    for _ in 0..5 {
        let r = home(&stack).await;
        assert_eq!(r.codes(), ["DOWNSTREAM_UNAVAILABLE"]);
    }
    assert_eq!(stack.stats(Service::Products).await.requests(FEATURED), 5);
    let (status, body) = ready(&stack).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["services"]["products"]["breaker"], "open");

    // Open: calls fail at once without reaching the service.
    for _ in 0..10 {
        let started = Instant::now();
        let r = home(&stack).await;
        assert_eq!(r.codes(), ["DOWNSTREAM_UNAVAILABLE"]);
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(r.data()["home"]["viewer"]["name"].is_string());
    }
    assert_eq!(stack.stats(Service::Products).await.requests(FEATURED), 5);

    // Recovery: after the cool-down one probe goes through and closes the breaker.
    stack
        .control(Service::Products, json!({ "down": false }))
        .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    home(&stack).await.ok();
    assert_eq!(stack.stats(Service::Products).await.requests(FEATURED), 6);
    for _ in 0..3 {
        home(&stack).await.ok();
    }
    assert_eq!(stack.stats(Service::Products).await.requests(FEATURED), 9);
    let (status, body) = ready(&stack).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"]["products"]["breaker"], "closed");
}

#[tokio::test]
async fn reads_are_retried_through_a_503_burst_and_writes_never() {
    let stack = start(|_| {}).await;
    stack
        .control(Service::Products, json!({ "fail_next": 2 }))
        .await;
    let response = home(&stack).await;
    response.ok();
    assert_eq!(stack.stats(Service::Products).await.requests(FEATURED), 3);

    stack
        .control(Service::Orders, json!({ "fail_next": 1 }))
        .await;
    let placed = stack
        .as_customer(
            r#"mutation { placeOrder(items: [{ productId: "1", quantity: 1 }]) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        placed.codes(),
        ["DOWNSTREAM_UNAVAILABLE"],
        "{}",
        placed.body
    );
    assert_eq!(
        stack.stats(Service::Orders).await.requests("POST /orders"),
        1
    );
}

#[tokio::test]
async fn retries_stay_within_the_budget() {
    let (ratio, burst, reads) = (0.2, 2u32, 30u64);
    let stack = start(|c| {
        c.resilience.retry_budget_ratio = ratio;
        c.resilience.retry_budget_burst = burst;
        c.resilience.breaker_min_calls = 1_000_000;
        c.resilience.retry_backoff_base = Duration::from_millis(1);
        c.resilience.retry_backoff_max = Duration::from_millis(2);
    })
    .await;
    stack
        .control(Service::Products, json!({ "error_rate": 1.0 }))
        .await;
    for _ in 0..reads {
        let r = home(&stack).await;
        assert_eq!(r.codes(), ["DOWNSTREAM_UNAVAILABLE"]);
    }
    let calls = stack.stats(Service::Products).await.requests(FEATURED);
    let bound = reads as f64 * (1.0 + ratio) + f64::from(burst);
    println!(
        "{reads} failing reads made {calls} calls (bound {bound}; 3 per read without a budget)"
    );
    assert!(calls > reads, "some retries happened: {calls}");
    assert!(calls as f64 <= bound, "{calls} > {bound}");
}

#[tokio::test]
async fn ready_flips_as_a_service_goes_down_and_up() {
    let proxy = Arc::new(Proxy::default());
    let p = proxy.clone();
    let stack = start(move |c| {
        c.resilience.ready_cache = Duration::from_millis(100);
        c.downstream.products_url = p.start(&c.downstream.products_url);
    })
    .await;
    let (status, body) = ready(&stack).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"]["products"]["up"], true);

    proxy.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = ready(&stack).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(body["services"]["products"]["up"], false);
    assert_eq!(body["services"]["users"]["up"], true);

    proxy.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = ready(&stack).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn calls_spread_over_instances_and_a_failing_one_is_ejected() {
    let (a, b) = (Arc::new(Proxy::default()), Arc::new(Proxy::default()));
    let (pa, pb) = (a.clone(), b.clone());
    let stack = start(move |c| {
        let target = c.downstream.products_url.clone();
        c.downstream.products_url = format!("{},{}", pa.start(&target), pb.start(&target));
        c.resilience.outlier_failures = 2;
    })
    .await;
    for _ in 0..20 {
        home(&stack).await.ok();
    }
    let (ca, cb) = (a.connections(), b.connections());
    assert!(ca > 0 && cb > 0, "both instances used: {ca} {cb}");

    a.down.store(true, Ordering::SeqCst);
    for _ in 0..20 {
        // Failures on `a` are retried (on `b`, once `a` is ejected).
        home(&stack).await.ok();
    }
    let (_, body) = ready(&stack).await;
    let instances = &body["services"]["products"]["instances"];
    assert_eq!(instances[0]["ejected"], true, "{body}");
    assert_eq!(instances[1]["ejected"], false, "{body}");
    let before = a.connections();
    for _ in 0..10 {
        home(&stack).await.ok();
    }
    assert_eq!(a.connections(), before, "no calls to the ejected instance");
}

#[tokio::test]
async fn requests_beyond_the_cap_are_refused_with_overloaded() {
    let stack = Arc::new(start(|c| c.resilience.max_concurrent_requests = 1).await);
    stack
        .control(Service::Products, json!({ "latency_ms": 1000 }))
        .await;
    let slow = {
        let stack = stack.clone();
        tokio::spawn(async move { home(&stack).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = home(&stack).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.codes(), ["OVERLOADED"]);
    slow.await.unwrap().ok();
    home(&stack).await; // a slot is free again
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let stack = start(|_| {}).await;
    stack
        .control(Service::Products, json!({ "latency_ms": 800 }))
        .await;
    let app = Application::bind(stack.config.listen, Mobile::router(&stack.config).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/graphql", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_with_shutdown(async move {
        let _ = stopped.await;
    }));
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(dev_customer_token())
            .json(&json!({ "query": HOME }))
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    let response = in_flight.await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["home"]["featuredProducts"].is_array());
    let served = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let stack = start(|_| {}).await;
    stack
        .control(Service::Products, json!({ "latency_ms": 10_000 }))
        .await;
    let app = Application::bind(stack.config.listen, Mobile::router(&stack.config).unwrap())
        .await
        .unwrap()
        .with_shutdown_grace(Duration::from_millis(300));
    let url = format!("http://{}/graphql", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_with_shutdown(async move {
        let _ = stopped.await;
    }));
    let _in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(dev_customer_token())
            .json(&json!({ "query": HOME }))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    let served = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

/// A TCP forwarder in front of one demo service; while `down`, it drops every connection, new
/// and open (a dead instance, as the BFF sees it, unlike `/__control`, which leaves `/health` up).
#[derive(Default)]
struct Proxy {
    down: AtomicBool,
    /// Connections attempted (accepted, whether forwarded or dropped).
    connections: AtomicU64,
}

impl Proxy {
    /// Starts forwarding to `target` (`http://host:port`); returns the proxy's own URL.
    fn start(self: &Arc<Self>, target: &str) -> String {
        let target = target.trim_start_matches("http://").to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let proxy = self.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                proxy.connections.fetch_add(1, Ordering::SeqCst);
                if proxy.down.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let watch = proxy.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let goes_down = async {
                        while !watch.down.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = goes_down => {}
                    }
                });
            }
        });
        url
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}
