//! Typed async clients for the users, orders and products services, over one pooled reqwest
//! client (keep-alive, connect and request timeouts from config). Each method is one downstream
//! call; batching and per-request caching live in [`crate::loaders`]. Contract errors are mapped to
//! [`DownstreamError`], returned inside [`crate::error::BffError`] so a resolver's `?` keeps the
//! stable code. Lists of more than 100 ids are split into concurrent calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use futures_util::future::try_join_all;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::DownstreamConfig;
use crate::error::{BffError, BffResult, DownstreamError, Service};
use crate::models::*;
use crate::resilience::{
    BreakerState, Readiness, Resilience, ResilienceConfig, ServicePolicy, StaleMarks, retry,
    split_urls,
};

/// The downstream clients; cheap to clone. The long-lived instance has an empty
/// [`RequestMeta`]; [`DownstreamClients::for_request`] makes a per-request copy whose calls carry
/// the request's identity and deadline. Every call goes through the service's resilience policies
/// ([`crate::resilience`]): deadline, circuit breaker, concurrency limit, instance balancing and,
/// for reads, retries within the retry budget.
#[derive(Clone)]
pub struct DownstreamClients {
    inner: Arc<Inner>,
    request: Arc<RequestMeta>,
    /// Services whose stale catalogue data this request served.
    stale: Arc<StaleMarks>,
}

/// What every downstream call of one GraphQL request carries.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Sent as `x-request-id`.
    pub request_id: Option<String>,
    /// The request's W3C trace context, sent as `traceparent` (with the call's own span as the
    /// parent when that span is recorded, see [`crate::observability::DownstreamCall`]).
    pub traceparent: Option<String>,
    /// When the request must have answered; each call gets at most what is left, and the
    /// remaining budget travels as `x-request-deadline-ms`.
    pub deadline: Option<std::time::Instant>,
}

impl RequestMeta {
    /// Adds the headers and timeout; `traceparent` (the call's own span as the parent, see
    /// [`crate::observability::DownstreamCall`]) replaces the request's when given.
    fn apply(
        &self,
        mut request: reqwest::RequestBuilder,
        call_timeout: std::time::Duration,
        traceparent: Option<&str>,
    ) -> reqwest::RequestBuilder {
        if let Some(id) = &self.request_id {
            request = request.header("x-request-id", id);
        }
        if let Some(traceparent) = traceparent.or(self.traceparent.as_deref()) {
            request = request.header("traceparent", traceparent);
        }
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            request = request
                .timeout(left.min(call_timeout))
                .header("x-request-deadline-ms", left.as_millis().to_string());
        }
        request
    }
}

struct Inner {
    http: reqwest::Client,
    /// Each call's own timeout, before the request's deadline shortens it.
    call_timeout: std::time::Duration,
    resilience: Resilience,
    /// The last `/ready` probe: when, and which instances answered.
    probed: Mutex<Option<(Instant, Vec<Vec<bool>>)>>,
    /// The shared (Redis) catalogue cache, when scaled out ([`crate::scale`]).
    catalogue: std::sync::OnceLock<Arc<crate::scale::SharedCatalogue>>,
}

/// Query parameters of a list call (`limit`, `after`, filters).
pub type Params<'a> = Vec<(&'a str, String)>;

/// A failed attempt, and whether a read may try again.
struct Failure {
    error: DownstreamError,
    retryable: bool,
}

impl Failure {
    fn fatal(error: DownstreamError) -> Self {
        Self {
            error,
            retryable: false,
        }
    }
}

impl DownstreamClients {
    /// Builds the pooled HTTP client from config, with the default resilience settings.
    pub fn new(config: &DownstreamConfig) -> Result<Self, reqwest::Error> {
        Self::with_resilience(config, &ResilienceConfig::default())
    }

    /// Builds the pooled HTTP client and the per-service policies from config. A service URL may
    /// list several instances, comma-separated.
    pub fn with_resilience(
        config: &DownstreamConfig,
        resilience: &ResilienceConfig,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .tcp_nodelay(true)
            // The services answer, they do not redirect; a 3xx is an error answer like any other.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let urls = |service| {
            split_urls(match service {
                Service::Users => &config.users_url,
                Service::Orders => &config.orders_url,
                Service::Products => &config.products_url,
            })
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                call_timeout: config.request_timeout,
                resilience: Resilience::new(resilience, urls),
                probed: Mutex::new(None),
                catalogue: std::sync::OnceLock::new(),
            }),
            request: Arc::default(),
            stale: Arc::default(),
        })
    }

    /// A copy whose calls carry `meta` (request id, trace context, deadline).
    pub fn for_request(&self, meta: RequestMeta) -> Self {
        Self {
            inner: self.inner.clone(),
            request: Arc::new(meta),
            stale: Arc::default(),
        }
    }

    /// Reads products, featured lists and review summaries through `catalogue`, and invalidates
    /// it on product updates (set once, at start-up; see [`crate::scale`]).
    pub fn with_catalogue(self, catalogue: Arc<crate::scale::SharedCatalogue>) -> Self {
        let _ = self.inner.catalogue.set(catalogue);
        self
    }

    /// The shared catalogue cache, if any.
    pub fn catalogue(&self) -> Option<&Arc<crate::scale::SharedCatalogue>> {
        self.inner.catalogue.get()
    }

    /// Base URL of a service (its first instance).
    pub fn base_url(&self, service: Service) -> &str {
        self.inner.resilience.policy(service).balancer.primary()
    }

    /// The request's deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.request.deadline
    }

    /// The resilience policies (breakers, budgets, balancers, stale cache).
    pub fn resilience(&self) -> &Resilience {
        &self.inner.resilience
    }

    /// Each service's circuit-breaker state.
    pub fn breaker_states(&self) -> Vec<(Service, BreakerState)> {
        self.inner.resilience.breaker_states()
    }

    /// The services whose stale (cached) data this request served, e.g. `["products"]`.
    pub fn stale_services(&self) -> Vec<&'static str> {
        self.stale.services()
    }

    /// One downstream call. `route` is the route template (e.g. `GET /users?ids`) used in logs
    /// and metrics, never the concrete path.
    async fn call<T: DeserializeOwned>(
        &self,
        service: Service,
        route: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> BffResult<T> {
        let bytes = self
            .call_with_retries(service, route, method, path, query, body)
            .await?;
        serde_json::from_slice(&bytes).map_err(|err| {
            DownstreamError::Decode {
                service,
                detail: err.to_string(),
            }
            .into()
        })
    }

    /// Attempts a call, retrying a read (GET) after a connect error, a timeout or a 502/503/504,
    /// with backoff, while attempts, the deadline and the service's retry budget allow.
    async fn call_with_retries(
        &self,
        service: Service,
        route: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<Bytes, DownstreamError> {
        let policy = self.inner.resilience.policy(service);
        let config = &self.inner.resilience.config;
        let idempotent = method == Method::GET;
        policy.budget.deposit();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let failure = match self
                .attempt(policy, route, &method, path, query, body, attempt)
                .await
            {
                Ok(bytes) => return Ok(bytes),
                Err(failure) => failure,
            };
            if !(idempotent && failure.retryable && attempt <= config.retry_max) {
                return Err(failure.error);
            }
            let wait = retry::backoff(attempt, config.retry_backoff_base, config.retry_backoff_max);
            if self
                .request
                .deadline
                .is_some_and(|deadline| Instant::now() + wait >= deadline)
            {
                return Err(failure.error);
            }
            if !policy.budget.try_withdraw() {
                tracing::debug!(service = service.as_str(), route, "retry budget spent");
                return Err(failure.error);
            }
            tracing::debug!(
                service = service.as_str(),
                route,
                attempt,
                ?wait,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: deadline left, breaker, concurrency slot, instance, HTTP exchange.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        policy: &ServicePolicy,
        route: &'static str,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(dyn ErasedBody + Sync)>,
        attempt: u32,
    ) -> Result<Bytes, Failure> {
        let service = policy.service;
        let left = self
            .request
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Err(Failure::fatal(DownstreamError::Timeout { service }));
        }
        let Some(permit) = policy.breaker.try_acquire() else {
            return Err(Failure::fatal(DownstreamError::Unavailable {
                service,
                detail: "circuit breaker open".into(),
            }));
        };
        let wait = left.map_or(self.inner.call_timeout, |left| {
            left.min(self.inner.call_timeout)
        });
        let _slot = match tokio::time::timeout(wait, policy.bulkhead.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => {
                return Err(Failure::fatal(DownstreamError::Unavailable {
                    service,
                    detail: "concurrency limit closed".into(),
                }));
            }
            Err(_) => {
                tracing::warn!(
                    service = service.as_str(),
                    route,
                    "no free call slot in time"
                );
                return Err(Failure::fatal(DownstreamError::Timeout { service }));
            }
        };
        let Some(picked) = policy.balancer.pick() else {
            return Err(Failure::fatal(DownstreamError::Unavailable {
                service,
                detail: "no instance configured".into(),
            }));
        };
        // The attempt's span; its id is the parent the downstream service sees.
        let call = crate::observability::DownstreamCall::start(
            service,
            route,
            method.as_str(),
            path,
            query,
            attempt,
            self.request.traceparent.as_deref(),
        );
        let started = Instant::now();
        let result = tracing::Instrument::instrument(
            self.send(
                picked.endpoint,
                method,
                path,
                query,
                body,
                call.traceparent(),
            ),
            call.span().clone(),
        )
        .await;
        let status: Option<u16> = result.as_ref().ok().map(|(status, _)| status.as_u16());
        let duration: Duration = started.elapsed();
        // observability hook: record(service, route, status, duration, attempt)
        let outcome = result
            .as_ref()
            .map_or_else(crate::observability::CallStatus::from, |_| status.into());
        call.finish(outcome, duration);
        crate::observability::record_downstream_call(service, route, outcome, duration, attempt);
        match result {
            Ok((status, bytes)) if status.is_success() => {
                permit.record(true);
                policy.balancer.record(picked.endpoint, true);
                Ok(bytes)
            }
            Ok((status, bytes)) => {
                let healthy = !status.is_server_error();
                permit.record(healthy);
                policy.balancer.record(picked.endpoint, healthy);
                if !healthy {
                    let head = &bytes[..bytes.len().min(512)];
                    tracing::warn!(
                        service = service.as_str(),
                        route,
                        status = status.as_u16(),
                        body = %String::from_utf8_lossy(head),
                        "downstream error answer"
                    );
                }
                Err(Failure {
                    error: status_error(service, status, &bytes),
                    retryable: retry::retryable_status(status.as_u16()),
                })
            }
            Err(err) => {
                permit.record(false);
                policy.balancer.record(picked.endpoint, false);
                tracing::warn!(service = service.as_str(), route, error = %err, "downstream call failed");
                Err(Failure {
                    // Connect errors, timeouts, and connections lost before an answer.
                    retryable: err.is_connect() || err.is_timeout() || err.is_request(),
                    error: transport_error(service, &err),
                })
            }
        }
    }

    /// The HTTP exchange of one attempt against one instance.
    async fn send(
        &self,
        base: &crate::resilience::balancer::Endpoint,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(dyn ErasedBody + Sync)>,
        traceparent: Option<&str>,
    ) -> Result<(StatusCode, Bytes), reqwest::Error> {
        // The instance's URL was parsed once; only the path and query change per call.
        let mut request = match &base.parsed {
            Some(parsed) => {
                let mut url = parsed.clone();
                match parsed.path() {
                    "" | "/" => url.set_path(path),
                    prefix => url.set_path(&format!("{}{path}", prefix.trim_end_matches('/'))),
                }
                if !query.is_empty() {
                    url.query_pairs_mut().extend_pairs(query);
                }
                self.inner.http.request(method.clone(), url)
            }
            None => {
                let request = self
                    .inner
                    .http
                    .request(method.clone(), format!("{}{path}", base.url));
                if query.is_empty() {
                    request
                } else {
                    request.query(query)
                }
            }
        };
        request = self
            .request
            .apply(request, self.inner.call_timeout, traceparent);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_json());
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.bytes().await?))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        route: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> BffResult<T> {
        self.call(service, route, Method::GET, path, query, None)
            .await
    }

    /// Stale-if-error for catalogue reads: stores each item of a successful answer under
    /// `key(item)`; when the call fails with the service unavailable or timing out (breaker open
    /// included) and every one of `keys` is cached, answers those values and marks the request.
    async fn stale_if_error<T: Serialize + DeserializeOwned>(
        &self,
        service: Service,
        keys: Vec<String>,
        key: impl Fn(&T) -> String,
        result: BffResult<Vec<T>>,
    ) -> BffResult<Vec<T>> {
        let cache = &self.inner.resilience.cache;
        if self.inner.resilience.config.stale_max_entries == 0 {
            return result;
        }
        match result {
            Ok(items) => {
                for item in &items {
                    let k = key(item);
                    if !cache.needs_refresh(&k) {
                        continue;
                    }
                    if let Ok(json) = serde_json::to_vec(item) {
                        cache.put(k, Arc::from(json)).await;
                    }
                }
                Ok(items)
            }
            Err(BffError::Downstream(
                err @ (DownstreamError::Unavailable { .. } | DownstreamError::Timeout { .. }),
            )) => {
                let mut items = Vec::with_capacity(keys.len());
                for k in &keys {
                    let cached = cache.get(k).await;
                    match cached.and_then(|json| serde_json::from_slice::<T>(&json).ok()) {
                        Some(item) => items.push(item),
                        None => return Err(err.into()),
                    }
                }
                tracing::info!(service = service.as_str(), error = %err, "serving stale catalogue data");
                self.stale.mark(service);
                Ok(items)
            }
            Err(err) => Err(err),
        }
    }

    /// Reachability of every service's instances (probed concurrently, result reused for the
    /// configured `/ready` cache time) with breaker states and ejections, for `/ready`.
    pub async fn readiness(&self) -> Readiness {
        let config = &self.inner.resilience.config;
        let cached = self
            .inner
            .probed
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .filter(|(at, _)| at.elapsed() < config.ready_cache)
            .map(|(_, up)| up);
        let up = match cached {
            Some(up) => up,
            None => {
                let probes = Service::ALL.map(|service| {
                    let urls: Vec<String> = self
                        .inner
                        .resilience
                        .policy(service)
                        .balancer
                        .endpoints()
                        .iter()
                        .map(|e| e.url.clone())
                        .collect();
                    async move {
                        futures_util::future::join_all(
                            urls.iter()
                                .map(|url| self.probe(url, config.ready_probe_timeout)),
                        )
                        .await
                    }
                });
                let up = futures_util::future::join_all(probes).await;
                if let Ok(mut probed) = self.inner.probed.lock() {
                    *probed = Some((Instant::now(), up.clone()));
                }
                up
            }
        };
        Readiness::new(&self.inner.resilience, &up)
    }

    async fn probe(&self, base: &str, timeout: Duration) -> bool {
        let request = self
            .inner
            .http
            .get(format!("{base}/health"))
            .timeout(timeout);
        matches!(request.send().await, Ok(r) if r.status().is_success())
    }

    /// GETs `path?{param}=ids` in chunks of at most 100 ids, concurrently, concatenating the results.
    async fn get_by_ids<T: DeserializeOwned>(
        &self,
        service: Service,
        route: &'static str,
        path: &str,
        param: &'static str,
        ids: &[Id],
    ) -> BffResult<Vec<T>> {
        let chunks = ids.chunks(MAX_IDS_PER_CALL).map(|chunk| async move {
            self.get::<Vec<T>>(service, route, path, &[(param, join_ids(chunk))])
                .await
        });
        Ok(try_join_all(chunks).await?.into_iter().flatten().collect())
    }

    // ---- users ----

    /// `GET /users/{id}`.
    pub async fn user(&self, id: Id) -> BffResult<User> {
        self.get(
            Service::Users,
            "GET /users/{id}",
            &format!("/users/{id}"),
            &[],
        )
        .await
    }

    /// `GET /users?ids=…`: the known users among `ids`.
    pub async fn users_by_ids(&self, ids: &[Id]) -> BffResult<Vec<User>> {
        self.get_by_ids(Service::Users, "GET /users?ids", "/users", "ids", ids)
            .await
    }

    /// `GET /users?q=&limit=&after=`.
    pub async fn search_users(
        &self,
        q: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> BffResult<Page<User>> {
        let mut query = page_params(limit, after);
        push_opt(&mut query, "q", q);
        self.get(Service::Users, "GET /users", "/users", &query)
            .await
    }

    /// `PATCH /users/{id}`.
    pub async fn update_user(&self, id: Id, patch: &UserPatch) -> BffResult<User> {
        self.call(
            Service::Users,
            "PATCH /users/{id}",
            Method::PATCH,
            &format!("/users/{id}"),
            &[],
            Some(patch),
        )
        .await
    }

    // ---- orders ----

    /// `GET /orders/{id}`.
    pub async fn order(&self, id: Id) -> BffResult<Order> {
        self.get(
            Service::Orders,
            "GET /orders/{id}",
            &format!("/orders/{id}"),
            &[],
        )
        .await
    }

    /// `GET /orders?ids=…`.
    pub async fn orders_by_ids(&self, ids: &[Id]) -> BffResult<Vec<Order>> {
        self.get_by_ids(Service::Orders, "GET /orders?ids", "/orders", "ids", ids)
            .await
    }

    /// `GET /orders?user_id=&limit=&after=`: one user's orders, newest first.
    pub async fn orders_of_user(
        &self,
        user_id: Id,
        limit: usize,
        after: Option<&str>,
    ) -> BffResult<Page<Order>> {
        let mut query = page_params(limit, after);
        query.push(("user_id", user_id.to_string()));
        self.get(Service::Orders, "GET /orders?user_id", "/orders", &query)
            .await
    }

    /// `GET /orders?user_ids=…&per_user=`: the newest `per_user` orders of each user.
    pub async fn recent_orders_of_users(
        &self,
        user_ids: &[Id],
        per_user: usize,
    ) -> BffResult<HashMap<Id, Vec<Order>>> {
        let chunks = user_ids.chunks(MAX_IDS_PER_CALL).map(|chunk| async move {
            self.get::<HashMap<String, Vec<Order>>>(
                Service::Orders,
                "GET /orders?user_ids",
                "/orders",
                &[
                    ("user_ids", join_ids(chunk)),
                    ("per_user", per_user.to_string()),
                ],
            )
            .await
        });
        let mut out = HashMap::with_capacity(user_ids.len());
        for map in try_join_all(chunks).await? {
            for (key, orders) in map {
                let id = key.parse().map_err(|_| DownstreamError::Decode {
                    service: Service::Orders,
                    detail: format!("user id key {key:?} is not an integer"),
                })?;
                out.insert(id, orders);
            }
        }
        Ok(out)
    }

    /// `GET /orders?status=&limit=&after=` (all orders when `status` is `None`), newest first.
    pub async fn orders_by_status(
        &self,
        status: Option<OrderStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> BffResult<Page<Order>> {
        let mut query = page_params(limit, after);
        push_opt(&mut query, "status", status.map(OrderStatus::as_str));
        self.get(Service::Orders, "GET /orders", "/orders", &query)
            .await
    }

    /// `GET /orders/stats`.
    pub async fn order_stats(&self) -> BffResult<OrderStats> {
        self.get(Service::Orders, "GET /orders/stats", "/orders/stats", &[])
            .await
    }

    /// `POST /orders`: the service prices the items and checks stock.
    pub async fn place_order(&self, order: &NewOrder) -> BffResult<Order> {
        self.call(
            Service::Orders,
            "POST /orders",
            Method::POST,
            "/orders",
            &[],
            Some(order),
        )
        .await
    }

    /// `PATCH /orders/{id}`: a status transition.
    pub async fn update_order_status(&self, id: Id, status: OrderStatus) -> BffResult<Order> {
        self.call(
            Service::Orders,
            "PATCH /orders/{id}",
            Method::PATCH,
            &format!("/orders/{id}"),
            &[],
            Some(&OrderPatch { status }),
        )
        .await
    }

    // ---- products ----

    /// `GET /products/{id}`.
    pub async fn product(&self, id: Id) -> BffResult<Product> {
        self.get(
            Service::Products,
            "GET /products/{id}",
            &format!("/products/{id}"),
            &[],
        )
        .await
    }

    /// `GET /products?ids=…`; stale-if-error (served from the catalogue cache when the service
    /// fails and every id is cached). Scaled out, only ids the shared cache lacks are fetched.
    pub async fn products_by_ids(&self, ids: &[Id]) -> BffResult<Vec<Product>> {
        match self.catalogue() {
            Some(cache) => {
                cache
                    .products(ids, |missing| async move {
                        self.products_by_ids_downstream(&missing).await
                    })
                    .await
            }
            None => self.products_by_ids_downstream(ids).await,
        }
    }

    async fn products_by_ids_downstream(&self, ids: &[Id]) -> BffResult<Vec<Product>> {
        let result = self
            .get_by_ids(
                Service::Products,
                "GET /products?ids",
                "/products",
                "ids",
                ids,
            )
            .await;
        let keys = ids.iter().map(|id| format!("product:{id}")).collect();
        self.stale_if_error(
            Service::Products,
            keys,
            |p: &Product| format!("product:{}", p.id),
            result,
        )
        .await
    }

    /// `GET /products?q=&category=&limit=&after=`.
    pub async fn search_products(
        &self,
        q: Option<&str>,
        category: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> BffResult<Page<Product>> {
        self.search_products_as(q, category, limit, after).await
    }

    /// `GET /products?q=&category=&limit=&after=`, its items read as `T`: a slim view (serde
    /// skips the fields `T` lacks, such as 1–3 KB descriptions) or
    /// `Box<serde_json::value::RawValue>` to decide which items to read in full.
    pub async fn search_products_as<T: DeserializeOwned>(
        &self,
        q: Option<&str>,
        category: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> BffResult<Page<T>> {
        let mut query = page_params(limit, after);
        push_opt(&mut query, "q", q);
        push_opt(&mut query, "category", category);
        self.get(Service::Products, "GET /products", "/products", &query)
            .await
    }

    /// `GET /products/featured?limit=`; stale-if-error; through the shared cache when scaled out.
    pub async fn featured_products(&self, limit: usize) -> BffResult<Vec<Product>> {
        match self.catalogue() {
            Some(cache) => {
                cache
                    .featured(
                        limit,
                        || self.featured_products_downstream(limit),
                        |missing| async move { self.products_by_ids_downstream(&missing).await },
                    )
                    .await
            }
            None => self.featured_products_downstream(limit).await,
        }
    }

    async fn featured_products_downstream(&self, limit: usize) -> BffResult<Vec<Product>> {
        let result = self
            .get::<Vec<Product>>(
                Service::Products,
                "GET /products/featured",
                "/products/featured",
                &[("limit", limit.to_string())],
            )
            .await
            .map(|items| vec![items]);
        let key = format!("featured:{limit}");
        let mut lists = self
            .stale_if_error(
                Service::Products,
                vec![key.clone()],
                |_| key.clone(),
                result,
            )
            .await?;
        Ok(lists.pop().unwrap_or_default())
    }

    /// `GET /products/{id}/reviews?limit=&after=`.
    pub async fn reviews(
        &self,
        product_id: Id,
        limit: usize,
        after: Option<&str>,
    ) -> BffResult<ReviewsPage> {
        self.get(
            Service::Products,
            "GET /products/{id}/reviews",
            &format!("/products/{product_id}/reviews"),
            &page_params(limit, after),
        )
        .await
    }

    /// `GET /reviews/summary?product_ids=…`; stale-if-error; through the shared cache when
    /// scaled out.
    pub async fn review_summaries(&self, product_ids: &[Id]) -> BffResult<Vec<ReviewSummary>> {
        match self.catalogue() {
            Some(cache) => {
                cache
                    .read_through(
                        "review_summary",
                        product_ids,
                        |s: &ReviewSummary| s.product_id,
                        |missing| async move { self.review_summaries_downstream(&missing).await },
                    )
                    .await
            }
            None => self.review_summaries_downstream(product_ids).await,
        }
    }

    async fn review_summaries_downstream(
        &self,
        product_ids: &[Id],
    ) -> BffResult<Vec<ReviewSummary>> {
        let result = self
            .get_by_ids(
                Service::Products,
                "GET /reviews/summary",
                "/reviews/summary",
                "product_ids",
                product_ids,
            )
            .await;
        let keys = product_ids
            .iter()
            .map(|id| format!("review_summary:{id}"))
            .collect();
        self.stale_if_error(
            Service::Products,
            keys,
            |s: &ReviewSummary| format!("review_summary:{}", s.product_id),
            result,
        )
        .await
    }

    /// `GET /products/{id}/related?limit=`, each product read as `T`: `Product`, or a slim view
    /// such as [`ProductListing`] (serde skips the fields `T` lacks, such as 1–3 KB descriptions).
    pub async fn related_products_as<T: DeserializeOwned>(
        &self,
        product_id: Id,
        limit: usize,
    ) -> BffResult<Vec<T>> {
        self.get(
            Service::Products,
            "GET /products/{id}/related",
            &format!("/products/{product_id}/related"),
            &[("limit", limit.to_string())],
        )
        .await
    }

    /// `PATCH /products/{id}`. Then every replica's caches drop the old product (the shared
    /// cache takes the updated one; see [`crate::scale::SharedCatalogue::product_updated`]).
    pub async fn update_product(&self, id: Id, patch: &ProductPatch) -> BffResult<Product> {
        let result = self
            .call(
                Service::Products,
                "PATCH /products/{id}",
                Method::PATCH,
                &format!("/products/{id}"),
                &[],
                Some(patch),
            )
            .await;
        match (&result, self.catalogue()) {
            (Ok(updated), Some(cache)) => cache.product_updated(id, Some(updated)).await,
            // The outcome is unknown (e.g. a timeout): drop the product everywhere.
            (Err(_), Some(cache)) => cache.product_updated(id, None).await,
            (_, None) => {
                self.inner
                    .resilience
                    .cache
                    .remove(&format!("product:{id}"))
                    .await
            }
        }
        result
    }

    /// `GET /health` of one service: whether it answers 200.
    pub async fn health(&self, service: Service) -> bool {
        let url = format!("{}/health", self.base_url(service));
        matches!(self.inner.http.get(url).send().await, Ok(r) if r.status().is_success())
    }
}

/// A JSON request body, object-safe.
trait ErasedBody {
    fn to_json(&self) -> Vec<u8>;
}

impl<T: Serialize> ErasedBody for T {
    fn to_json(&self) -> Vec<u8> {
        // Serialising the contract's own plain structs cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn join_ids(ids: &[Id]) -> String {
    let mut out = String::with_capacity(ids.len() * 6);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}

fn page_params(limit: usize, after: Option<&str>) -> Params<'static> {
    let mut query = vec![("limit", limit.to_string())];
    if let Some(after) = after {
        query.push(("after", after.to_owned()));
    }
    query
}

fn push_opt<'a>(query: &mut Params<'a>, name: &'a str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        query.push((name, value.to_owned()));
    }
}

fn transport_error(service: Service, err: &reqwest::Error) -> DownstreamError {
    if err.is_timeout() {
        DownstreamError::Timeout { service }
    } else {
        DownstreamError::Unavailable {
            service,
            detail: err.to_string(),
        }
    }
}

fn status_error(service: Service, status: StatusCode, body: &[u8]) -> DownstreamError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    match status.as_u16() {
        404 => DownstreamError::NotFound { service },
        code @ 400..=499 => {
            let detail = detail.unwrap_or(ErrorDetail {
                code: "bad_request".into(),
                message: "the request was refused".into(),
            });
            DownstreamError::Rejected {
                service,
                status: code,
                code: detail.code,
                message: detail.message,
            }
        }
        _ => DownstreamError::Unavailable {
            service,
            detail: match detail {
                Some(d) => format!("{status}: {} {}", d.code, d.message),
                None => status.to_string(),
            },
        },
    }
}
