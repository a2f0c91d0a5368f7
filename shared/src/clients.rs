//! Typed async clients for the users, orders and products services, over one pooled reqwest
//! client (keep-alive, connect and request timeouts from config). Each method is one downstream
//! call; batching and per-request caching live in [`crate::loaders`]. Contract errors are mapped to
//! [`DownstreamError`], returned inside [`crate::error::BffError`] so a resolver's `?` keeps the
//! stable code. Lists of more than 100 ids are split into concurrent calls.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::try_join_all;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::DownstreamConfig;
use crate::error::{BffResult, DownstreamError, Service};
use crate::models::*;

/// The downstream clients; cheap to clone. The long-lived instance has an empty
/// [`RequestMeta`]; [`DownstreamClients::for_request`] makes a per-request copy whose calls carry
/// the request's identity and deadline.
#[derive(Clone)]
pub struct DownstreamClients {
    inner: Arc<Inner>,
    request: Arc<RequestMeta>,
}

/// What every downstream call of one GraphQL request carries.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Sent as `x-request-id`.
    pub request_id: Option<String>,
    /// W3C trace context, sent as `traceparent`.
    pub traceparent: Option<String>,
    /// When the request must have answered; each call gets at most what is left, and the
    /// remaining budget travels as `x-request-deadline-ms`.
    pub deadline: Option<std::time::Instant>,
}

impl RequestMeta {
    fn apply(
        &self,
        mut request: reqwest::RequestBuilder,
        call_timeout: std::time::Duration,
    ) -> reqwest::RequestBuilder {
        if let Some(id) = &self.request_id {
            request = request.header("x-request-id", id);
        }
        if let Some(traceparent) = &self.traceparent {
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
    users: String,
    orders: String,
    products: String,
    /// Each call's own timeout, before the request's deadline shortens it.
    call_timeout: std::time::Duration,
}

/// Query parameters of a list call (`limit`, `after`, filters).
pub type Params<'a> = Vec<(&'a str, String)>;

impl DownstreamClients {
    /// Builds the pooled HTTP client from config.
    pub fn new(config: &DownstreamConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                users: config.users_url.clone(),
                orders: config.orders_url.clone(),
                products: config.products_url.clone(),
                call_timeout: config.request_timeout,
            }),
            request: Arc::default(),
        })
    }

    /// A copy whose calls carry `meta` (request id, trace context, deadline).
    pub fn for_request(&self, meta: RequestMeta) -> Self {
        Self {
            inner: self.inner.clone(),
            request: Arc::new(meta),
        }
    }

    /// Base URL of a service.
    pub fn base_url(&self, service: Service) -> &str {
        match service {
            Service::Users => &self.inner.users,
            Service::Orders => &self.inner.orders,
            Service::Products => &self.inner.products,
        }
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
        let _ = route;
        let url = format!("{}{}", self.base_url(service), path);
        let mut request = self.inner.http.request(method, url);
        request = self.request.apply(request, self.inner.call_timeout);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_json());
        }
        let response = request
            .send()
            .await
            .map_err(|err| transport_error(service, &err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| transport_error(service, &err))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|err| {
                DownstreamError::Decode {
                    service,
                    detail: err.to_string(),
                }
                .into()
            });
        }
        Err(status_error(service, status, &bytes).into())
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

    /// `GET /products?ids=…`.
    pub async fn products_by_ids(&self, ids: &[Id]) -> BffResult<Vec<Product>> {
        self.get_by_ids(
            Service::Products,
            "GET /products?ids",
            "/products",
            "ids",
            ids,
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
        let mut query = page_params(limit, after);
        push_opt(&mut query, "q", q);
        push_opt(&mut query, "category", category);
        self.get(Service::Products, "GET /products", "/products", &query)
            .await
    }

    /// `GET /products/featured?limit=`.
    pub async fn featured_products(&self, limit: usize) -> BffResult<Vec<Product>> {
        self.get(
            Service::Products,
            "GET /products/featured",
            "/products/featured",
            &[("limit", limit.to_string())],
        )
        .await
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

    /// `GET /reviews/summary?product_ids=…`.
    pub async fn review_summaries(&self, product_ids: &[Id]) -> BffResult<Vec<ReviewSummary>> {
        self.get_by_ids(
            Service::Products,
            "GET /reviews/summary",
            "/reviews/summary",
            "product_ids",
            product_ids,
        )
        .await
    }

    /// `GET /products/{id}/related?limit=`.
    pub async fn related_products(&self, product_id: Id, limit: usize) -> BffResult<Vec<Product>> {
        self.get(
            Service::Products,
            "GET /products/{id}/related",
            &format!("/products/{product_id}/related"),
            &[("limit", limit.to_string())],
        )
        .await
    }

    /// `PATCH /products/{id}`.
    pub async fn update_product(&self, id: Id, patch: &ProductPatch) -> BffResult<Product> {
        self.call(
            Service::Products,
            "PATCH /products/{id}",
            Method::PATCH,
            &format!("/products/{id}"),
            &[],
            Some(patch),
        )
        .await
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
