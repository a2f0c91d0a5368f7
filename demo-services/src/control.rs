//! Per-service latency/fault injection and call counters: the `/__control` and `/__stats`
//! endpoints and the middleware that counts and delays every served request.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{MatchedPath, Query, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{ApiError, JsonBody},
    rng::{GAMMA, mix},
};

/// The request headers whose presence is counted.
pub const COUNTED_HEADERS: [&str; 3] = ["traceparent", "x-request-deadline-ms", "x-request-id"];

/// How many of the last `traceparent` values `/__stats` keeps.
pub const KEPT_TRACEPARENTS: usize = 100;

/// Current injection settings of one service (`GET /__control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Control {
    pub latency_ms: u64,
    pub jitter_ms: u64,
    pub error_rate: f64,
    pub down: bool,
    pub fail_next: u64,
    pub error_status: u16,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            down: false,
            fail_next: 0,
            error_status: 503,
        }
    }
}

/// Body of `POST /__control`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_next: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_status: Option<u16>,
}

/// Counters of one route template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStats {
    pub route: String,
    pub requests: u64,
    /// Total ids asked for over all requests (ids / user_ids / product_ids forms).
    pub ids: u64,
    /// Most ids asked for in one request.
    pub max_ids: u64,
}

/// `GET /__stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub total: u64,
    pub max_in_flight: u64,
    /// Sorted by route.
    pub routes: Vec<RouteStats>,
    /// Counted requests that carried each header (all of [`COUNTED_HEADERS`] present).
    pub headers: BTreeMap<String, u64>,
    /// The `traceparent` of the last [`KEPT_TRACEPARENTS`] counted requests that had one,
    /// oldest first (tests check which span each call names as its parent).
    #[serde(default)]
    pub traceparents: Vec<String>,
}

impl Stats {
    /// The counters of one route template, if it was called.
    pub fn route(&self, route: &str) -> Option<&RouteStats> {
        self.routes.iter().find(|r| r.route == route)
    }

    /// Requests to one route template (0 when never called).
    pub fn requests(&self, route: &str) -> u64 {
        self.route(route).map_or(0, |r| r.requests)
    }
}

#[derive(Debug, Default)]
struct Counters {
    total: u64,
    routes: HashMap<String, (u64, u64, u64)>,
    headers: [u64; 3],
    traceparents: VecDeque<String>,
}

/// Injection settings and counters of one service, shared by its middleware and endpoints.
#[derive(Debug)]
pub struct ServiceControl {
    name: &'static str,
    control: Mutex<Control>,
    counters: Mutex<Counters>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    rng: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ServiceControl {
    /// New control for the service `name` with the given starting settings.
    pub fn new(name: &'static str, control: Control, seed: u64) -> Self {
        Self {
            name,
            control: Mutex::new(control),
            counters: Mutex::default(),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            rng: AtomicU64::new(seed),
        }
    }

    /// The current settings.
    pub fn control(&self) -> Control {
        lock(&self.control).clone()
    }

    /// Validates and applies a partial update; returns the new settings.
    pub fn update(&self, patch: ControlPatch) -> Result<Control, ApiError> {
        if patch
            .error_rate
            .is_some_and(|r| !(0.0..=1.0).contains(&r) || r.is_nan())
        {
            return Err(ApiError::bad_request("error_rate must be within 0.0..=1.0"));
        }
        if patch
            .error_status
            .is_some_and(|s| !(400..=599).contains(&s))
        {
            return Err(ApiError::bad_request(
                "error_status must be within 400..=599",
            ));
        }
        let mut c = lock(&self.control);
        if let Some(v) = patch.latency_ms {
            c.latency_ms = v;
        }
        if let Some(v) = patch.jitter_ms {
            c.jitter_ms = v;
        }
        if let Some(v) = patch.error_rate {
            c.error_rate = v;
        }
        if let Some(v) = patch.down {
            c.down = v;
        }
        if let Some(v) = patch.fail_next {
            c.fail_next = v;
        }
        if let Some(v) = patch.error_status {
            c.error_status = v;
        }
        Ok(c.clone())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = lock(&self.counters);
        let mut routes: Vec<RouteStats> = c
            .routes
            .iter()
            .map(|(route, &(requests, ids, max_ids))| RouteStats {
                route: route.clone(),
                requests,
                ids,
                max_ids,
            })
            .collect();
        routes.sort_by(|a, b| a.route.cmp(&b.route));
        Stats {
            total: c.total,
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            routes,
            headers: COUNTED_HEADERS
                .iter()
                .zip(c.headers)
                .map(|(h, n)| ((*h).to_owned(), n))
                .collect(),
            traceparents: c.traceparents.iter().cloned().collect(),
        }
    }

    /// Zeroes every counter.
    pub fn reset_stats(&self) {
        *lock(&self.counters) = Counters::default();
        self.max_in_flight.store(0, Ordering::SeqCst);
    }

    fn random_u64(&self) -> u64 {
        mix(self
            .rng
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA))
    }

    fn record(&self, route: String, ids: u64, headers: [bool; 3], traceparent: Option<&str>) {
        let mut c = lock(&self.counters);
        if let Some(traceparent) = traceparent {
            if c.traceparents.len() == KEPT_TRACEPARENTS {
                c.traceparents.pop_front();
            }
            c.traceparents.push_back(traceparent.to_owned());
        }
        c.total += 1;
        let entry = c.routes.entry(route).or_default();
        entry.0 += 1;
        entry.1 += ids;
        entry.2 = entry.2.max(ids);
        for (n, present) in c.headers.iter_mut().zip(headers) {
            *n += u64::from(present);
        }
    }
}

/// Decrements the in-flight gauge when a counted request ends (or is cancelled).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Derives the counted route template (`"GET /users?ids"`) and the number of ids asked for.
pub fn route_template(method: &Method, path: &str, query: &[(String, String)]) -> (String, u64) {
    let has = |k: &str| query.iter().any(|(key, _)| key == k);
    let count = |k: &str| {
        query
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.split(',').filter(|s| !s.trim().is_empty()).count() as u64)
            .sum::<u64>()
    };
    let collection = *method == Method::GET && matches!(path, "/users" | "/orders" | "/products");
    let (suffix, ids) = if collection && has("ids") {
        ("?ids", count("ids"))
    } else if collection && path == "/orders" && has("user_ids") {
        ("?user_ids", count("user_ids"))
    } else if collection && path == "/orders" && has("user_id") {
        ("?user_id", 0)
    } else if path == "/reviews/summary" {
        ("", count("product_ids"))
    } else {
        ("", 0)
    };
    (format!("{method} {path}{suffix}"), ids)
}

/// The counting + injection middleware (installed with `route_layer`, so every request it sees
/// has a [`MatchedPath`]).
pub async fn track(State(ctl): State<Arc<ServiceControl>>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let query = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let (route, ids) = route_template(req.method(), &path, &query);
    let headers = COUNTED_HEADERS.map(|h| req.headers().contains_key(h));
    let traceparent = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    ctl.record(route, ids, headers, traceparent);

    let now = ctl.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    ctl.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&ctl.in_flight);

    let settings = ctl.control();
    if settings.down {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the {} service is down (injected)", ctl.name),
        )
        .into_response();
    }
    let jitter = if settings.jitter_ms > 0 {
        ctl.random_u64() % (settings.jitter_ms + 1)
    } else {
        0
    };
    let delay = settings.latency_ms.saturating_add(jitter);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let fail = {
        let mut c = lock(&ctl.control);
        if c.fail_next > 0 {
            c.fail_next -= 1;
            Some(c.error_status)
        } else if c.error_rate > 0.0
            && ((ctl.random_u64() >> 11) as f64 / (1u64 << 53) as f64) < c.error_rate
        {
            Some(c.error_status)
        } else {
            None
        }
    };
    if let Some(status) = fail {
        return ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "injected_fault",
            format!("injected fault in the {} service", ctl.name),
        )
        .into_response();
    }
    next.run(req).await
}

async fn get_control(State(ctl): State<Arc<ServiceControl>>) -> Json<Control> {
    Json(ctl.control())
}

async fn post_control(
    State(ctl): State<Arc<ServiceControl>>,
    JsonBody(patch): JsonBody<ControlPatch>,
) -> Result<Json<Control>, ApiError> {
    ctl.update(patch).map(Json)
}

async fn get_stats(State(ctl): State<Arc<ServiceControl>>) -> Json<Stats> {
    Json(ctl.stats())
}

async fn reset_stats(State(ctl): State<Arc<ServiceControl>>) -> Json<Stats> {
    ctl.reset_stats();
    Json(ctl.stats())
}

/// Liveness of the service; a service switched `down` through `/__control` answers 503 here too,
/// so readiness probes see it as a real outage would look.
async fn health(State(ctl): State<Arc<ServiceControl>>) -> Response {
    if ctl.control().down {
        let body =
            serde_json::json!({ "error": { "code": "unavailable", "message": "service is down" } });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// The uncounted extras of every service: `/health`, `/__control`, `/__stats`, `/__stats/reset`.
pub fn extras_router(ctl: Arc<ServiceControl>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/__control", get(get_control).post(post_control))
        .route("/__stats", get(get_stats))
        .route("/__stats/reset", post(reset_stats))
        .with_state(ctl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn templates() {
        let get = Method::GET;
        assert_eq!(
            route_template(&get, "/users", &q(&[("ids", "1,2,3")])),
            ("GET /users?ids".to_owned(), 3)
        );
        assert_eq!(
            route_template(
                &get,
                "/orders",
                &q(&[("user_ids", "1,2"), ("per_user", "3")])
            ),
            ("GET /orders?user_ids".to_owned(), 2)
        );
        assert_eq!(
            route_template(&get, "/orders", &q(&[("user_id", "7")])),
            ("GET /orders?user_id".to_owned(), 0)
        );
        assert_eq!(
            route_template(&get, "/orders", &q(&[("status", "paid")])),
            ("GET /orders".to_owned(), 0)
        );
        assert_eq!(
            route_template(&get, "/reviews/summary", &q(&[("product_ids", "1,2")])),
            ("GET /reviews/summary".to_owned(), 2)
        );
        assert_eq!(
            route_template(&Method::PATCH, "/users/{id}", &[]),
            ("PATCH /users/{id}".to_owned(), 0)
        );
    }
}
