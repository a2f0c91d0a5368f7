//! Contract tests: start the real services on port 0 and speak HTTP to every endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use demo_services::{DemoConfig, DemoServices, ROUTE_TEMPLATES, Stats};
use reqwest::{Client, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::models::{
    ErrorBody, Order, OrderStats, OrderStatus, Page, Product, ReviewSummary, ReviewsPage, Role,
    User,
};

struct Env {
    s: DemoServices,
    http: Client,
}

async fn env() -> Env {
    Env {
        s: DemoServices::start_local(DemoConfig::small())
            .await
            .unwrap(),
        http: Client::new(),
    }
}

impl Env {
    async fn call(&self, method: Method, url: String, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn get<T: DeserializeOwned>(&self, base: &str, path: &str) -> T {
        let (status, body) = self.call(Method::GET, format!("{base}{path}"), None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        serde_json::from_value(body).unwrap()
    }

    /// Asserts an error answer and returns its code.
    async fn err(&self, method: Method, url: String, body: Option<Value>, want: u16) -> String {
        let (status, value) = self.call(method, url.clone(), body).await;
        assert_eq!(status.as_u16(), want, "{url}: {value}");
        let body: ErrorBody = serde_json::from_value(value).unwrap();
        assert!(!body.error.message.is_empty());
        body.error.code
    }

    fn users(&self) -> String {
        self.s.users.url()
    }
    fn orders(&self) -> String {
        self.s.orders.url()
    }
    fn products(&self) -> String {
        self.s.products.url()
    }

    async fn stats(&self, base: &str) -> Stats {
        self.get(base, "/__stats").await
    }

    async fn control(&self, base: &str, patch: Value) -> Value {
        let (status, body) = self
            .call(Method::POST, format!("{base}/__control"), Some(patch))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

#[tokio::test]
async fn health_of_every_service() {
    let e = env().await;
    for base in [e.users(), e.orders(), e.products()] {
        let v: Value = e.get(&base, "/health").await;
        assert_eq!(v, json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn users_endpoints() {
    let e = env().await;
    let u = e.users();
    let ada: User = e.get(&u, "/users/1").await;
    assert_eq!(ada.role, Role::Admin);
    assert_eq!(ada.name, "Ada Admin");
    assert_eq!(e.get::<User>(&u, "/users/2").await.role, Role::Customer);

    let batch: Vec<User> = e.get(&u, "/users?ids=3,999999,1,2").await;
    assert_eq!(
        batch.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![3, 1, 2]
    );

    // Pagination walks every user exactly once.
    let mut seen = Vec::new();
    let mut path = "/users?limit=70".to_owned();
    loop {
        let page: Page<User> = e.get(&u, &path).await;
        assert!(page.items.len() <= 70);
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(c) => path = format!("/users?limit=70&after={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    let default: Page<User> = e.get(&u, "/users").await;
    assert_eq!(default.items.len(), 20);

    // Search is a case-insensitive substring of name or email.
    let found: Page<User> = e.get(&u, "/users?q=ADA%20ADMIN").await;
    assert_eq!(found.items[0].id, 1);
    let by_mail: Page<User> = e.get(&u, "/users?q=example.COM&limit=100").await;
    assert_eq!(by_mail.items.len(), 100);
    assert!(by_mail.next_cursor.is_some());

    // PATCH.
    let (status, body) = e
        .call(
            Method::PATCH,
            format!("{u}/users/5"),
            Some(json!({"name": "Renamed", "tier": "platinum"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let patched: User = serde_json::from_value(body).unwrap();
    assert_eq!(patched.name, "Renamed");
    assert_eq!(e.get::<User>(&u, "/users/5").await.name, "Renamed");
    let code = e
        .err(
            Method::PATCH,
            format!("{u}/users/5"),
            Some(json!({"name": " "})),
            422,
        )
        .await;
    assert_eq!(code, "invalid_field");
    let code = e
        .err(
            Method::PATCH,
            format!("{u}/users/99999"),
            Some(json!({"name": "x"})),
            404,
        )
        .await;
    assert_eq!(code, "not_found");
}

#[tokio::test]
async fn error_shapes_for_bad_requests() {
    let e = env().await;
    let u = e.users();
    let p = e.products();
    let o = e.orders();
    assert_eq!(
        e.err(Method::GET, format!("{u}/users/99999"), None, 404)
            .await,
        "not_found"
    );
    assert_eq!(
        e.err(Method::GET, format!("{o}/orders/99999"), None, 404)
            .await,
        "not_found"
    );
    assert_eq!(
        e.err(Method::GET, format!("{p}/products/99999"), None, 404)
            .await,
        "not_found"
    );
    assert_eq!(
        e.err(Method::GET, format!("{u}/users/abc"), None, 400)
            .await,
        "bad_request"
    );
    assert_eq!(
        e.err(Method::GET, format!("{u}/users?ids=abc"), None, 400)
            .await,
        "bad_request"
    );
    assert_eq!(
        e.err(Method::GET, format!("{u}/users?ids="), None, 400)
            .await,
        "bad_request"
    );
    assert_eq!(
        e.err(Method::GET, format!("{u}/users?limit=-1"), None, 400)
            .await,
        "bad_request"
    );
    assert_eq!(
        e.err(Method::GET, format!("{u}/users?limit=0"), None, 400)
            .await,
        "bad_request"
    );
    assert_eq!(
        e.err(Method::GET, format!("{u}/users?limit=101"), None, 400)
            .await,
        "bad_request"
    );
    let many = (1..=101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        e.err(Method::GET, format!("{p}/products?ids={many}"), None, 400)
            .await,
        "too_many_ids"
    );
    let hundred = (1..=100)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let ok: Vec<Product> = e.get(&p, &format!("/products?ids={hundred}")).await;
    assert_eq!(ok.len(), 100);
    assert_eq!(
        e.err(Method::GET, format!("{u}/users?after=garbage!"), None, 400)
            .await,
        "invalid_cursor"
    );
    assert_eq!(
        e.err(
            Method::GET,
            format!("{o}/orders?status=pending&after=bm9wZQ"),
            None,
            400
        )
        .await,
        "invalid_cursor"
    );
    assert_eq!(
        e.err(Method::GET, format!("{o}/orders?status=lost"), None, 400)
            .await,
        "bad_request"
    );
    assert_eq!(
        e.err(
            Method::GET,
            format!("{p}/products/1/reviews?after=%%%"),
            None,
            400
        )
        .await,
        "invalid_cursor"
    );
    // Malformed JSON bodies.
    let resp = e
        .http
        .post(format!("{o}/orders"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.error.code, "bad_request");
    let code = e
        .err(
            Method::PATCH,
            format!("{o}/orders/1"),
            Some(json!({"status": "lost"})),
            400,
        )
        .await;
    assert_eq!(code, "bad_request");
    // Unknown routes and methods.
    assert_eq!(
        e.err(Method::GET, format!("{u}/nope"), None, 404).await,
        "not_found"
    );
    assert_eq!(
        e.err(Method::DELETE, format!("{u}/users/1"), None, 405)
            .await,
        "method_not_allowed"
    );
}

#[tokio::test]
async fn orders_reads() {
    let e = env().await;
    let o = e.orders();
    let one: Order = e.get(&o, "/orders/1").await;
    assert_eq!(one.id, 1);
    assert!(!one.items.is_empty() && one.items.len() <= 5);
    assert_eq!(
        one.total_cents,
        one.items
            .iter()
            .map(|i| i.quantity * i.unit_price_cents)
            .sum::<i64>()
    );
    assert_eq!(one.currency, "USD");
    let batch: Vec<Order> = e.get(&o, "/orders?ids=5,999999,2").await;
    assert_eq!(batch.iter().map(|o| o.id).collect::<Vec<_>>(), vec![5, 2]);

    // One user's orders, newest first, paginated.
    let mut ids = Vec::new();
    let mut path = "/orders?user_id=2&limit=3".to_owned();
    loop {
        let page: Page<Order> = e.get(&o, &path).await;
        assert!(page.items.iter().all(|o| o.user_id == 2));
        ids.extend(page.items.iter().map(|o| o.id));
        match page.next_cursor {
            Some(c) => path = format!("/orders?user_id=2&limit=3&after={c}"),
            None => break,
        }
    }
    assert!(ids.len() >= 5);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let times: Vec<String> = {
        let page: Page<Order> = e.get(&o, "/orders?user_id=2&limit=100").await;
        page.items.into_iter().map(|o| o.created_at).collect()
    };
    assert!(times.windows(2).all(|w| w[0] >= w[1]));

    // Batch per-user form: every asked id is a key.
    let batch: HashMap<String, Vec<Order>> =
        e.get(&o, "/orders?user_ids=2,999999,3&per_user=2").await;
    assert_eq!(batch.len(), 3);
    assert_eq!(batch["2"].len(), 2);
    assert_eq!(batch["2"][0].id, ids[0]);
    assert_eq!(batch["999999"], vec![]);
    assert!(batch["3"].iter().all(|o| o.user_id == 3));
    let default: HashMap<String, Vec<Order>> = e.get(&o, "/orders?user_ids=2").await;
    assert_eq!(default["2"].len(), 3);
    assert_eq!(
        e.err(
            Method::GET,
            format!("{o}/orders?user_ids=2&per_user=51"),
            None,
            400
        )
        .await,
        "bad_request"
    );

    // Status lists and the full list.
    let stats: OrderStats = e.get(&o, "/orders/stats").await;
    assert_eq!(stats.count_by_status.len(), 5);
    assert_eq!(stats.count_by_status.values().sum::<i64>(), 2000);
    assert!(stats.revenue_cents > 0);
    let mut pending = 0;
    let mut path = "/orders?status=pending&limit=100".to_owned();
    loop {
        let page: Page<Order> = e.get(&o, &path).await;
        assert!(page.items.iter().all(|o| o.status == OrderStatus::Pending));
        assert!(page.items.windows(2).all(|w| w[0].id > w[1].id));
        pending += page.items.len() as i64;
        match page.next_cursor {
            Some(c) => path = format!("/orders?status=pending&limit=100&after={c}"),
            None => break,
        }
    }
    assert_eq!(pending, stats.count_by_status["pending"]);
    let all: Page<Order> = e.get(&o, "/orders?limit=5").await;
    assert_eq!(
        all.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![2000, 1999, 1998, 1997, 1996]
    );
    let next: Page<Order> = e
        .get(
            &o,
            &format!("/orders?limit=5&after={}", all.next_cursor.unwrap()),
        )
        .await;
    assert_eq!(next.items[0].id, 1995);
}

#[tokio::test]
async fn placing_and_moving_orders() {
    let e = env().await;
    let o = e.orders();
    let p = e.products();
    // Find two products in stock.
    let products: Page<Product> = e.get(&p, "/products?limit=100").await;
    let stocked: Vec<&Product> = products.items.iter().filter(|p| p.inventory >= 3).collect();
    let (a, b) = (stocked[0], stocked[1]);
    let before: OrderStats = e.get(&o, "/orders/stats").await;

    let (status, body) = e
        .call(
            Method::POST,
            format!("{o}/orders"),
            Some(json!({"user_id": 2, "items": [
                {"product_id": a.id, "quantity": 2}, {"product_id": b.id, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let order: Order = serde_json::from_value(body).unwrap();
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.id, 2001);
    assert_eq!(order.items[0].unit_price_cents, a.price_cents);
    assert_eq!(order.total_cents, 2 * a.price_cents + b.price_cents);
    let a_now: Product = e.get(&p, &format!("/products/{}", a.id)).await;
    assert_eq!(a_now.inventory, a.inventory - 2);
    let newest: Page<Order> = e.get(&o, "/orders?user_id=2&limit=1").await;
    assert_eq!(newest.items[0].id, order.id);
    let after: OrderStats = e.get(&o, "/orders/stats").await;
    assert_eq!(
        after.count_by_status["pending"],
        before.count_by_status["pending"] + 1
    );
    assert_eq!(
        after.revenue_cents,
        before.revenue_cents + order.total_cents
    );

    // 422s.
    let post = |body: Value| e.err(Method::POST, format!("{o}/orders"), Some(body), 422);
    let item = |pid: i64, q: i64| json!([{"product_id": pid, "quantity": q}]);
    assert_eq!(
        post(json!({"user_id": 999999, "items": item(a.id, 1)})).await,
        "unknown_user"
    );
    assert_eq!(
        post(json!({"user_id": 2, "items": item(999999, 1)})).await,
        "unknown_product"
    );
    assert_eq!(
        post(json!({"user_id": 2, "items": item(a.id, 0)})).await,
        "invalid_quantity"
    );
    assert_eq!(
        post(json!({"user_id": 2, "items": item(a.id, 1_000_000)})).await,
        "insufficient_stock"
    );
    assert_eq!(
        post(json!({"user_id": 2, "items": []})).await,
        "empty_order"
    );
    let empty = products.items.iter().find(|p| p.inventory == 0);
    if let Some(empty) = empty {
        assert_eq!(
            post(json!({"user_id": 2, "items": item(empty.id, 1)})).await,
            "insufficient_stock"
        );
    }

    // Transitions: pending → delivered is not allowed; pending → paid → cancelled restocks.
    let url = format!("{o}/orders/{}", order.id);
    let code = e
        .err(
            Method::PATCH,
            url.clone(),
            Some(json!({"status": "delivered"})),
            409,
        )
        .await;
    assert_eq!(code, "invalid_transition");
    let (status, body) = e
        .call(Method::PATCH, url.clone(), Some(json!({"status": "paid"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_value::<Order>(body).unwrap().status,
        OrderStatus::Paid
    );
    let (status, _) = e
        .call(
            Method::PATCH,
            url.clone(),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let a_back: Product = e.get(&p, &format!("/products/{}", a.id)).await;
    assert_eq!(a_back.inventory, a.inventory);
    let code = e
        .err(Method::PATCH, url, Some(json!({"status": "paid"})), 409)
        .await;
    assert_eq!(code, "invalid_transition");
    let end: OrderStats = e.get(&o, "/orders/stats").await;
    assert_eq!(end.revenue_cents, before.revenue_cents);
    assert_eq!(
        e.err(
            Method::PATCH,
            format!("{o}/orders/999999"),
            Some(json!({"status": "paid"})),
            404
        )
        .await,
        "not_found"
    );
}

#[tokio::test]
async fn products_endpoints() {
    let e = env().await;
    let p = e.products();
    let one: Product = e.get(&p, "/products/17").await;
    assert_eq!(one.id, 17);
    assert!((1000..=3200).contains(&one.description.len()));
    assert!((1..=6).contains(&one.images.len()));
    assert_eq!(
        one.images[0].thumbnail,
        "https://img.example.com/p/17/1/thumb.jpg"
    );
    assert!((3..=8).contains(&one.specifications.len()));
    assert_eq!(one.currency, "USD");

    let batch: Vec<Product> = e.get(&p, "/products?ids=3,999999,1").await;
    assert_eq!(batch.iter().map(|p| p.id).collect::<Vec<_>>(), vec![3, 1]);

    let all: Page<Product> = e.get(&p, "/products?limit=100").await;
    assert_eq!(all.items.len(), 100);
    assert!(all.items.iter().any(|p| p.inventory == 0));
    assert!(all.items.iter().any(|p| (1..5).contains(&p.inventory)));
    assert!(all.items.iter().any(|p| !p.description.is_ascii()));
    let categories: std::collections::BTreeSet<_> =
        all.items.iter().map(|p| p.category.clone()).collect();
    assert!(categories.len() >= 8);

    let books: Page<Product> = e.get(&p, "/products?category=books&limit=3").await;
    assert!(books.items.iter().all(|p| p.category == "books"));
    let books2: Page<Product> = e
        .get(
            &p,
            &format!(
                "/products?category=books&limit=3&after={}",
                books.next_cursor.unwrap()
            ),
        )
        .await;
    assert!(books2.items[0].id > books.items[2].id);
    let word = one.name.split(' ').nth(1).unwrap().to_uppercase();
    let found: Page<Product> = e.get(&p, &format!("/products?q={word}&limit=100")).await;
    assert!(found.items.iter().any(|x| x.id == 17));

    let featured: Vec<Product> = e.get(&p, "/products/featured").await;
    assert_eq!(featured.len(), 4);
    assert!(featured.iter().all(|p| p.inventory > 0));
    let again: Vec<Product> = e.get(&p, "/products/featured?limit=4").await;
    assert_eq!(featured, again);
    assert_eq!(
        e.get::<Vec<Product>>(&p, "/products/featured?limit=10")
            .await
            .len(),
        10
    );

    let related: Vec<Product> = e.get(&p, "/products/17/related").await;
    assert_eq!(related.len(), 8);
    assert!(
        related
            .iter()
            .all(|r| r.category == one.category && r.id != 17)
    );
    assert_eq!(
        e.get::<Vec<Product>>(&p, "/products/17/related?limit=2")
            .await
            .len(),
        2
    );
    assert_eq!(
        e.err(
            Method::GET,
            format!("{p}/products/99999/related"),
            None,
            404
        )
        .await,
        "not_found"
    );

    // Reviews, paginated newest first, consistent with the summary.
    let summaries: Vec<ReviewSummary> =
        e.get(&p, "/reviews/summary?product_ids=1,2,999999,3").await;
    assert_eq!(
        summaries.iter().map(|s| s.product_id).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let mut best = (0, 0);
    for id in 1..=20 {
        let s: Vec<ReviewSummary> = e
            .get(&p, &format!("/reviews/summary?product_ids={id}"))
            .await;
        if s[0].total > best.1 {
            best = (id, s[0].total);
        }
    }
    let (pid, total) = best;
    assert!(total > 3);
    let mut reviews = Vec::new();
    let mut path = format!("/products/{pid}/reviews?limit=3");
    loop {
        let page: ReviewsPage = e.get(&p, &path).await;
        assert_eq!(page.total, total);
        assert!(page.average_rating >= 1.0 && page.average_rating <= 5.0);
        reviews.extend(page.items);
        match page.next_cursor {
            Some(c) => path = format!("/products/{pid}/reviews?limit=3&after={c}"),
            None => break,
        }
    }
    assert_eq!(reviews.len() as i64, total);
    assert!(
        reviews
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    assert!(
        reviews
            .iter()
            .all(|r| (1..=5).contains(&r.rating) && r.user_id >= 1 && r.user_id <= 200)
    );
    let avg = reviews.iter().map(|r| f64::from(r.rating)).sum::<f64>() / total as f64;
    assert!((avg - summaries_avg(&e, &p, pid).await).abs() < 0.01);

    // PATCH and its validation.
    let (status, body) = e
        .call(
            Method::PATCH,
            format!("{p}/products/17"),
            Some(json!({"price_cents": 1234, "inventory": 0, "name": "Renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let patched: Product = serde_json::from_value(body).unwrap();
    assert_eq!(
        (
            patched.price_cents,
            patched.inventory,
            patched.name.as_str()
        ),
        (1234, 0, "Renamed")
    );
    for bad in [
        json!({"price_cents": 0}),
        json!({"inventory": -1}),
        json!({"name": ""}),
    ] {
        let code = e
            .err(Method::PATCH, format!("{p}/products/17"), Some(bad), 422)
            .await;
        assert_eq!(code, "invalid_field");
    }
    assert_eq!(
        e.err(
            Method::PATCH,
            format!("{p}/products/99999"),
            Some(json!({"inventory": 1})),
            404
        )
        .await,
        "not_found"
    );
}

async fn summaries_avg(e: &Env, p: &str, id: i64) -> f64 {
    let s: Vec<ReviewSummary> = e
        .get(p, &format!("/reviews/summary?product_ids={id}"))
        .await;
    s[0].average_rating
}

#[tokio::test]
async fn products_without_reviews_have_zero_summary() {
    let e = env().await;
    let p = e.products();
    let ids = (1..=100)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let all: Vec<ReviewSummary> = e
        .get(&p, &format!("/reviews/summary?product_ids={ids}"))
        .await;
    assert_eq!(all.len(), 100);
    let zero = all
        .iter()
        .find(|s| s.total == 0)
        .expect("some product without reviews");
    assert_eq!(zero.average_rating, 0.0);
    let page: ReviewsPage = e
        .get(&p, &format!("/products/{}/reviews", zero.product_id))
        .await;
    assert!(page.items.is_empty() && page.next_cursor.is_none());
}

#[tokio::test]
async fn control_latency_down_and_fail_next() {
    let e = env().await;
    let u = e.users();
    let current: Value = e.get(&u, "/__control").await;
    assert_eq!(
        current,
        json!({"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "down": false, "fail_next": 0, "error_status": 503})
    );

    let full = e.control(&u, json!({"latency_ms": 200})).await;
    assert_eq!(full["latency_ms"], 200);
    assert_eq!(full["error_status"], 503);
    let t = Instant::now();
    let _: User = e.get(&u, "/users/1").await;
    assert!(t.elapsed() >= Duration::from_millis(200));
    // Uncounted endpoints are not delayed.
    e.control(&u, json!({"latency_ms": 0})).await;

    e.control(&u, json!({"down": true})).await;
    assert_eq!(
        e.err(Method::GET, format!("{u}/users/1"), None, 503).await,
        "unavailable"
    );
    // A down service fails its health check too, as a real outage would.
    assert_eq!(
        e.err(Method::GET, format!("{u}/health"), None, 503).await,
        "unavailable"
    );
    e.control(&u, json!({"down": false})).await;
    let v: Value = e.get(&u, "/health").await;
    assert_eq!(v["status"], "ok");

    e.control(&u, json!({"fail_next": 2, "error_status": 500}))
        .await;
    for _ in 0..2 {
        assert_eq!(
            e.err(Method::GET, format!("{u}/users/1"), None, 500).await,
            "injected_fault"
        );
    }
    let _: User = e.get(&u, "/users/1").await;
    let after: Value = e.get(&u, "/__control").await;
    assert_eq!(after["fail_next"], 0);

    e.control(&u, json!({"error_rate": 1.0, "error_status": 503}))
        .await;
    assert_eq!(
        e.err(Method::GET, format!("{u}/users/1"), None, 503).await,
        "injected_fault"
    );
    e.control(&u, json!({"error_rate": 0.0})).await;
    let _: User = e.get(&u, "/users/1").await;

    // Invalid control updates.
    for bad in [
        json!({"error_rate": 2.0}),
        json!({"nope": 1}),
        json!({"error_status": 200}),
    ] {
        e.err(Method::POST, format!("{u}/__control"), Some(bad), 400)
            .await;
    }
    // Other services are unaffected.
    let other: Value = e.get(&e.orders(), "/__control").await;
    assert_eq!(other["error_rate"], 0.0);
}

#[tokio::test]
async fn stats_count_routes_ids_and_headers() {
    let e = env().await;
    let u = e.users();
    let o = e.orders();
    let p = e.products();
    let _: User = e.get(&u, "/users/1").await;
    let _: User = e.get(&u, "/users/2").await;
    let _: Vec<User> = e.get(&u, "/users?ids=1,2,3").await;
    let _: Vec<User> = e.get(&u, "/users?ids=4,5").await;
    let _: Page<User> = e.get(&u, "/users?q=ada").await;
    e.err(Method::GET, format!("{u}/users?ids=abc"), None, 400)
        .await;
    let _ = e.http.get(format!("{u}/health")).send().await.unwrap();
    let _ = e
        .http
        .get(format!("{u}/users/3"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("x-request-id", "abc")
        .send()
        .await
        .unwrap();
    let _ = e
        .http
        .get(format!("{u}/users/4"))
        .header("x-request-id", "def")
        .send()
        .await
        .unwrap();

    let stats = e.stats(&u).await;
    assert_eq!(stats.total, 8);
    assert_eq!(stats.requests("GET /users/{id}"), 4);
    let ids = stats.route("GET /users?ids").unwrap();
    assert_eq!((ids.requests, ids.ids, ids.max_ids), (3, 6, 3));
    assert_eq!(stats.requests("GET /users"), 1);
    let routes: Vec<&str> = stats.routes.iter().map(|r| r.route.as_str()).collect();
    let mut sorted = routes.clone();
    sorted.sort();
    assert_eq!(routes, sorted);
    assert!(
        routes.iter().all(|r| ROUTE_TEMPLATES.contains(r)),
        "{routes:?}"
    );
    assert_eq!(
        stats.headers,
        BTreeMap::from([
            ("traceparent".to_owned(), 1),
            ("x-request-deadline-ms".to_owned(), 0),
            ("x-request-id".to_owned(), 2),
        ])
    );
    assert_eq!(
        stats.traceparents,
        vec!["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned()]
    );
    assert_eq!(e.s.users.stats(), stats);

    // Orders and products templates.
    let _: Value = e.get(&o, "/orders?user_ids=1,2,3,4&per_user=1").await;
    let _: Value = e.get(&o, "/orders?user_id=2").await;
    let _: Value = e.get(&o, "/orders?status=paid").await;
    let _: Value = e.get(&o, "/orders").await;
    let _: Value = e.get(&o, "/orders/stats").await;
    let _: Value = e.get(&o, "/orders/7").await;
    let _: Value = e.get(&o, "/orders?ids=7,8").await;
    let os = e.stats(&o).await;
    assert_eq!(os.route("GET /orders?user_ids").unwrap().max_ids, 4);
    assert_eq!(os.requests("GET /orders?user_id"), 1);
    assert_eq!(os.requests("GET /orders"), 2);
    assert_eq!(os.requests("GET /orders/stats"), 1);
    assert_eq!(os.requests("GET /orders/{id}"), 1);
    assert_eq!(os.route("GET /orders?ids").unwrap().ids, 2);
    let _: Value = e.get(&p, "/reviews/summary?product_ids=1,2,3").await;
    let _: Value = e.get(&p, "/products/1/reviews").await;
    let _: Value = e.get(&p, "/products/featured").await;
    let ps = e.stats(&p).await;
    assert_eq!(ps.route("GET /reviews/summary").unwrap().ids, 3);
    assert_eq!(ps.requests("GET /products/{id}/reviews"), 1);
    assert_eq!(ps.requests("GET /products/featured"), 1);
    assert_eq!(ps.requests("GET /products/{id}"), 0);

    // Reset.
    let (status, _) = e
        .call(Method::POST, format!("{u}/__stats/reset"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let zero = e.stats(&u).await;
    assert_eq!(zero.total, 0);
    assert_eq!(zero.max_in_flight, 0);
    assert!(zero.routes.is_empty());
    assert!(zero.headers.values().all(|&n| n == 0));
    assert_eq!(zero.headers.len(), 3);
    assert!(zero.traceparents.is_empty());
}

#[tokio::test]
async fn faults_and_bad_requests_are_counted() {
    let e = env().await;
    let u = e.users();
    e.control(&u, json!({"fail_next": 1})).await;
    e.err(Method::GET, format!("{u}/users/1"), None, 503).await;
    e.err(Method::GET, format!("{u}/users?limit=0"), None, 400)
        .await;
    let stats = e.stats(&u).await;
    assert_eq!(stats.total, 2);
    assert_eq!(stats.requests("GET /users/{id}"), 1);
    assert_eq!(stats.requests("GET /users"), 1);
}

#[tokio::test]
async fn max_in_flight_proves_concurrency() {
    let e = env().await;
    let p = e.products();
    e.control(&p, json!({"latency_ms": 300})).await;
    let calls = (1..=5).map(|id| {
        let url = format!("{p}/products/{id}");
        let http = e.http.clone();
        async move { http.get(url).send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    let stats = e.stats(&p).await;
    assert_eq!(stats.max_in_flight, 5);
    assert_eq!(stats.requests("GET /products/{id}"), 5);

    // Sequential calls keep it at 1 after a reset.
    e.control(&p, json!({"latency_ms": 0})).await;
    e.s.products.reset_stats();
    for id in 1..=3 {
        let _: Product = e.get(&p, &format!("/products/{id}")).await;
    }
    assert_eq!(e.stats(&p).await.max_in_flight, 1);
}

#[tokio::test]
async fn data_is_deterministic_across_starts() {
    let a = env().await;
    let b = env().await;
    for path in ["/orders/1234", "/orders?user_id=2"] {
        let x: Value = a.get(&a.orders(), path).await;
        let y: Value = b.get(&b.orders(), path).await;
        assert_eq!(x, y);
    }
    let x: Value = a.get(&a.products(), "/products/42").await;
    let y: Value = b.get(&b.products(), "/products/42").await;
    assert_eq!(x, y);
}

#[test]
fn openapi_lists_every_route() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/downstream.openapi.yaml"
    );
    let text = std::fs::read_to_string(path).expect("schema/downstream.openapi.yaml");
    assert!(text.starts_with("openapi: 3.0.3") || text.contains("\nopenapi: 3.0.3"));
    let paths_start = text.find("\npaths:").expect("a paths: section");
    let section = &text[paths_start..];
    let section = match section[1..].find("\ncomponents:") {
        Some(end) => &section[..end + 1],
        None => section,
    };
    // Path keys are the lines indented by exactly two spaces under `paths:`.
    let keys: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("  /") && l.trim_end().ends_with(':'))
        .map(|l| {
            l.trim()
                .trim_end_matches(':')
                .trim_matches('"')
                .trim_matches('\'')
        })
        .collect();
    let mut extras = vec!["/health", "/__control", "/__stats", "/__stats/reset"];
    for &template in ROUTE_TEMPLATES {
        let (method, rest) = template.split_once(' ').unwrap();
        let (route_path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        assert!(
            keys.contains(&route_path),
            "{route_path} missing from the OpenAPI paths: {keys:?}"
        );
        // The method appears under that path.
        let start = section.find(&format!("\n  {route_path}:")).unwrap();
        let block_end = section[start + 1..]
            .find("\n  /")
            .map_or(section.len(), |i| start + 1 + i);
        let block = &section[start..block_end];
        assert!(
            block.contains(&format!("\n    {}:", method.to_lowercase())),
            "{template}: method missing in OpenAPI"
        );
        if let Some(q) = query {
            assert!(
                block.contains(&format!("name: {q}")),
                "{template}: parameter {q} missing"
            );
        }
        extras.retain(|e| *e != route_path);
    }
    for extra in extras {
        assert!(
            keys.contains(&extra),
            "{extra} missing from the OpenAPI paths"
        );
    }
}
