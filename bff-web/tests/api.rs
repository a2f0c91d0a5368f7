//! Integration tests of bff-web against the demo services: exact downstream costs, concurrency of
//! the product page, ownership and cancellation rules, input errors, and the committed SDL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bff_web::Web;
use serde_json::{Value, json};
use shared::error::Service;
use shared::models::OrderStatus;
use shared::server::Bff;
use testkit::{GqlResponse, TestStack};

const PRODUCT_PAGE: &str = r#"
query ProductPage($id: ID!) {
  product(id: $id) {
    id name description category inventory inStock createdAt
    price { amount currency formatted }
    specifications { name value }
    images { thumbnailUrl fullUrl }
    reviews {
      averageRating count
      recent { id rating title body createdAt author { name avatarUrl } }
    }
    related { id name price { formatted } ratingSummary { averageRating count } }
  }
}"#;

const MY_ORDERS: &str = "{ me { name tier address { city } orders(first: 5) { nodes { items { product { name } } } } } }";

fn routes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
}

async fn by_route(stack: &TestStack, service: Service) -> BTreeMap<String, u64> {
    stack.stats(service).await.by_route()
}

/// A product with at least `min_reviews` reviews, from the demo dataset.
fn product_with_reviews(stack: &TestStack, min_reviews: usize) -> i64 {
    let data = stack.demo.data.read().unwrap();
    data.products()
        .iter()
        .map(|p| p.id)
        .find(|&id| data.reviews(id).is_some_and(|r| r.len() >= min_reviews))
        .expect("a product with reviews")
}

/// One error, HTTP 200, with the given code; returns the error.
#[track_caller]
fn single_error(response: &GqlResponse, code: &str) -> Value {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.codes(), vec![code.to_owned()], "{}", response.body);
    response.errors()[0].clone()
}

/// One UNAUTHENTICATED error and no data: the shared server answers such responses with 401.
#[track_caller]
fn unauthenticated(response: &GqlResponse) {
    assert_eq!(response.status, 401, "{}", response.body);
    assert_eq!(
        response.codes(),
        vec!["UNAUTHENTICATED".to_owned()],
        "{}",
        response.body
    );
}

/// An error's extensions without the per-request `requestId`.
fn stable_extensions(error: &Value) -> Value {
    let mut extensions = error["extensions"].clone();
    if let Some(map) = extensions.as_object_mut() {
        map.remove("requestId");
    }
    extensions
}

#[test]
fn sdl_is_current() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/web.graphql"
    ));
    let result = shared::sdl::check_committed(&Web::sdl(), path);
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn every_type_and_field_has_a_description() {
    let missing = shared::sdl::missing_descriptions(&Web::sdl()).unwrap();
    assert!(missing.is_empty(), "missing descriptions: {missing:?}");
}

#[tokio::test]
async fn product_page_costs_exactly_five_calls() {
    let stack = TestStack::start::<Web>().await;
    let id = product_with_reviews(&stack, 5);
    stack.reset_stats().await;

    let response = stack
        .query(PRODUCT_PAGE, json!({ "id": id.to_string() }), None)
        .await;
    let product = &response.ok()["product"];

    assert_eq!(product["id"], id.to_string());
    assert!(product["description"].as_str().unwrap().len() > 500);
    assert!(!product["images"].as_array().unwrap().is_empty());
    assert!(!product["specifications"].as_array().unwrap().is_empty());
    let expected_count = stack.demo.data.read().unwrap().reviews(id).unwrap().len();
    assert_eq!(product["reviews"]["count"], expected_count as i64);
    let recent = product["reviews"]["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 5, "recent defaults to 5");
    assert!(recent.iter().all(|r| r["author"]["name"].is_string()));
    let related = product["related"].as_array().unwrap();
    assert!(!related.is_empty() && related.len() <= 8);
    assert!(related.iter().all(|p| p["ratingSummary"]["count"].is_i64()));

    assert_eq!(
        by_route(&stack, Service::Products).await,
        routes(&[
            ("GET /products?ids", 1),
            ("GET /products/{id}/reviews", 1),
            ("GET /products/{id}/related", 1),
            ("GET /reviews/summary", 1),
        ])
    );
    assert_eq!(
        by_route(&stack, Service::Users).await,
        routes(&[("GET /users?ids", 1)])
    );
    assert_eq!(by_route(&stack, Service::Orders).await, routes(&[]));
}

#[tokio::test]
async fn product_page_runs_on_two_levels_concurrently() {
    let stack = TestStack::start::<Web>().await;
    let id = product_with_reviews(&stack, 5);
    let variables = json!({ "id": id.to_string() });
    // Warm the connection pool without latency.
    stack
        .query(PRODUCT_PAGE, variables.clone(), None)
        .await
        .ok();
    stack.latency_everywhere(100).await;
    stack.reset_stats().await;

    let started = Instant::now();
    let response = stack.query(PRODUCT_PAGE, variables, None).await;
    let elapsed = started.elapsed();
    response.ok();

    println!("product page with 100 ms per call: {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(270),
        "critical path is 2 levels (200 ms); took {elapsed:?}"
    );
    let products = stack.stats(Service::Products).await;
    println!("products max_in_flight: {}", products.max_in_flight);
    assert!(
        products.max_in_flight >= 3,
        "product, reviews and related in flight together: {}",
        products.max_in_flight
    );
}

#[tokio::test]
async fn unknown_or_malformed_product_ids() {
    let stack = TestStack::start::<Web>().await;
    let response = stack
        .query("{ product(id: \"999999\") { name } }", json!({}), None)
        .await;
    single_error(&response, "NOT_FOUND");
    assert_eq!(response.data()["product"], Value::Null);

    let response = stack
        .query("{ product(id: \"abc\") { name } }", json!({}), None)
        .await;
    let error = single_error(&response, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "id");

    let response = stack
        .query(
            "query($id: ID!) { product(id: $id) { reviews { recent(first: 21) { title } } } }",
            json!({ "id": "1" }),
            None,
        )
        .await;
    let error = single_error(&response, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "first");
}

#[tokio::test]
async fn products_page_costs_one_list_and_one_summary_call() {
    let stack = TestStack::start::<Web>().await;
    stack.reset_stats().await;
    let query = "query($after: String) { products(first: 30, after: $after) { \
                 nodes { id name thumbnailUrl price { formatted } ratingSummary { averageRating count } } \
                 pageInfo { hasNextPage endCursor } } }";
    let response = stack.query(query, json!({}), None).await;
    let page = &response.ok()["products"];
    assert_eq!(page["nodes"].as_array().unwrap().len(), 30);
    assert!(
        page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["ratingSummary"]["count"].is_i64())
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        by_route(&stack, Service::Products).await,
        routes(&[("GET /products", 1), ("GET /reviews/summary", 1)])
    );
    assert_eq!(stack.total_calls().await, 2);

    // The cursor leads to the next page.
    let after = page["pageInfo"]["endCursor"].clone();
    let next = stack.query(query, json!({ "after": after }), None).await;
    let first_next = &next.ok()["products"]["nodes"][0]["id"];
    assert_ne!(first_next, &page["nodes"][0]["id"]);
}

#[tokio::test]
async fn bad_page_arguments_are_bad_user_input() {
    let stack = TestStack::start::<Web>().await;
    stack.reset_stats().await;
    let response = stack
        .query("{ products(first: 51) { nodes { id } } }", json!({}), None)
        .await;
    let error = single_error(&response, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "first");
    assert_eq!(stack.total_calls().await, 0, "refused before any call");

    let response = stack
        .query(
            "{ products(after: \"!!!\") { nodes { id } } }",
            json!({}),
            None,
        )
        .await;
    single_error(&response, "BAD_USER_INPUT");

    let response = stack
        .as_customer("{ me { orders(first: 51) { nodes { id } } } }", json!({}))
        .await;
    single_error(&response, "BAD_USER_INPUT");

    let response = stack
        .as_customer(
            "{ me { orders(after: \"!!!\") { nodes { id } } } }",
            json!({}),
        )
        .await;
    single_error(&response, "BAD_USER_INPUT");
}

#[tokio::test]
async fn my_orders_cost_one_call_per_service() {
    let stack = TestStack::start::<Web>().await;
    stack.reset_stats().await;
    let response = stack.as_customer(MY_ORDERS, json!({})).await;
    assert!(response.ok()["me"]["name"].is_string());
    assert!(response.ok()["me"]["address"]["city"].is_string());
    let nodes = response.ok()["me"]["orders"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 5);
    assert!(nodes.iter().all(|order| {
        order["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["product"]["name"].is_string())
    }));
    assert_eq!(
        by_route(&stack, Service::Users).await,
        routes(&[("GET /users?ids", 1)])
    );
    assert_eq!(
        by_route(&stack, Service::Orders).await,
        routes(&[("GET /orders?user_id", 1)])
    );
    assert_eq!(
        by_route(&stack, Service::Products).await,
        routes(&[("GET /products?ids", 1)])
    );

    // Orders alone start from the token's user id: no users call at all.
    stack.reset_stats().await;
    let response = stack
        .as_customer("{ me { orders(first: 5) { nodes { id } } } }", json!({}))
        .await;
    assert_eq!(
        response.ok()["me"]["orders"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(by_route(&stack, Service::Users).await, routes(&[]));
    assert_eq!(
        by_route(&stack, Service::Orders).await,
        routes(&[("GET /orders?user_id", 1)])
    );
}

#[tokio::test]
async fn me_profile_and_orders_load_concurrently() {
    let stack = TestStack::start::<Web>().await;
    stack.latency_everywhere(200).await;
    let started = Instant::now();
    let response = stack
        .as_customer(
            "{ me { name orders(first: 3) { nodes { id } } } }",
            json!({}),
        )
        .await;
    let elapsed = started.elapsed();
    assert!(response.ok()["me"]["name"].is_string());
    // Users and orders in parallel: one 200 ms level, not two (400 ms).
    assert!(
        elapsed < Duration::from_millis(350),
        "profile and orders took {elapsed:?}"
    );
}

#[tokio::test]
async fn me_profile_needs_a_viewer() {
    let stack = TestStack::start::<Web>().await;
    let query = "{ me { id name email avatarUrl tier address { line1 city postalCode country } } }";
    let me = stack.as_customer(query, json!({})).await;
    let me = &me.ok()["me"];
    assert_eq!(me["id"], "2");
    assert!(me["email"].as_str().unwrap().contains('@'));

    let anonymous = stack.query(query, json!({}), None).await;
    unauthenticated(&anonymous);
    assert_eq!(anonymous.data()["me"], Value::Null);

    let bad_token = stack.query(query, json!({}), Some("not-a-jwt")).await;
    unauthenticated(&bad_token);

    let order = stack
        .query("{ order(id: \"1\") { id } }", json!({}), None)
        .await;
    unauthenticated(&order);

    // Public fields still answer next to a refused one (HTTP 200, partial data).
    let mixed = stack
        .query(
            "{ product(id: \"1\") { name } me { name } }",
            json!({}),
            None,
        )
        .await;
    let error = single_error(&mixed, "UNAUTHENTICATED");
    assert_eq!(error["path"], json!(["me"]));
    assert!(mixed.data()["product"]["name"].is_string());
    assert_eq!(mixed.data()["me"], Value::Null);
}

#[tokio::test]
async fn own_order_in_full() {
    let stack = TestStack::start::<Web>().await;
    let expected = {
        let data = stack.demo.data.read().unwrap();
        data.orders_of_user(2, None).next().unwrap().clone()
    };
    let response = stack
        .as_customer(
            "query($id: ID!) { order(id: $id) { id status canCancel itemCount createdAt updatedAt \
             total { amount currency } items { quantity unitPrice { amount } lineTotal { amount } \
             product { id name } } } }",
            json!({ "id": expected.id.to_string() }),
        )
        .await;
    let order = &response.ok()["order"];
    assert_eq!(order["id"], expected.id.to_string());
    let cents = expected.total_cents;
    assert_eq!(
        order["total"]["amount"],
        format!("{}.{:02}", cents / 100, cents % 100)
    );
    assert_eq!(
        order["items"].as_array().unwrap().len(),
        expected.items.len()
    );
    assert_eq!(
        order["items"][0]["product"]["id"],
        expected.items[0].product_id.to_string()
    );
}

#[tokio::test]
async fn another_users_order_is_not_found_like_a_missing_one() {
    let stack = TestStack::start::<Web>().await;
    let foreign = {
        let data = stack.demo.data.read().unwrap();
        data.orders_newest_first(None)
            .find(|o| o.user_id != 2)
            .unwrap()
            .id
    };
    let query = "query($id: ID!) { order(id: $id) { id } }";
    let theirs = stack
        .as_customer(query, json!({ "id": foreign.to_string() }))
        .await;
    let missing = stack.as_customer(query, json!({ "id": "999999" })).await;
    let theirs_error = single_error(&theirs, "NOT_FOUND");
    let missing_error = single_error(&missing, "NOT_FOUND");
    assert_eq!(theirs_error["message"], missing_error["message"]);
    assert_eq!(
        stable_extensions(&theirs_error),
        stable_extensions(&missing_error)
    );
    assert_eq!(theirs.data()["order"], Value::Null);

    // Nor can it be cancelled, and nothing is written.
    stack.reset_stats().await;
    let cancel = stack
        .as_customer(
            "mutation($id: ID!) { cancelOrder(id: $id) { id } }",
            json!({ "id": foreign.to_string() }),
        )
        .await;
    single_error(&cancel, "NOT_FOUND");
    assert_eq!(
        stack
            .stats(Service::Orders)
            .await
            .requests("PATCH /orders/{id}"),
        0
    );
}

const PLACE: &str = "mutation($items: [OrderItemInput!]!) { placeOrder(items: $items) { id status total { amount } items { quantity product { id } } } }";
const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id) { id status canCancel } }";

#[tokio::test]
async fn pending_order_can_be_cancelled_once() {
    let stack = TestStack::start::<Web>().await;
    let placed = stack
        .as_customer(
            PLACE,
            json!({ "items": [{ "productId": "1", "quantity": 1 }, { "productId": "2", "quantity": 2 }] }),
        )
        .await;
    let order = &placed.ok()["placeOrder"];
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    let id = order["id"].as_str().unwrap().to_owned();

    let cancelled = stack.as_customer(CANCEL, json!({ "id": id })).await;
    assert_eq!(cancelled.ok()["cancelOrder"]["status"], "CANCELLED");
    assert_eq!(cancelled.ok()["cancelOrder"]["canCancel"], false);

    stack.reset_stats().await;
    let again = stack.as_customer(CANCEL, json!({ "id": id })).await;
    let error = single_error(&again, "CONFLICT");
    assert_eq!(error["extensions"]["reason"], "ORDER_NOT_CANCELLABLE");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("already cancelled")
    );
    assert_eq!(
        stack
            .stats(Service::Orders)
            .await
            .requests("PATCH /orders/{id}"),
        0
    );
}

#[tokio::test]
async fn shipped_order_cannot_be_cancelled() {
    let stack = TestStack::start::<Web>().await;
    let shipped = {
        let data = stack.demo.data.read().unwrap();
        data.orders_of_user(2, None)
            .find(|o| matches!(o.status, OrderStatus::Shipped | OrderStatus::Delivered))
            .map(|o| (o.id, o.status))
            .expect("user 2 has a shipped or delivered order")
    };
    stack.reset_stats().await;
    let response = stack
        .as_customer(CANCEL, json!({ "id": shipped.0.to_string() }))
        .await;
    let error = single_error(&response, "CONFLICT");
    assert_eq!(error["extensions"]["reason"], "ORDER_NOT_CANCELLABLE");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(shipped.1.as_str()),
        "says why: {error}"
    );
    assert_eq!(
        stack
            .stats(Service::Orders)
            .await
            .requests("PATCH /orders/{id}"),
        0
    );
}

#[tokio::test]
async fn place_order_errors_have_stable_codes() {
    let stack = TestStack::start::<Web>().await;
    stack.reset_stats().await;

    let empty = stack.as_customer(PLACE, json!({ "items": [] })).await;
    let error = single_error(&empty, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "items");

    let zero = stack
        .as_customer(
            PLACE,
            json!({ "items": [{ "productId": "1", "quantity": 0 }] }),
        )
        .await;
    single_error(&zero, "BAD_USER_INPUT");

    let bad_id = stack
        .as_customer(
            PLACE,
            json!({ "items": [{ "productId": "x", "quantity": 1 }] }),
        )
        .await;
    single_error(&bad_id, "BAD_USER_INPUT");
    assert_eq!(
        stack.stats(Service::Orders).await.requests("POST /orders"),
        0,
        "refused before any call"
    );

    let unknown = stack
        .as_customer(
            PLACE,
            json!({ "items": [{ "productId": "999999", "quantity": 1 }] }),
        )
        .await;
    let error = single_error(&unknown, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["reason"], "UNKNOWN_PRODUCT");

    let too_many = stack
        .as_customer(
            PLACE,
            json!({ "items": [{ "productId": "1", "quantity": 1_000_000 }] }),
        )
        .await;
    let error = single_error(&too_many, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["reason"], "INSUFFICIENT_STOCK");

    let anonymous = stack
        .query(
            PLACE,
            json!({ "items": [{ "productId": "1", "quantity": 1 }] }),
            None,
        )
        .await;
    unauthenticated(&anonymous);
}

#[tokio::test]
async fn graphiql_opens_with_example_operations() {
    let stack = TestStack::start::<Web>().await;
    let page = stack
        .http()
        .get(format!("{}/graphiql", stack.bff_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("ProductPage") && page.contains("bff-web"));
}

#[tokio::test]
async fn the_product_page_lives_without_the_users_service() {
    let stack = TestStack::start::<Web>().await;
    let id = product_with_reviews(&stack, 5);
    stack.control(Service::Users, json!({ "down": true })).await;

    let response = stack
        .query(PRODUCT_PAGE, json!({ "id": id.to_string() }), None)
        .await;

    assert_eq!(response.status, 200, "{}", response.body);
    let product = &response.data()["product"];
    assert_eq!(product["id"], id.to_string(), "{}", response.body);
    assert!(product["related"].as_array().is_some_and(|r| !r.is_empty()));
    let recent = product["reviews"]["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 5);
    for (i, review) in recent.iter().enumerate() {
        assert!(review["title"].is_string());
        assert!(
            review["author"].is_null(),
            "author {i} should be null: {review}"
        );
    }
    let errors = response.errors();
    assert_eq!(
        errors.len(),
        5,
        "one error per missing author: {}",
        response.body
    );
    for (i, error) in errors.iter().enumerate() {
        assert_eq!(error["extensions"]["code"], "DOWNSTREAM_UNAVAILABLE");
        assert_eq!(error["extensions"]["service"], "users");
        let path = error["path"].as_array().unwrap();
        assert_eq!(path.last().unwrap(), "author", "error {i}: {error}");
        assert_eq!(
            path[..3],
            [json!("product"), json!("reviews"), json!("recent")]
        );
    }
}
