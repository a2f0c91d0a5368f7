//! Scale-out against a real Redis (127.0.0.1:6379, or a private `redis-server` for the outage
//! test): two bff-web replicas sharing one set of demo services and one Redis. Each test uses its
//! own key prefix, so runs and tests never collide. Skipped (with a message) without Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bff_admin::Admin;
use bff_web::Web;
use serde_json::{Value, json};
use shared::config::{BffConfig, Secret};
use shared::edge::{EdgeConfig, Profile, RateLimit};
use shared::error::Service;
use testkit::demo_services::DemoConfig;
use testkit::{TestStack, dev_admin_token, dev_customer_token};

const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

fn redis_up(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test:{test}:{}:{nanos}:", std::process::id())
}

/// Points a config at Redis with the test's prefix. The timeout is wider than the 50 ms default:
/// CI machines are loaded, and a timed-out call would be a (correct) fallback but an unexpected
/// downstream call in the assertions.
fn with_redis(config: &mut BffConfig, url: &str, prefix: &str) {
    config.scale.redis_url = Some(Secret::new(url));
    config.scale.key_prefix = prefix.to_owned();
    config.scale.timeout = Duration::from_millis(250);
}

async fn two_web_replicas(
    test: &str,
    tweak: impl Fn(&mut BffConfig),
) -> Option<(TestStack, String)> {
    if !redis_up(6379) {
        eprintln!("SKIPPED: no Redis at 127.0.0.1:6379 (scripts/test.sh starts one)");
        return None;
    }
    let prefix = unique_prefix(test);
    let stack = TestStack::start_with::<Web>(DemoConfig::small(), |c| {
        with_redis(c, SHARED_REDIS, &prefix);
        tweak(c);
    })
    .await;
    let second = stack.start_replica::<Web>(|_| {}).await;
    Some((stack, second))
}

const PRODUCT_PRICE: &str = "query Price($id: ID!) { product(id: $id) { id price { amount } } }";

async fn price_at(stack: &TestStack, url: &str, id: u64) -> String {
    let response = stack
        .post_at(
            url,
            json!({ "query": PRODUCT_PRICE, "variables": { "id": id.to_string() } }),
            None,
        )
        .await;
    response.ok()["product"]["price"]["amount"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn an_apq_registered_on_one_replica_runs_on_the_other() {
    let Some((stack, second)) = two_web_replicas("apq", |_| {}).await else {
        return;
    };
    let query = "query ApqShared { product(id: \"1\") { id name } }";
    let hash = sha256_hex(query);
    let unknown = stack
        .post_at(&second, json!({ "extensions": persisted(&hash) }), None)
        .await;
    assert_eq!(unknown.codes(), ["PERSISTED_QUERY_NOT_FOUND"]);
    let registered = stack
        .post_at(
            &stack.bff_url,
            json!({ "query": query, "extensions": persisted(&hash) }),
            None,
        )
        .await;
    let expected = registered.ok().clone();
    let replayed = stack
        .post_at(&second, json!({ "extensions": persisted(&hash) }), None)
        .await;
    assert_eq!(replayed.ok(), &expected);
}

#[tokio::test]
async fn a_client_hitting_both_replicas_is_limited_in_total() {
    // 6 per minute, 6 at once: in the few seconds this takes, exactly 6 operations pass in
    // total (per-replica limits would let 12 through).
    let Some((stack, second)) = two_web_replicas("rate", |c| {
        c.edge.rate_limit = RateLimit {
            per_minute: 6,
            burst: 6,
        };
    })
    .await
    else {
        return;
    };
    let token = dev_customer_token();
    let (mut allowed, mut limited) = (0, 0);
    for i in 0..12 {
        let url = if i % 2 == 0 { &stack.bff_url } else { &second };
        let response = stack
            .post_at(url, json!({ "query": "{ __typename }" }), Some(&token))
            .await;
        if response.status == 429 {
            assert_eq!(response.codes(), ["RATE_LIMITED"]);
            limited += 1;
        } else {
            response.ok();
            allowed += 1;
        }
    }
    assert_eq!((allowed, limited), (6, 6));
}

#[tokio::test]
async fn a_cached_catalogue_read_costs_no_downstream_call_on_any_replica() {
    let Some((stack, second)) = two_web_replicas("cached", |_| {}).await else {
        return;
    };
    // Warm: products 1 and 2 read through replica 1 (one batched call) fill Redis.
    let two = "{ a: product(id: \"1\") { id price { amount } } b: product(id: \"2\") { id name } }";
    stack
        .post_at(&stack.bff_url, json!({ "query": two }), None)
        .await
        .ok();
    stack.reset_stats().await;
    for url in [&stack.bff_url, &second] {
        stack.post_at(url, json!({ "query": two }), None).await.ok();
    }
    assert_eq!(
        stack.stats(Service::Products).await.total,
        0,
        "cached reads are free"
    );
    // A batch with some ids cached fetches only the missing one, in one call.
    let three = "{ a: product(id: \"1\") { id } b: product(id: \"2\") { id } c: product(id: \"3\") { id } }";
    stack
        .post_at(&second, json!({ "query": three }), None)
        .await
        .ok();
    let stats = stack.stats(Service::Products).await;
    let by_ids = stats
        .routes
        .iter()
        .find(|r| r.route == "GET /products?ids")
        .unwrap();
    assert_eq!((by_ids.requests, by_ids.ids), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn an_admin_price_change_shows_on_both_replicas_within_a_second() {
    let Some((stack, second)) = two_web_replicas("invalidate", |_| {}).await else {
        return;
    };
    let admin = stack
        .start_replica::<Admin>(|c| {
            c.edge = EdgeConfig::for_profile(Profile::Admin, true);
        })
        .await;
    let before = price_at(&stack, &stack.bff_url, 4).await;
    assert_eq!(price_at(&stack, &second, 4).await, before);
    // Both replicas now hold product 4 (Redis and in process).
    stack.reset_stats().await;
    price_at(&stack, &second, 4).await;
    assert_eq!(stack.stats(Service::Products).await.total, 0);

    let new_cents: i64 = if before == "123.45" { 23456 } else { 12345 };
    let expected = format!("{}.{:02}", new_cents / 100, new_cents % 100);
    let mutation = "mutation($id: ID!, $cents: Int!) { updateProduct(id: $id, input: { priceCents: $cents }) { id } }";
    stack
        .post_at(
            &admin,
            json!({ "query": mutation, "variables": { "id": "4", "cents": new_cents } }),
            Some(&dev_admin_token()),
        )
        .await
        .ok();
    let changed = Instant::now();
    for url in [&stack.bff_url, &second] {
        loop {
            let price = price_at(&stack, url, 4).await;
            if price == expected {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "{url} still serves {price} a second after the change"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A private redis-server on a free port, killed and restarted by the test.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Option<Self> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        redis.spawn();
        Some(redis)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let started = Instant::now();
        while !redis_up(self.port) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn keys(&self, pattern: &str) -> Vec<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--scan", "--pattern", pattern])
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn metrics(stack: &TestStack, url: &str) -> String {
    stack
        .http()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn requests_survive_a_redis_outage_and_use_redis_again_after_it() {
    let Some(mut redis) = PrivateRedis::start() else {
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let prefix = unique_prefix("outage");
    let bff = "bff-web-outage";
    let stack = TestStack::start_with::<Web>(DemoConfig::small(), |c| {
        with_redis(c, &url, &prefix);
        c.observability.service_name = Some(bff.into());
        // Never reached here, but slow enough (100 ms per operation) that a client's GCRA key
        // lives long enough to be seen in Redis.
        c.edge.rate_limit = RateLimit {
            per_minute: 600,
            burst: 10_000,
        };
    })
    .await;
    let second = stack.start_replica::<Web>(|_| {}).await;
    let query = "query Outage { product(id: \"5\") { id price { amount } } }";
    let hash = sha256_hex(query);
    let apq = json!({ "query": query, "extensions": persisted(&hash) });
    let token = dev_customer_token();
    for url in [&stack.bff_url, &second] {
        stack.post_at(url, apq.clone(), Some(&token)).await.ok();
    }

    redis.kill();
    for i in 0..40 {
        let url = if i % 2 == 0 { &stack.bff_url } else { &second };
        stack.post_at(url, apq.clone(), Some(&token)).await.ok();
        stack
            .post_at(url, json!({ "extensions": persisted(&hash) }), Some(&token))
            .await
            .ok();
        price_at(&stack, url, 6 + (i % 3)).await;
    }
    let text = metrics(&stack, &stack.bff_url).await;
    assert!(
        text.contains(&format!("bff_redis_up{{bff=\"{bff}\"}} 0")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "bff_redis_fallbacks_total{{bff=\"{bff}\",store=\"catalogue\"}}"
        )),
        "{text}"
    );

    redis.spawn();
    let back = Instant::now();
    loop {
        for url in [&stack.bff_url, &second] {
            stack.post_at(url, apq.clone(), Some(&token)).await.ok();
            price_at(&stack, url, 9).await;
        }
        if metrics(&stack, &stack.bff_url)
            .await
            .contains(&format!("bff_redis_up{{bff=\"{bff}\"}} 1"))
        {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The fresh (empty) Redis fills again: catalogue, persisted queries and rate limits.
    stack
        .post_at(&stack.bff_url, apq.clone(), Some(&token))
        .await
        .ok();
    price_at(&stack, &stack.bff_url, 10).await;
    let keys = redis.keys(&format!("{prefix}*"));
    for wanted in ["product:10", &format!("apq:{hash}"), "rl:viewer:"] {
        assert!(
            keys.iter().any(|k| k.contains(wanted)),
            "{wanted} missing from {keys:?}"
        );
    }
    // And serves replica 2 without a downstream call.
    stack.reset_stats().await;
    price_at(&stack, &second, 10).await;
    assert_eq!(stack.stats(Service::Products).await.total, 0);
}
