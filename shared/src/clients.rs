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

/// The long-lived downstream clients; cheap to clone.
#[derive(Clone)]
pub struct DownstreamClients {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    users: String,
    orders: String,
    products: String,
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
            }),
        })
    }

    /// Base URL of a service.
    pub fn base_url(&self, service: Service) -> &str {
        match service {
            Service::Users => &self.inner.users,
            Service::Orders => &self.inner.orders,
            Service::Products => &self.inner.products,
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> BffResult<T> {
        let url = format!("{}{}", self.base_url(service), path);
        let mut request = self.inner.http.request(method, url);
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
        path: &str,
        query: &[(&str, String)],
    ) -> BffResult<T> {
        self.call(service, Method::GET, path, query, None).await
    }

    /// GETs `path?{param}=ids` in chunks of at most 100 ids, concurrently, concatenating the results.
    async fn get_by_ids<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        param: &'static str,
        ids: &[Id],
    ) -> BffResult<Vec<T>> {
        let chunks = ids.chunks(MAX_IDS_PER_CALL).map(|chunk| async move {
            self.get::<Vec<T>>(service, path, &[(param, join_ids(chunk))])
                .await
        });
        Ok(try_join_all(chunks).await?.into_iter().flatten().collect())
    }

    // ---- users ----

    /// `GET /users/{id}`.
    pub async fn user(&self, id: Id) -> BffResult<User> {
        self.get(Service::Users, &format!("/users/{id}"), &[]).await
    }

    /// `GET /users?ids=…`: the known users among `ids`.
    pub async fn users_by_ids(&self, ids: &[Id]) -> BffResult<Vec<User>> {
        self.get_by_ids(Service::Users, "/users", "ids", ids).await
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
        self.get(Service::Users, "/users", &query).await
    }

    /// `PATCH /users/{id}`.
    pub async fn update_user(&self, id: Id, patch: &UserPatch) -> BffResult<User> {
        self.call(
            Service::Users,
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
        self.get(Service::Orders, &format!("/orders/{id}"), &[])
            .await
    }

    /// `GET /orders?ids=…`.
    pub async fn orders_by_ids(&self, ids: &[Id]) -> BffResult<Vec<Order>> {
        self.get_by_ids(Service::Orders, "/orders", "ids", ids)
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
        self.get(Service::Orders, "/orders", &query).await
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
        self.get(Service::Orders, "/orders", &query).await
    }

    /// `GET /orders/stats`.
    pub async fn order_stats(&self) -> BffResult<OrderStats> {
        self.get(Service::Orders, "/orders/stats", &[]).await
    }

    /// `POST /orders`: the service prices the items and checks stock.
    pub async fn place_order(&self, order: &NewOrder) -> BffResult<Order> {
        self.call(Service::Orders, Method::POST, "/orders", &[], Some(order))
            .await
    }

    /// `PATCH /orders/{id}`: a status transition.
    pub async fn update_order_status(&self, id: Id, status: OrderStatus) -> BffResult<Order> {
        self.call(
            Service::Orders,
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
        self.get(Service::Products, &format!("/products/{id}"), &[])
            .await
    }

    /// `GET /products?ids=…`.
    pub async fn products_by_ids(&self, ids: &[Id]) -> BffResult<Vec<Product>> {
        self.get_by_ids(Service::Products, "/products", "ids", ids)
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
        self.get(Service::Products, "/products", &query).await
    }

    /// `GET /products/featured?limit=`.
    pub async fn featured_products(&self, limit: usize) -> BffResult<Vec<Product>> {
        self.get(
            Service::Products,
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
            &format!("/products/{product_id}/reviews"),
            &page_params(limit, after),
        )
        .await
    }

    /// `GET /reviews/summary?product_ids=…`.
    pub async fn review_summaries(&self, product_ids: &[Id]) -> BffResult<Vec<ReviewSummary>> {
        self.get_by_ids(
            Service::Products,
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
            &format!("/products/{product_id}/related"),
            &[("limit", limit.to_string())],
        )
        .await
    }

    /// `PATCH /products/{id}`.
    pub async fn update_product(&self, id: Id, patch: &ProductPatch) -> BffResult<Product> {
        self.call(
            Service::Products,
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
