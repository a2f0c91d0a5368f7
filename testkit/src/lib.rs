//! Integration-test harness shared by the BFF crates: starts the demo services and one BFF
//! in-process on port 0, and speaks real HTTP to them: GraphQL requests with or without a token,
//! the demo services' `/__stats` (exact downstream call counts) and `/__control` (latency and
//! faults at run time). Test-only: panics on setup failures, which is what a test wants.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;

use demo_services::{DemoConfig, DemoServices};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::config::BffConfig;
use shared::error::Service;
use shared::server::{Application, Bff};

pub use demo_services;
pub use shared::auth::{DEV_ADMIN_ID, DEV_CUSTOMER_ID, dev_admin_token, dev_customer_token};

/// A running set of demo services plus one BFF.
pub struct TestStack {
    pub demo: DemoServices,
    /// Base URL of the BFF, e.g. `http://127.0.0.1:41234`.
    pub bff_url: String,
    pub config: BffConfig,
    http: reqwest::Client,
}

/// A GraphQL response with its HTTP status.
#[derive(Debug, Clone)]
pub struct GqlResponse {
    pub status: u16,
    pub body: Value,
}

impl GqlResponse {
    /// `data`, or `Value::Null`.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The `errors` array (empty when none).
    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// The `extensions.code` of every error, in order.
    pub fn codes(&self) -> Vec<String> {
        self.errors()
            .iter()
            .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Panics with the body when the response carries errors.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            self.errors().is_empty() && self.status == 200,
            "unexpected errors (HTTP {}): {}",
            self.status,
            self.body
        );
        self.data()
    }
}

/// One route's counters from `/__stats`.
#[derive(Debug, Clone, Deserialize)]
pub struct RouteStats {
    pub route: String,
    pub requests: u64,
    pub ids: u64,
    pub max_ids: u64,
}

/// A service's `/__stats`.
#[derive(Debug, Clone, Deserialize)]
pub struct Stats {
    pub total: u64,
    pub max_in_flight: u64,
    pub routes: Vec<RouteStats>,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, u64>,
    /// The last `traceparent` values received, oldest first.
    #[serde(default)]
    pub traceparents: Vec<String>,
}

impl Stats {
    /// Requests to one route template, 0 when never called.
    pub fn requests(&self, route: &str) -> u64 {
        self.routes
            .iter()
            .find(|r| r.route == route)
            .map_or(0, |r| r.requests)
    }

    /// The route template → requests map, for exact comparisons.
    pub fn by_route(&self) -> std::collections::BTreeMap<String, u64> {
        self.routes
            .iter()
            .filter(|r| r.requests > 0)
            .map(|r| (r.route.clone(), r.requests))
            .collect()
    }
}

impl TestStack {
    /// Small demo data, a dev-mode BFF pointing at it.
    pub async fn start<B: Bff>() -> Self {
        Self::start_with::<B>(DemoConfig::small(), |_| {}).await
    }

    /// Demo data and BFF config of the test's choice.
    pub async fn start_with<B: Bff>(demo: DemoConfig, tweak: impl FnOnce(&mut BffConfig)) -> Self {
        let demo = DemoServices::start_local(demo)
            .await
            .expect("demo services start");
        let mut config = BffConfig::dev_for(B::NAME, SocketAddr::from(([127, 0, 0, 1], 0)));
        config.downstream.users_url = demo.users.url();
        config.downstream.orders_url = demo.orders.url();
        config.downstream.products_url = demo.products.url();
        tweak(&mut config);
        let router = B::router(&config).expect("router builds");
        let app = Application::bind(config.listen, router)
            .await
            .expect("bind");
        let bff_url = format!("http://{}", app.local_addr());
        app.spawn();
        Self {
            demo,
            bff_url,
            config,
            http: reqwest::Client::new(),
        }
    }

    /// Starts another BFF `B` on port 0 against this stack's demo services (a second replica, or
    /// another BFF), with `tweak` applied to a copy of this stack's config; returns its base URL.
    pub async fn start_replica<B: Bff>(&self, tweak: impl FnOnce(&mut BffConfig)) -> String {
        let mut config = self.config.clone();
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        tweak(&mut config);
        let router = B::router(&config).expect("router builds");
        let app = Application::bind(config.listen, router)
            .await
            .expect("bind");
        let url = format!("http://{}", app.local_addr());
        app.spawn();
        url
    }

    /// POSTs a raw GraphQL body (e.g. with `extensions.persistedQuery`) to the BFF at `url`.
    pub async fn post_at(&self, url: &str, body: Value, token: Option<&str>) -> GqlResponse {
        let mut request = self.http.post(format!("{url}/graphql")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("BFF answers");
        let status = response.status().as_u16();
        let body = response.json().await.expect("JSON body");
        GqlResponse { status, body }
    }

    /// The HTTP client tests use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs a GraphQL request to `/graphql`.
    pub async fn query(&self, query: &str, variables: Value, token: Option<&str>) -> GqlResponse {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.bff_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("BFF answers");
        let status = response.status().as_u16();
        let body = response.json().await.expect("JSON body");
        GqlResponse { status, body }
    }

    /// A query as the dev customer (user 2).
    pub async fn as_customer(&self, query: &str, variables: Value) -> GqlResponse {
        self.query(query, variables, Some(&dev_customer_token()))
            .await
    }

    /// A query as the dev admin (user 1).
    pub async fn as_admin(&self, query: &str, variables: Value) -> GqlResponse {
        self.query(query, variables, Some(&dev_admin_token())).await
    }

    fn service_url(&self, service: Service) -> String {
        match service {
            Service::Users => self.demo.users.url(),
            Service::Orders => self.demo.orders.url(),
            Service::Products => self.demo.products.url(),
        }
    }

    /// One service's `/__stats`.
    pub async fn stats(&self, service: Service) -> Stats {
        self.http
            .get(format!("{}/__stats", self.service_url(service)))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Total downstream calls across the three services.
    pub async fn total_calls(&self) -> u64 {
        let mut total = 0;
        for service in Service::ALL {
            total += self.stats(service).await.total;
        }
        total
    }

    /// Zeroes every service's counters.
    pub async fn reset_stats(&self) {
        for service in Service::ALL {
            let response = self
                .http
                .post(format!("{}/__stats/reset", self.service_url(service)))
                .send()
                .await
                .expect("reset stats");
            assert!(response.status().is_success());
        }
    }

    /// Sends a partial `/__control` update to one service (latency, faults).
    pub async fn control(&self, service: Service, patch: Value) {
        let response = self
            .http
            .post(format!("{}/__control", self.service_url(service)))
            .json(&patch)
            .send()
            .await
            .expect("control");
        assert!(response.status().is_success(), "control refused: {patch}");
    }

    /// Sets the same latency on every service.
    pub async fn latency_everywhere(&self, latency_ms: u64) {
        for service in Service::ALL {
            self.control(service, json!({ "latency_ms": latency_ms, "jitter_ms": 0 }))
                .await;
        }
    }
}
