//! The edge under attack, over real HTTP: body and operation limits, GraphQL-over-HTTP and CSRF
//! rules, JWT hardening and JWKS, rate limits, persisted queries, CORS and compression. A small
//! test-only schema is served through `shared::server::router` (the same machinery every BFF
//! uses), with peer addresses so per-address rate limits apply.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::config::BffConfig;
use shared::edge::{EdgeConfig, Profile};
use shared::graphql::RequestContext;

const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("fixtures/ec_private.pem");

#[derive(SimpleObject)]
struct Item {
    id: i32,
    children: Vec<Item>,
}

struct Query;

#[Object]
impl Query {
    /// Public data.
    async fn hello(&self) -> &str {
        "world"
    }
    /// The viewer's id (needs a viewer).
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(ctx.viewer()?.user_id)
    }
    /// Whether the viewer is an admin.
    async fn admin(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(ctx.admin().is_ok())
    }
    /// A list with a page size.
    async fn items(&self, first: Option<i32>) -> Vec<Item> {
        (0..first.unwrap_or(3).min(50))
            .map(|id| Item {
                id,
                children: Vec::new(),
            })
            .collect()
    }
}

struct Mutation;

#[Object]
impl Mutation {
    /// Changes something.
    async fn touch(&self) -> bool {
        true
    }
}

struct Server {
    url: String,
    http: reqwest::Client,
}

/// A production-mode (web profile) server around the test schema, rate limit off unless tweaked.
async fn serve(tweak: impl FnOnce(&mut BffConfig)) -> Server {
    let mut config = BffConfig::dev(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.dev_mode = false;
    config.edge = EdgeConfig::for_profile(Profile::Web, false);
    config.edge.rate_limit.per_minute = 0;
    tweak(&mut config);
    let schema = Schema::build(Query, Mutation, EmptySubscription).finish();
    let router = shared::server::router(&config, schema, None).expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Server {
        url,
        http: reqwest::Client::new(),
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> String {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

impl Server {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }
    async fn post(&self, body: Value, token: Option<&str>) -> Answer {
        let mut request = self.http.post(format!("{}/graphql", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }
    async fn query(&self, query: &str) -> Answer {
        self.post(json!({ "query": query }), None).await
    }
    async fn get(&self, params: &[(&str, &str)], token: Option<&str>) -> Answer {
        let mut request = self.http.get(format!("{}/graphql", self.url)).query(params);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }
}

// ---------------------------------------------------------------- body and batch

#[tokio::test]
async fn a_20_mib_body_is_refused_with_413_before_it_is_read() {
    let server = serve(|_| {}).await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let (status, written) = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let written = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&written);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_writer = Arc::clone(&stop);
        std::thread::spawn(move || {
            let chunk = vec![b' '; 64 * 1024];
            let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
            while counter.load(Ordering::SeqCst) < 20 << 20 && !stop_writer.load(Ordering::SeqCst) {
                if writer.write_all(&framed).is_err() {
                    return;
                }
                counter.fetch_add(64 * 1024, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let mut response = Vec::new();
        let mut buf = [0u8; 4096];
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
            }
        }
        let at = written.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        (String::from_utf8_lossy(&response).to_string(), at)
    })
    .await
    .unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(
        written < 20 << 20,
        "the whole body was sent before the answer: {written}"
    );
}

#[tokio::test]
async fn a_declared_oversized_body_and_batches_are_refused() {
    let server = serve(|_| {}).await;
    let big = json!({ "query": format!("{{ hello }} #{}", "x".repeat(200 * 1024)) });
    let answer = server.post(big, None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (413, "PAYLOAD_TOO_LARGE".into())
    );

    let two = json!([{ "query": "{ hello }" }, { "query": "{ hello }" }]);
    let answer = server.post(two.clone(), None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "BATCHING_DISABLED".into())
    );

    let server = serve(|c| {
        c.edge.max_batch = 10;
        c.edge.max_body_bytes = 1 << 20;
    })
    .await;
    let answer = server.post(two, None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body[1]["data"]["hello"], "world");
    let huge: Vec<Value> = (0..10_000)
        .map(|_| json!({ "query": "{ hello }" }))
        .collect();
    let answer = server.post(Value::Array(huge), None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "BATCH_TOO_LARGE".into())
    );
}

// ---------------------------------------------------------------- operation limits

#[tokio::test]
async fn operation_limit_attacks_are_refused_with_their_codes() {
    // Size limits raised so each attack meets its own limit rather than the token limit.
    let server = serve(|c| {
        c.edge.limits.max_tokens = 100_000;
        c.edge.limits.max_chars = 1_000_000;
        c.edge.max_body_bytes = 4 << 20;
        c.edge.introspection = shared::edge::IntrospectionPolicy::Enabled;
    })
    .await;
    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: hello"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let deep = format!(
        "{{ items {} id {} }}",
        "{ children ".repeat(12),
        "}".repeat(12)
    );
    let introspection = format!(
        "{{ __schema {{ types {} name {} }} }}",
        "{ fields { type { fields { type ".repeat(3),
        "} } } }".repeat(3)
    );
    let cases = [
        (deep, "QUERY_TOO_DEEP"),
        (introspection, "QUERY_TOO_DEEP"),
        (aliases(101), "TOO_MANY_ALIASES"),
        (aliases(1_000), "TOO_MANY_ALIASES"),
        (
            format!("{{ {} }}", "__typename ".repeat(500)),
            "TOO_MANY_ALIASES",
        ),
        (
            format!("{{ hello {} }}", "@include(if: true) ".repeat(1_000)),
            "TOO_MANY_DIRECTIVES",
        ),
        (
            "{ items(first: 100) { children(first: 100) { id } } }".into(),
            "QUERY_TOO_COMPLEX",
        ),
        ("{ items(first: 1000000) { id } }".into(), "BAD_USER_INPUT"),
        (
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }".into(),
            "FRAGMENT_CYCLE",
        ),
        ("{ items(first: ".into(), "GRAPHQL_PARSE_FAILED"),
    ];
    for (query, code) in cases {
        let answer = server.query(&query).await;
        assert_eq!(answer.code(), code, "{}", &query[..query.len().min(80)]);
        assert_eq!(answer.status, 400, "{code}");
        let message = answer.body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.len() < 120,
            "the message echoes the query: {message}"
        );
    }
    let server = serve(|c| c.edge.max_body_bytes = 4 << 20).await;
    let root = (0..16).map(|i| format!("r{i}: hello")).collect::<Vec<_>>();
    let answer = server.query(&format!("{{ {} }}", root.join(" "))).await;
    // 16 aliased root fields: the alias limit (30) is not reached, the root-field limit (15) is.
    assert_eq!(answer.code(), "TOO_MANY_ROOT_FIELDS");
    let answer = server.query(&aliases(1_000)).await;
    assert_eq!(answer.code(), "QUERY_TOO_LARGE");
    // A legit query passes.
    let answer = server.query("{ hello items(first: 20) { id } }").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn introspection_and_suggestions_are_off_in_production() {
    let server = serve(|_| {}).await;
    let answer = server.query("{ __schema { queryType { name } } }").await;
    assert!(answer.body["data"]["__schema"].is_null(), "{}", answer.body);
    let answer = server.query("{ helo }").await;
    let message = answer.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("helo") && !message.contains("Did you mean"),
        "{message}"
    );
    let dev = serve(|c| c.edge = EdgeConfig::for_profile(Profile::Web, true)).await;
    let answer = dev.query("{ __schema { queryType { name } } }").await;
    assert_eq!(
        answer.body["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
}

// ---------------------------------------------------------------- HTTP rules and CSRF

#[tokio::test]
async fn mutations_over_get_and_simple_cross_site_posts_are_refused() {
    let server = serve(|_| {}).await;
    let answer = server.get(&[("query", "mutation { touch }")], None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (405, "METHOD_NOT_ALLOWED".into())
    );
    let answer = server.get(&[("query", "{ hello }")], None).await;
    assert_eq!(answer.body["data"]["hello"], "world");
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let request = server
            .http
            .post(format!("{}/graphql", server.url))
            .header("content-type", content_type)
            .body(r#"{"query":"mutation { touch }"}"#);
        let answer = server.send(request).await;
        assert_eq!(
            (answer.status, answer.code()),
            (415, "UNSUPPORTED_MEDIA_TYPE".into()),
            "{content_type}"
        );
    }
    let answer = server
        .post(json!({ "query": "mutation { touch }" }), None)
        .await;
    assert_eq!(answer.body["data"]["touch"], true);
}

#[tokio::test]
async fn media_types_and_status_codes_follow_graphql_over_http() {
    let server = serve(|_| {}).await;
    let request = |accept: &str| {
        server
            .http
            .post(format!("{}/graphql", server.url))
            .header("accept", accept)
            .json(&json!({ "query": "{ nope }" }))
    };
    let answer = server
        .send(request("application/graphql-response+json"))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.header("content-type"),
        "application/graphql-response+json"
    );
    let answer = server.send(request("application/json")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "application/json");
}

#[tokio::test]
async fn cors_preflight_answers_as_configured_and_responses_are_compressed() {
    let server = serve(|c| c.edge.cors_origins = vec!["https://shop.example.com".into()]).await;
    let preflight = |origin: &str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", server.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
    };
    let answer = server.send(preflight("https://shop.example.com")).await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        "https://shop.example.com"
    );
    assert_eq!(answer.header("access-control-allow-credentials"), "true");
    let answer = server.send(preflight("https://evil.example.net")).await;
    assert_eq!(answer.header("access-control-allow-origin"), "");

    let request = server
        .http
        .post(format!("{}/graphql", server.url))
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": "{ items(first: 50) { id } }" }));
    let response = request.send().await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

// ---------------------------------------------------------------- JWT

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn hs(claims: Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(shared::auth::DEV_SECRET.as_bytes()),
        claims,
    )
}

/// A JWKS server that counts fetches and can be taken down.
struct Jwks {
    url: String,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

async fn jwks_server() -> Jwks {
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE).unwrap();
    let mut rsa_jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&rsa, Algorithm::RS256).unwrap();
    rsa_jwk.common.key_id = Some("rsa-1".into());
    let mut ec_jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&ec, Algorithm::ES256).unwrap();
    ec_jwk.common.key_id = Some("ec-1".into());
    let set = json!({ "keys": [rsa_jwk, ec_jwk] });
    let fetches = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let (f, d) = (Arc::clone(&fetches), Arc::clone(&down));
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (f, d, set) = (Arc::clone(&f), Arc::clone(&d), set.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                if d.load(Ordering::SeqCst) {
                    Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                } else {
                    Ok(axum::Json(set))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Jwks { url, fetches, down }
}

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "role": "customer", "exp": now() + 600, "iss": "https://idp.example", "aud": "bff-web" })
}

async fn jwt_server(jwks: &Jwks, cooldown: Duration) -> Server {
    let url = jwks.url.clone();
    serve(move |c| {
        c.edge.jwt.jwks_url = Some(url);
        c.edge.jwt.jwks_cooldown = cooldown;
        c.edge.jwt.issuer = Some("https://idp.example".into());
        c.edge.jwt.audience = Some("bff-web".into());
    })
    .await
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_unauthenticated_with_401() {
    let jwks = jwks_server().await;
    let server = jwt_server(&jwks, Duration::from_secs(30)).await;
    let me = json!({ "query": "{ me }" });
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims("2"))
    );
    let confused = sign(
        Algorithm::HS256,
        Some("rsa-1"),
        &EncodingKey::from_secret(RSA_PUBLIC),
        claims("2"),
    );
    let mut expired = claims("2");
    expired["exp"] = json!(now() - 120);
    let mut string_exp = claims("2");
    string_exp["exp"] = json!((now() + 600).to_string());
    let mut string_nbf = claims("2");
    string_nbf["nbf"] = json!(now().to_string());
    let mut future_nbf = claims("2");
    future_nbf["nbf"] = json!(now() + 600);
    let mut wrong_iss = claims("2");
    wrong_iss["iss"] = json!("https://evil.example");
    let mut wrong_aud = claims("2");
    wrong_aud["aud"] = json!("bff-admin");
    let tokens = [
        ("alg none", none),
        ("HS256 with the RSA public key", confused),
        ("expired", hs(expired)),
        ("exp as a string", hs(string_exp)),
        ("nbf as a string", hs(string_nbf)),
        ("nbf in the future", hs(future_nbf)),
        ("wrong iss", hs(wrong_iss)),
        ("wrong aud", hs(wrong_aud)),
        ("garbage", "a.b.c".into()),
    ];
    for (what, token) in tokens {
        let answer = server.post(me.clone(), Some(&token)).await;
        assert_eq!(answer.code(), "UNAUTHENTICATED", "{what}: {}", answer.body);
        assert_eq!(answer.status, 401, "{what}");
    }
    // Valid tokens: HS256, RS256 and ES256 from the JWKS, role claim → admin.
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE).unwrap();
    let mut admin = claims("1");
    admin["role"] = json!("admin");
    for token in [
        hs(claims("2")),
        sign(Algorithm::RS256, Some("rsa-1"), &rsa, claims("2")),
        sign(Algorithm::ES256, Some("ec-1"), &ec, claims("2")),
    ] {
        let answer = server.post(me.clone(), Some(&token)).await;
        assert_eq!(answer.body["data"]["me"], 2, "{}", answer.body);
    }
    let token = sign(Algorithm::RS256, Some("rsa-1"), &rsa, admin);
    let answer = server
        .post(json!({ "query": "{ admin }" }), Some(&token))
        .await;
    assert_eq!(answer.body["data"]["admin"], true);
    // ES256 signature under the RSA key's kid: the algorithm is pinned to the key's family.
    let answer = server
        .post(
            me.clone(),
            Some(&sign(Algorithm::ES256, Some("rsa-1"), &ec, claims("2"))),
        )
        .await;
    assert_eq!(answer.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_jwks_once_and_random_kids_stay_throttled() {
    let jwks = jwks_server().await;
    let server = Arc::new(jwt_server(&jwks, Duration::from_secs(30)).await);
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    let token = sign(Algorithm::RS256, Some("rsa-1"), &rsa, claims("2"));
    let calls = (0..20).map(|_| {
        let (server, token) = (Arc::clone(&server), token.clone());
        async move {
            server
                .post(json!({ "query": "{ me }" }), Some(&token))
                .await
        }
    });
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer.body["data"]["me"], 2, "{}", answer.body);
    }
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    let flood = (0..50).map(|i| {
        let server = Arc::clone(&server);
        let token = sign(
            Algorithm::RS256,
            Some(&format!("random-{i}")),
            &rsa,
            claims("2"),
        );
        async move {
            server
                .post(json!({ "query": "{ me }" }), Some(&token))
                .await
        }
    });
    for answer in futures_util::future::join_all(flood).await {
        assert_eq!(answer.code(), "UNAUTHENTICATED");
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "random kids refetched"
    );
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_is_down() {
    let jwks = jwks_server().await;
    let server = jwt_server(&jwks, Duration::ZERO).await;
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    let token = sign(Algorithm::RS256, Some("rsa-1"), &rsa, claims("2"));
    let me = json!({ "query": "{ me }" });
    assert_eq!(
        server.post(me.clone(), Some(&token)).await.body["data"]["me"],
        2
    );
    jwks.down.store(true, Ordering::SeqCst);
    let unknown = sign(Algorithm::RS256, Some("rotated"), &rsa, claims("2"));
    assert_eq!(
        server.post(me.clone(), Some(&unknown)).await.code(),
        "UNAUTHENTICATED"
    );
    assert!(
        jwks.fetches.load(Ordering::SeqCst) >= 2,
        "the unknown kid tried a refresh"
    );
    assert_eq!(server.post(me, Some(&token)).await.body["data"]["me"], 2);
}

// ---------------------------------------------------------------- rate limits

#[tokio::test]
async fn the_rate_limit_holds_per_viewer_and_per_address_and_ignores_spoofed_headers() {
    let server = serve(|c| {
        c.edge.rate_limit.per_minute = 6;
        c.edge.rate_limit.burst = 3;
    })
    .await;
    let spoofed = |ip: &str| {
        server
            .http
            .post(format!("{}/graphql", server.url))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": "{ hello }" }))
    };
    for i in 0..3 {
        let answer = server.send(spoofed(&format!("10.0.0.{i}"))).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let answer = server.send(spoofed("10.0.0.99")).await;
    assert_eq!((answer.status, answer.code()), (429, "RATE_LIMITED".into()));
    let retry: u64 = answer.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // A signed-in viewer has an own bucket, then is limited too; another viewer is not.
    let customer = hs(json!({ "sub": "2", "role": "customer", "exp": now() + 600 }));
    for _ in 0..3 {
        assert_eq!(
            server
                .post(json!({ "query": "{ me }" }), Some(&customer))
                .await
                .status,
            200
        );
    }
    let answer = server
        .post(json!({ "query": "{ me }" }), Some(&customer))
        .await;
    assert_eq!(answer.status, 429);
    let other = hs(json!({ "sub": "3", "role": "customer", "exp": now() + 600 }));
    assert_eq!(
        server
            .post(json!({ "query": "{ me }" }), Some(&other))
            .await
            .status,
        200
    );

    // Behind a trusted proxy, X-Forwarded-For names the client.
    let proxied = serve(|c| {
        c.edge.rate_limit.per_minute = 6;
        c.edge.rate_limit.burst = 1;
        c.edge.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let forwarded = |ip: &str| {
        proxied
            .http
            .post(format!("{}/graphql", proxied.url))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": "{ hello }" }))
    };
    for i in 0..3 {
        assert_eq!(
            proxied.send(forwarded(&format!("10.0.0.{i}"))).await.status,
            200
        );
    }
    assert_eq!(proxied.send(forwarded("10.0.0.1")).await.status, 429);
}

#[tokio::test]
async fn a_batch_costs_as_many_operations_as_it_carries() {
    let server = serve(|c| {
        c.edge.rate_limit.per_minute = 6;
        c.edge.rate_limit.burst = 3;
        c.edge.max_batch = 10;
    })
    .await;
    let batch: Vec<Value> = (0..4).map(|_| json!({ "query": "{ hello }" })).collect();
    let answer = server.post(Value::Array(batch), None).await;
    assert_eq!(answer.status, 429);
}

// ---------------------------------------------------------------- persisted queries

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn automatic_persisted_queries_round_trip_and_cache_publicly() {
    let server = serve(|_| {}).await;
    let query = "{ hello }";
    let hash = sha256(query);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let answer = server.post(json!({ "extensions": ext }), None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (200, "PERSISTED_QUERY_NOT_FOUND".into())
    );
    let answer = server
        .post(json!({ "query": query, "extensions": ext }), None)
        .await;
    assert_eq!(answer.body["data"]["hello"], "world");
    let answer = server.post(json!({ "extensions": ext }), None).await;
    assert_eq!(answer.body["data"]["hello"], "world");
    // A GET of the hash: public data is cacheable, a viewer's answer is not.
    let ext_text = ext.to_string();
    let answer = server.get(&[("extensions", &ext_text)], None).await;
    assert_eq!(answer.body["data"]["hello"], "world");
    assert_eq!(answer.header("cache-control"), "public, max-age=60");
    let token = hs(json!({ "sub": "2", "role": "customer", "exp": now() + 600 }));
    let answer = server.get(&[("extensions", &ext_text)], Some(&token)).await;
    assert_eq!(answer.header("cache-control"), "private, no-store");
    // A hash that is not the query's.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256("{ me }") } });
    let answer = server
        .post(json!({ "query": query, "extensions": wrong }), None)
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "PERSISTED_QUERY_HASH_MISMATCH".into())
    );
}

#[tokio::test]
async fn safelist_mode_refuses_documents_outside_the_manifest() {
    let trusted = "query Hello { hello }";
    let dir = std::env::temp_dir().join(format!("edge-safelist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, json!({ sha256(trusted): trusted }).to_string()).unwrap();
    let server = serve(|c| {
        c.edge.trusted_documents = Some(manifest.clone());
        c.edge.safelist = true;
    })
    .await;
    let answer = server.query("{ hello }").await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "PERSISTED_QUERY_NOT_ALLOWED".into())
    );
    let answer = server.query(trusted).await;
    assert_eq!(answer.body["data"]["hello"], "world");
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(trusted) } });
    let answer = server.post(json!({ "extensions": ext }), None).await;
    assert_eq!(answer.body["data"]["hello"], "world");
}

#[tokio::test]
async fn the_admin_profile_requires_a_viewer_for_every_operation() {
    let server = serve(|c| c.edge = EdgeConfig::for_profile(Profile::Admin, false)).await;
    let answer = server.query("{ hello }").await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "UNAUTHENTICATED".into())
    );
    let token = hs(json!({ "sub": "1", "role": "admin", "exp": now() + 600 }));
    let answer = server
        .post(json!({ "query": "{ hello }" }), Some(&token))
        .await;
    assert_eq!(answer.body["data"]["hello"], "world");
}

// ---------------------------------------------------------------- the BFFs' own operations

/// The smallest limit (found by bisection) at which `query` passes, with everything else open.
fn needed(query: &str, set: impl Fn(&mut shared::edge::OperationLimits, u64)) -> u64 {
    let open = shared::edge::OperationLimits {
        max_chars: usize::MAX,
        max_tokens: usize::MAX,
        max_depth: usize::MAX,
        max_aliases: usize::MAX,
        max_root_fields: usize::MAX,
        max_directives: usize::MAX,
        max_complexity: u64::MAX,
        max_page_size: u64::MAX,
    };
    let passes = |n: u64| {
        let mut limits = open.clone();
        set(&mut limits, n);
        shared::edge::limits::check(query, None, &Default::default(), &limits).is_ok()
    };
    let (mut lo, mut hi) = (0u64, 1u64 << 20);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if passes(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

fn example_operations_pass<B: shared::server::Bff>() {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = BffConfig::dev_for(B::NAME, listen);
    let query = B::graphiql(&config).default_query;
    let limits = EdgeConfig::for_profile(Profile::from_bff_name(B::NAME), false).limits;
    let depth = needed(&query, |l, n| l.max_depth = n as usize);
    let cost = needed(&query, |l, n| l.max_complexity = n);
    let aliases = needed(&query, |l, n| l.max_aliases = n as usize);
    let tokens = shared::edge::limits::count_tokens(&query, usize::MAX);
    eprintln!(
        "{}: depth {depth}, cost {cost}, aliases {aliases}, tokens {tokens}, chars {}",
        B::NAME,
        query.len()
    );
    let checked = shared::edge::limits::check(&query, None, &Default::default(), &limits);
    assert!(checked.is_ok(), "{}: {:?}", B::NAME, checked.err());
}

#[test]
fn the_example_operations_of_every_bff_pass_their_profile() {
    example_operations_pass::<bff_mobile::Mobile>();
    example_operations_pass::<bff_web::Web>();
    example_operations_pass::<bff_admin::Admin>();
}

/// graphql-js 16's `getIntrospectionQuery({ descriptions, specifiedByUrl, directiveIsRepeatable,
/// inputValueDeprecation })`, which GraphiQL sends to load the Docs panel.
const GRAPHIQL_INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

#[test]
fn graphiql_introspection_passes_the_admin_profile() {
    let limits = EdgeConfig::for_profile(Profile::Admin, false).limits;
    let depth = needed(GRAPHIQL_INTROSPECTION, |l, n| l.max_depth = n as usize);
    let checked =
        shared::edge::limits::check(GRAPHIQL_INTROSPECTION, None, &Default::default(), &limits);
    assert!(checked.is_ok(), "needs depth {depth}: {:?}", checked.err());
}
