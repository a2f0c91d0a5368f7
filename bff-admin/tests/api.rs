//! bff-admin against the demo services: exact downstream cost, concurrency, admin-only access,
//! validation without writes, introspection rules, and the committed SDL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bff_admin::Admin;
use serde_json::{Value, json};
use shared::error::Service;
use shared::server::Bff;
use testkit::demo_services::DemoConfig;
use testkit::{GqlResponse, TestStack, dev_admin_token, dev_customer_token};

fn routes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
}

async fn assert_cost(stack: &TestStack, service: Service, expected: &[(&str, u64)]) {
    assert_eq!(
        stack.stats(service).await.by_route(),
        routes(expected),
        "calls to {service}"
    );
}

#[track_caller]
fn assert_bad_input(response: &GqlResponse, field: &str) {
    let errors = response.errors();
    assert_eq!(errors.len(), 1, "{}", response.body);
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{}",
        response.body
    );
    assert_eq!(errors[0]["extensions"]["field"], field, "{}", response.body);
}

async fn first_order_in(stack: &TestStack, status: &str) -> String {
    let r = stack
        .as_admin(
            "query($s: OrderStatus) { orders(status: $s, first: 1) { nodes { id status } } }",
            json!({ "s": status }),
        )
        .await;
    r.ok()["orders"]["nodes"][0]["id"]
        .as_str()
        .expect("an order in that status")
        .to_owned()
}

#[tokio::test]
async fn sdl_is_current() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/admin.graphql"
    ));
    let checked = shared::sdl::check_committed(&Admin::sdl(), path);
    assert!(checked.is_ok(), "{checked:?}");
}

#[tokio::test]
async fn every_type_and_field_has_a_description() {
    let missing = shared::sdl::missing_descriptions(&Admin::sdl()).unwrap();
    assert!(missing.is_empty(), "missing descriptions: {missing:#?}");
}

#[tokio::test]
async fn a_users_page_with_recent_orders_costs_one_call_per_service() {
    let stack = TestStack::start::<Admin>().await;
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "{ users(first: 20) {
                 nodes { id name email tier role createdAt address { city country }
                         recentOrders(first: 3) { id status total { amount currency } } }
                 pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    let data = r.ok();
    let nodes = data["users"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 20);
    assert!(
        nodes
            .iter()
            .all(|u| u["recentOrders"].as_array().unwrap().len() <= 3)
    );
    assert!(
        nodes
            .iter()
            .any(|u| u["recentOrders"].as_array().unwrap().len() == 3)
    );
    assert_eq!(data["users"]["pageInfo"]["hasNextPage"], true);
    assert_cost(&stack, Service::Users, &[("GET /users", 1)]).await;
    assert_cost(&stack, Service::Orders, &[("GET /orders?user_ids", 1)]).await;
    assert_cost(&stack, Service::Products, &[]).await;
}

#[tokio::test]
async fn an_orders_page_batches_customers_products_and_ratings() {
    let stack = TestStack::start::<Admin>().await;
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "{ orders(first: 20) { nodes { id status total { formatted } nextStatuses
                 customer { id name email }
                 items { quantity unitPrice { amount } lineTotal { amount }
                         product { id name inventory rating { averageRating reviewCount } } } } } }",
            json!({}),
        )
        .await;
    let nodes = r.ok()["orders"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 20);
    assert!(nodes.iter().all(|o| o["customer"]["name"].is_string()));
    assert!(
        nodes
            .iter()
            .flat_map(|o| o["items"].as_array().unwrap().iter())
            .all(|i| i["product"]["name"].is_string())
    );
    assert_cost(&stack, Service::Orders, &[("GET /orders", 1)]).await;
    assert_cost(&stack, Service::Users, &[("GET /users?ids", 1)]).await;
    assert_cost(
        &stack,
        Service::Products,
        &[("GET /products?ids", 1), ("GET /reviews/summary", 1)],
    )
    .await;
}

#[tokio::test]
async fn products_filter_low_stock_per_page_and_reuse_the_page() {
    let stack = TestStack::start::<Admin>().await;
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "{ products(first: 100, lowStock: 20) { nodes { id inventory price { amount }
                 rating { averageRating } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    let nodes = r.ok()["products"]["nodes"].as_array().unwrap().clone();
    assert!(nodes.iter().all(|p| p["inventory"].as_i64().unwrap() <= 20));
    assert_cost(
        &stack,
        Service::Products,
        &[("GET /products", 1), ("GET /reviews/summary", 1)],
    )
    .await;
    let r = stack
        .as_admin("{ products(lowStock: -1) { nodes { id } } }", json!({}))
        .await;
    assert_bad_input(&r, "lowStock");
    let r = stack
        .as_admin("{ products(first: 0) { nodes { id } } }", json!({}))
        .await;
    assert_bad_input(&r, "first");
    // Above the maximum is refused, never capped (by the shared edge limits before the resolver).
    let r = stack
        .as_admin("{ products(first: 101) { nodes { id } } }", json!({}))
        .await;
    assert_bad_input(&r, "first");
    let r = stack
        .as_admin(
            "{ users(first: 1) { nodes { recentOrders(first: 11) { id } } } }",
            json!({}),
        )
        .await;
    assert_bad_input(&r, "first");
}

#[tokio::test]
async fn user_aggregates_share_one_scan_of_the_users_orders() {
    let stack = TestStack::start::<Admin>().await;
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "{ user(id: \"2\") { id name orderCount lifetimeValue { amount currency } } }",
            json!({}),
        )
        .await;
    let user = &r.ok()["user"];
    assert!(user["orderCount"].as_i64().unwrap() >= 5);
    assert!(user["lifetimeValue"]["amount"].is_string());
    assert_cost(&stack, Service::Users, &[("GET /users?ids", 1)]).await;
    assert_cost(&stack, Service::Orders, &[("GET /orders?user_id", 1)]).await;
    let r = stack
        .as_admin("{ user(id: \"999999\") { id } }", json!({}))
        .await;
    assert_eq!(r.codes(), ["NOT_FOUND"]);
    let r = stack
        .as_admin("{ user(id: \"abc\") { id } }", json!({}))
        .await;
    assert_bad_input(&r, "id");
}

#[tokio::test]
async fn the_dashboard_fetches_stats_and_products_concurrently() {
    let stack = TestStack::start::<Admin>().await;
    let query = "{ dashboard(lowStockCount: 5) { totalOrders ordersByStatus { status count }
                   revenue { amount formatted } productsScanned lowestStock { id inventory } } }";
    let warm = stack.as_admin(query, json!({})).await;
    let data = warm.ok()["dashboard"].clone();
    assert_eq!(data["totalOrders"], 2000);
    assert_eq!(data["ordersByStatus"].as_array().unwrap().len(), 5);
    assert_eq!(data["productsScanned"], 100);
    let stock: Vec<i64> = data["lowestStock"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["inventory"].as_i64().unwrap())
        .collect();
    assert_eq!(stock.len(), 5);
    assert!(stock.windows(2).all(|w| w[0] <= w[1]));

    const LATENCY_MS: u64 = 150;
    stack.latency_everywhere(LATENCY_MS).await;
    stack.reset_stats().await;
    let started = Instant::now();
    let r = stack.as_admin(query, json!({})).await;
    let elapsed = started.elapsed();
    r.ok();
    println!("dashboard with {LATENCY_MS} ms per call: {elapsed:?}");
    assert_cost(&stack, Service::Orders, &[("GET /orders/stats", 1)]).await;
    assert_cost(&stack, Service::Products, &[("GET /products", 1)]).await;
    assert_cost(&stack, Service::Users, &[]).await;
    assert!(elapsed >= Duration::from_millis(LATENCY_MS));
    assert!(
        elapsed < Duration::from_millis(LATENCY_MS * 17 / 10),
        "two calls of {LATENCY_MS} ms took {elapsed:?}: not concurrent"
    );
}

/// Every root field and mutation, with variables valid for an admin.
async fn root_operations(stack: &TestStack) -> Vec<(&'static str, String, Value)> {
    let pending = first_order_in(stack, "PENDING").await;
    vec![
        (
            "users",
            "{ users(first: 2) { nodes { id } } }".into(),
            json!({}),
        ),
        ("user", "{ user(id: \"2\") { id } }".into(), json!({})),
        (
            "orders",
            "{ orders(first: 2) { nodes { id } } }".into(),
            json!({}),
        ),
        ("order", "{ order(id: \"1\") { id } }".into(), json!({})),
        (
            "products",
            "{ products(first: 2) { nodes { id } } }".into(),
            json!({}),
        ),
        ("product", "{ product(id: \"1\") { id } }".into(), json!({})),
        (
            "dashboard",
            "{ dashboard { totalOrders } }".into(),
            json!({}),
        ),
        (
            "updateOrderStatus",
            "mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id status } }".into(),
            json!({ "id": pending }),
        ),
        (
            "updateProduct",
            "mutation { updateProduct(id: \"1\", input: { inventory: 42 }) { id inventory } }"
                .into(),
            json!({}),
        ),
        (
            "updateUser",
            "mutation { updateUser(id: \"5\", input: { tier: GOLD }) { id tier } }".into(),
            json!({}),
        ),
    ]
}

#[tokio::test]
async fn every_root_field_and_mutation_needs_an_admin() {
    let stack = TestStack::start::<Admin>().await;
    let operations = root_operations(&stack).await;
    assert_eq!(operations.len(), 10);
    for (name, query, variables) in &operations {
        stack.reset_stats().await;
        let anonymous = stack.query(query, variables.clone(), None).await;
        assert_eq!(
            anonymous.codes(),
            ["UNAUTHENTICATED"],
            "{name}: {}",
            anonymous.body
        );
        let invalid = stack
            .query(query, variables.clone(), Some("not-a-token"))
            .await;
        assert_eq!(
            invalid.codes(),
            ["UNAUTHENTICATED"],
            "{name}: {}",
            invalid.body
        );
        let customer = stack
            .query(query, variables.clone(), Some(&dev_customer_token()))
            .await;
        assert_eq!(customer.codes(), ["FORBIDDEN"], "{name}: {}", customer.body);
        assert_eq!(
            stack.total_calls().await,
            0,
            "{name}: refused but called downstream"
        );
        let admin = stack.as_admin(query, variables.clone()).await;
        let data = admin.ok();
        assert!(data[*name].is_object(), "{name}: {}", admin.body);
    }
}

#[tokio::test]
async fn invalid_input_names_the_field_and_writes_nothing() {
    let stack = TestStack::start::<Admin>().await;
    let update = "mutation($id: ID!, $input: UpdateProductInput!) {
        updateProduct(id: $id, input: $input) { id } }";
    stack.reset_stats().await;
    let cases = [
        (json!({ "price": "-1" }), "price"),
        (json!({ "price": "12.345" }), "price"),
        (json!({ "price": "0.00" }), "price"),
        (json!({ "priceCents": 0 }), "priceCents"),
        (json!({ "price": "1.00", "priceCents": 100 }), "price"),
        (json!({ "inventory": -1 }), "inventory"),
        (json!({ "name": "   " }), "name"),
        (json!({}), "input"),
    ];
    for (input, field) in cases {
        let r = stack
            .as_admin(update, json!({ "id": "1", "input": input }))
            .await;
        assert_bad_input(&r, field);
    }
    let r = stack
        .as_admin(update, json!({ "id": "x1", "input": { "inventory": 3 } }))
        .await;
    assert_bad_input(&r, "id");
    let r = stack
        .as_admin(
            "mutation { updateUser(id: \"5\", input: {}) { id } }",
            json!({}),
        )
        .await;
    assert_bad_input(&r, "input");
    assert_eq!(
        stack.total_calls().await,
        0,
        "validation must precede any call"
    );

    // An unknown product is NOT_FOUND after one read, and nothing is written.
    let r = stack
        .as_admin(
            update,
            json!({ "id": "999999", "input": { "inventory": 3 } }),
        )
        .await;
    assert_eq!(r.codes(), ["NOT_FOUND"]);
    assert_cost(&stack, Service::Products, &[("GET /products/{id}", 1)]).await;
}

#[tokio::test]
async fn a_refused_transition_is_a_conflict_and_writes_nothing() {
    let stack = TestStack::start::<Admin>().await;
    let delivered = first_order_in(&stack, "DELIVERED").await;
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "mutation($id: ID!) { updateOrderStatus(id: $id, status: PENDING) { id } }",
            json!({ "id": delivered }),
        )
        .await;
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{}", r.body);
    assert_eq!(errors[0]["extensions"]["code"], "CONFLICT");
    assert_eq!(errors[0]["extensions"]["reason"], "INVALID_TRANSITION");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("delivered") && message.contains("pending"),
        "{message}"
    );
    assert_cost(&stack, Service::Orders, &[("GET /orders/{id}", 1)]).await;

    // Self-demotion is refused before any call.
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "mutation { updateUser(id: \"1\", input: { role: CUSTOMER }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.codes(), ["CONFLICT"]);
    assert_eq!(stack.total_calls().await, 0);
}

#[tokio::test]
async fn mutations_write_through_after_reading_the_before_state() {
    let stack = TestStack::start::<Admin>().await;
    let paid = first_order_in(&stack, "PAID").await;
    stack.reset_stats().await;
    let r = stack
        .as_admin(
            "mutation($id: ID!) { updateOrderStatus(id: $id, status: SHIPPED) { id status nextStatuses } }",
            json!({ "id": paid }),
        )
        .await;
    let order = &r.ok()["updateOrderStatus"];
    assert_eq!(order["status"], "SHIPPED");
    assert_eq!(order["nextStatuses"], json!(["DELIVERED"]));
    assert_cost(
        &stack,
        Service::Orders,
        &[("GET /orders/{id}", 1), ("PATCH /orders/{id}", 1)],
    )
    .await;

    let r = stack
        .as_admin(
            "mutation { updateProduct(id: \"3\", input: { price: \"12.3\", name: \" Lamp \", inventory: 0 }) {
                 name inventory price { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["updateProduct"],
        json!({ "name": "Lamp", "inventory": 0, "price": { "amount": "12.30" } })
    );
    let r = stack
        .as_admin(
            "mutation { updateUser(id: \"7\", input: { tier: PLATINUM, role: ADMIN }) { tier role } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["updateUser"],
        json!({ "tier": "PLATINUM", "role": "ADMIN" })
    );
    assert_cost(
        &stack,
        Service::Users,
        &[("GET /users/{id}", 1), ("PATCH /users/{id}", 1)],
    )
    .await;
}

const INTROSPECTION: &str = "{ __schema { queryType { name } } }";
const TYPE_INTROSPECTION: &str = "{ __type(name: \"User\") { name } }";

#[tokio::test]
async fn dev_mode_allows_introspection_to_anyone() {
    let stack = TestStack::start::<Admin>().await;
    let r = stack.query(INTROSPECTION, json!({}), None).await;
    assert_eq!(r.ok()["__schema"]["queryType"]["name"], "Query");
    let r = stack.query(TYPE_INTROSPECTION, json!({}), None).await;
    assert_eq!(r.ok()["__type"]["name"], "User");
}

#[tokio::test]
async fn outside_dev_mode_introspection_needs_an_admin() {
    let stack = TestStack::start_with::<Admin>(DemoConfig::small(), |c| c.dev_mode = false).await;
    for query in [
        INTROSPECTION,
        TYPE_INTROSPECTION,
        "query { ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let anonymous = stack.query(query, json!({}), None).await;
        assert_eq!(anonymous.codes(), ["UNAUTHENTICATED"], "{}", anonymous.body);
        assert!(anonymous.data().is_null());
        let customer = stack
            .query(query, json!({}), Some(&dev_customer_token()))
            .await;
        assert_eq!(customer.codes(), ["FORBIDDEN"], "{}", customer.body);
        let admin = stack
            .query(query, json!({}), Some(&dev_admin_token()))
            .await;
        admin.ok();
    }
    // `__typename` is not introspection of the schema.
    let r = stack.query("{ __typename }", json!({}), None).await;
    assert_eq!(r.ok()["__typename"], "Query");
}
