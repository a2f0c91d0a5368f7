//! Integration tests of bff-mobile against the in-process demo services: exact downstream cost,
//! concurrency, field shapes, auth, order privacy, placing orders, page limits and the SDL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLockReadGuard;
use std::time::{Duration, Instant};

use bff_mobile::Mobile;
use serde_json::{Value, json};
use shared::auth::{DEV_SECRET, issue_token};
use shared::error::Service;
use shared::models::Role;
use shared::server::Bff;
use testkit::demo_services::{Dataset, DemoConfig};
use testkit::{DEV_CUSTOMER_ID, TestStack};

const HOME: &str = r#"query Home {
  home {
    viewer { name avatarUrl }
    recentOrders { id status total { amount currency formatted } itemCount }
    featuredProducts { id name price { formatted } thumbnailUrl inStock }
  }
}"#;

async fn stack() -> TestStack {
    TestStack::start::<Mobile>().await
}

fn data(stack: &TestStack) -> RwLockReadGuard<'_, Dataset> {
    stack.demo.data.read().unwrap()
}

fn routes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
}

async fn assert_calls(
    stack: &TestStack,
    users: &[(&str, u64)],
    orders: &[(&str, u64)],
    products: &[(&str, u64)],
) {
    assert_eq!(
        stack.stats(Service::Users).await.by_route(),
        routes(users),
        "users calls"
    );
    assert_eq!(
        stack.stats(Service::Orders).await.by_route(),
        routes(orders),
        "orders calls"
    );
    assert_eq!(
        stack.stats(Service::Products).await.by_route(),
        routes(products),
        "products calls"
    );
}

/// The body without the per-request `extensions.requestId` of each error.
fn without_request_id(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(errors) = body["errors"].as_array_mut() {
        for error in errors {
            if let Some(extensions) = error["extensions"].as_object_mut() {
                extensions.remove("requestId");
            }
        }
    }
    body
}

fn first_error(response: &testkit::GqlResponse) -> Value {
    response.errors().first().cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn home_costs_exactly_three_concurrent_calls() {
    let stack = stack().await;
    // Warm up the connection pool so the timed request measures calls, not TCP handshakes.
    stack.as_customer(HOME, json!({})).await.ok();
    stack.latency_everywhere(200).await;
    stack.reset_stats().await;

    let started = Instant::now();
    let response = stack.as_customer(HOME, json!({})).await;
    let elapsed = started.elapsed();
    let home = &response.ok()["home"];
    println!("home with 200 ms latency on each service: {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(300),
        "three 200 ms calls took {elapsed:?}: not concurrent"
    );
    assert_calls(
        &stack,
        &[("GET /users?ids", 1)],
        &[("GET /orders?user_id", 1)],
        &[("GET /products/featured", 1)],
    )
    .await;

    let data = data(&stack);
    let user = data.user(DEV_CUSTOMER_ID).unwrap();
    assert_eq!(
        home["viewer"],
        json!({ "name": user.name, "avatarUrl": user.avatar_url })
    );
    let expected: Vec<Value> = data
        .orders_of_user(DEV_CUSTOMER_ID, None)
        .take(3)
        .map(|o| json!(o.id.to_string()))
        .collect();
    let ids: Vec<Value> = home["recentOrders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(ids, expected);
    let first = data.orders_of_user(DEV_CUSTOMER_ID, None).next().unwrap();
    let units: i64 = first.items.iter().map(|i| i.quantity).sum();
    assert_eq!(home["recentOrders"][0]["itemCount"], json!(units));
    let featured = home["featuredProducts"].as_array().unwrap();
    assert_eq!(featured.len(), 4);
    assert!(featured.iter().all(|p| p["inStock"] == json!(true)));
}

#[tokio::test]
async fn home_readme_example() {
    let stack = stack().await;
    let response = stack.as_customer(HOME, json!({})).await;
    response.ok();
    println!(
        "{HOME}\n{}",
        serde_json::to_string_pretty(&response.body).unwrap()
    );
}

#[tokio::test]
async fn home_lives_without_a_service() {
    let stack = stack().await;
    stack
        .control(Service::Orders, json!({ "down": true }))
        .await;
    let response = stack.as_customer(HOME, json!({})).await;
    let home = &response.data()["home"];
    assert!(home["viewer"]["name"].is_string());
    assert_eq!(home["featuredProducts"].as_array().unwrap().len(), 4);
    assert_eq!(
        home.get("recentOrders"),
        Some(&Value::Null),
        "an explicit null"
    );
    assert_eq!(response.codes(), ["DOWNSTREAM_UNAVAILABLE"]);
    assert_eq!(
        first_error(&response)["path"],
        json!(["home", "recentOrders"])
    );
}

#[tokio::test]
async fn thirty_orders_with_products_cost_one_orders_call_and_one_products_call() {
    // The small data has ~10 orders per user: more orders so someone has at least 30.
    let config = DemoConfig {
        orders: 10_000,
        ..DemoConfig::small()
    };
    let stack = TestStack::start_with::<Mobile>(config, |_| {}).await;
    let (user_id, expected_ids) = {
        let data = data(&stack);
        let user = data
            .users()
            .iter()
            .filter(|u| u.role == Role::Customer)
            .max_by_key(|u| data.orders_of_user(u.id, None).count())
            .unwrap();
        let ids: Vec<Value> = data
            .orders_of_user(user.id, None)
            .take(30)
            .map(|o| json!(o.id.to_string()))
            .collect();
        (user.id, ids)
    };
    assert_eq!(expected_ids.len(), 30, "a user with 30 orders");
    let token = issue_token(
        DEV_SECRET,
        user_id,
        Role::Customer,
        Duration::from_secs(600),
    );
    stack.reset_stats().await;

    let query = "{ orders(first: 30) { nodes { id items { quantity product { name thumbnailUrl } } } pageInfo { hasNextPage endCursor } } }";
    let response = stack.query(query, json!({}), Some(&token)).await;
    let orders = &response.ok()["orders"];
    let nodes = orders["nodes"].as_array().unwrap();
    let ids: Vec<Value> = nodes.iter().map(|o| o["id"].clone()).collect();
    assert_eq!(ids, expected_ids);
    let lines: Vec<&Value> = nodes
        .iter()
        .flat_map(|o| o["items"].as_array().unwrap())
        .collect();
    assert!(lines.len() >= 30);
    assert!(
        lines
            .iter()
            .all(|l| l["product"]["name"].is_string() && l["product"]["thumbnailUrl"].is_string())
    );
    assert_calls(
        &stack,
        &[],
        &[("GET /orders?user_id", 1)],
        &[("GET /products?ids", 1)],
    )
    .await;
    println!(
        "30 orders, {} lines: 1 orders call + 1 products call",
        lines.len()
    );
}

#[tokio::test]
async fn product_fields_are_trimmed_for_mobile() {
    let stack = stack().await;
    let (multibyte, many_images, out_of_stock) = {
        let data = data(&stack);
        let products = data.products();
        let multibyte = products
            .iter()
            .find(|p| {
                p.description.chars().count() > 200
                    && p.description.chars().take(199).any(|c| c.len_utf8() > 1)
            })
            .unwrap()
            .clone();
        let many_images = products
            .iter()
            .find(|p| p.images.len() > 3)
            .unwrap()
            .clone();
        let out_of_stock = products.iter().find(|p| p.inventory == 0).unwrap().clone();
        (multibyte, many_images, out_of_stock)
    };
    let query = r#"query ($a: ID!, $b: ID!, $c: ID!) {
      a: product(id: $a) { id name price { amount currency formatted } description images inStock }
      b: product(id: $b) { images inStock }
      c: product(id: $c) { inStock }
    }"#;
    let vars = json!({ "a": multibyte.id.to_string(), "b": many_images.id.to_string(), "c": out_of_stock.id.to_string() });
    stack.reset_stats().await;
    // Anonymous: products are public.
    let response = stack.query(query, vars, None).await;
    let data = response.ok();
    assert_calls(&stack, &[], &[], &[("GET /products?ids", 1)]).await;

    let a = &data["a"];
    let description = a["description"].as_str().unwrap();
    assert!(
        description.chars().count() <= 200,
        "{} chars",
        description.chars().count()
    );
    assert!(description.ends_with('…'));
    assert!(
        description.len() > description.chars().count(),
        "multi-byte text kept whole"
    );
    let kept = description.trim_end_matches('…');
    assert!(multibyte.description.starts_with(kept));
    assert_eq!(a["name"], json!(multibyte.name));
    assert_eq!(a["inStock"], json!(multibyte.inventory > 0));
    let cents = multibyte.price_cents;
    assert_eq!(
        a["price"],
        json!({
            "amount": format!("{}.{:02}", cents / 100, cents % 100),
            "currency": "USD",
            "formatted": format!("${}.{:02}", cents / 100, cents % 100),
        })
    );
    let images = a["images"].as_array().unwrap();
    assert!(!images.is_empty() && images.len() <= 3);

    let expected: Vec<Value> = many_images
        .images
        .iter()
        .take(3)
        .map(|i| json!(i.mobile))
        .collect();
    assert_eq!(data["b"]["images"], json!(expected));
    assert_eq!(data["b"]["inStock"], json!(many_images.inventory > 0));
    assert_eq!(data["c"]["inStock"], json!(false));
}

#[tokio::test]
async fn product_ids_unknown_and_invalid() {
    let stack = stack().await;
    let unknown = stack
        .query(r#"{ product(id: "999999") { name } }"#, json!({}), None)
        .await;
    assert_eq!(unknown.ok()["product"], Value::Null);
    let invalid = stack
        .query(r#"{ product(id: "abc") { name } }"#, json!({}), None)
        .await;
    assert_eq!(invalid.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(first_error(&invalid)["extensions"]["field"], json!("id"));
}

#[tokio::test]
async fn viewer_fields_need_a_valid_token() {
    let stack = stack().await;
    stack.reset_stats().await;
    let operations = [
        HOME,
        "{ orders { nodes { id } } }",
        r#"{ order(id: "1") { id } }"#,
        r#"mutation { placeOrder(items: [{ productId: "1", quantity: 1 }]) { id } }"#,
    ];
    for token in [None, Some("not-a-valid-token")] {
        for operation in operations {
            let response = stack.query(operation, json!({}), token).await;
            assert_eq!(
                response.codes(),
                ["UNAUTHENTICATED"],
                "{operation} with {token:?}"
            );
        }
    }
    assert_eq!(stack.total_calls().await, 0);
    // Public fields work anonymously.
    let response = stack
        .query(
            "{ products(first: 2) { nodes { id name } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        response.ok()["products"]["nodes"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn another_users_order_is_not_found_like_a_missing_one() {
    let stack = stack().await;
    let (own, other) = {
        let data = data(&stack);
        let own = data
            .orders_of_user(DEV_CUSTOMER_ID, None)
            .next()
            .unwrap()
            .clone();
        let other = (1..=data.order_count() as i64)
            .filter_map(|id| data.order(id))
            .find(|o| o.user_id != DEV_CUSTOMER_ID)
            .unwrap()
            .clone();
        (own, other)
    };
    let query = "query ($id: ID!) { order(id: $id) { id status total { formatted } createdAt items { quantity product { name } } } }";
    let mine = stack
        .as_customer(query, json!({ "id": own.id.to_string() }))
        .await;
    let order = &mine.ok()["order"];
    assert_eq!(order["id"], json!(own.id.to_string()));
    assert_eq!(order["createdAt"], json!(own.created_at));
    assert_eq!(order["items"].as_array().unwrap().len(), own.items.len());

    let theirs = stack
        .as_customer(query, json!({ "id": other.id.to_string() }))
        .await;
    let missing = stack.as_customer(query, json!({ "id": "99999999" })).await;
    assert_eq!(theirs.codes(), ["NOT_FOUND"]);
    assert_eq!(theirs.data(), &json!({ "order": null }));
    assert_eq!(
        without_request_id(&theirs.body),
        without_request_id(&missing.body),
        "another user's order looks exactly like a missing one"
    );
}

#[tokio::test]
async fn place_order_success_and_errors() {
    let stack = stack().await;
    let (stocked, empty) = {
        let data = data(&stack);
        let stocked = data
            .products()
            .iter()
            .find(|p| p.inventory >= 5)
            .unwrap()
            .clone();
        let empty = data
            .products()
            .iter()
            .find(|p| p.inventory == 0)
            .unwrap()
            .clone();
        (stocked, empty)
    };
    let mutation = "mutation ($items: [OrderLineInput!]!) { placeOrder(items: $items) { id status total { formatted } itemCount items { quantity product { name } } } }";
    let place = |items: Value| stack.as_customer(mutation, json!({ "items": items }));

    // Success.
    let response = place(json!([{ "productId": stocked.id.to_string(), "quantity": 2 }])).await;
    let order = &response.ok()["placeOrder"];
    assert_eq!(order["status"], json!("PENDING"));
    assert_eq!(order["itemCount"], json!(2));
    assert_eq!(order["items"][0]["product"]["name"], json!(stocked.name));
    let cents = stocked.price_cents * 2;
    assert_eq!(
        order["total"]["formatted"],
        json!(format!("${}.{:02}", cents / 100, cents % 100))
    );
    {
        let data = data(&stack);
        let id: i64 = order["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(data.order(id).unwrap().user_id, DEV_CUSTOMER_ID);
        assert_eq!(
            data.product(stocked.id).unwrap().inventory,
            stocked.inventory - 2
        );
    }

    // Checked in the BFF: no downstream call.
    stack.reset_stats().await;
    let zero = place(json!([{ "productId": stocked.id.to_string(), "quantity": 0 }])).await;
    assert_eq!(zero.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        first_error(&zero)["extensions"]["field"],
        json!("items[0].quantity")
    );
    let negative =
        place(json!([{ "productId": "1", "quantity": 1 }, { "productId": "2", "quantity": -3 }]))
            .await;
    assert_eq!(
        first_error(&negative)["extensions"]["field"],
        json!("items[1].quantity")
    );
    let none = place(json!([])).await;
    assert_eq!(none.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(first_error(&none)["extensions"]["field"], json!("items"));
    assert_eq!(
        stack.total_calls().await,
        0,
        "invalid input never reaches the orders service"
    );

    // Refused by the orders service.
    let unknown = place(json!([{ "productId": "999999", "quantity": 1 }])).await;
    assert_eq!(unknown.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        first_error(&unknown)["extensions"]["reason"],
        json!("UNKNOWN_PRODUCT")
    );
    let stock = place(json!([{ "productId": empty.id.to_string(), "quantity": 1 }])).await;
    assert_eq!(stock.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        first_error(&stock)["extensions"]["reason"],
        json!("INSUFFICIENT_STOCK")
    );
    assert_calls(&stack, &[], &[("POST /orders", 2)], &[]).await;
}

#[tokio::test]
async fn page_sizes_are_checked_and_pages_chain() {
    let stack = stack().await;
    stack.reset_stats().await;
    let too_many = stack
        .query("{ products(first: 31) { nodes { id } } }", json!({}), None)
        .await;
    assert_eq!(too_many.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(
        first_error(&too_many)["extensions"]["field"],
        json!("first")
    );
    let too_many = stack
        .as_customer("{ orders(first: 31) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(too_many.codes(), ["BAD_USER_INPUT"]);
    assert_eq!(stack.total_calls().await, 0);

    let query = "query ($after: String) { products(after: $after) { nodes { id name price { formatted } thumbnailUrl inStock } pageInfo { hasNextPage endCursor } } }";
    let first = stack.query(query, json!({}), None).await;
    let page = &first.ok()["products"];
    assert_eq!(
        page["nodes"].as_array().unwrap().len(),
        10,
        "default page size"
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], json!(true));
    let second = stack
        .query(
            query,
            json!({ "after": page["pageInfo"]["endCursor"] }),
            None,
        )
        .await;
    let next = &second.ok()["products"]["nodes"];
    assert_ne!(next[0]["id"], page["nodes"][0]["id"]);
    assert_calls(&stack, &[], &[], &[("GET /products", 2)]).await;
}

#[test]
fn sdl_is_current() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/mobile.graphql"
    ));
    let result = shared::sdl::check_committed(&Mobile::sdl(), path);
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn every_type_and_field_has_a_description() {
    let missing = shared::sdl::missing_descriptions(&Mobile::sdl()).unwrap();
    assert!(missing.is_empty(), "missing descriptions: {missing:?}");
}

/// The real binary, a real SIGTERM: a request in flight completes, then the process exits 0.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let demo = testkit::demo_services::DemoServices::start_local(DemoConfig::small())
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bff-mobile"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BFF_DEV_MODE", "true")
        .env("BFF_LOG", "warn")
        .env("BFF_LISTEN", format!("127.0.0.1:{port}"))
        .env("USERS_SERVICE_URL", demo.users.url())
        .env("ORDERS_SERVICE_URL", demo.orders.url())
        .env("PRODUCTS_SERVICE_URL", demo.products.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the binary did not start");

    // Featured products take a second: the request is in flight when SIGTERM arrives.
    http.post(format!("{}/__control", demo.products.url()))
        .json(&json!({ "latency_ms": 1000 }))
        .send()
        .await
        .unwrap();
    let request = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/graphql");
        async move {
            http.post(url)
                .bearer_auth(testkit::dev_customer_token())
                .json(&json!({ "query": "{ home { viewer { name } featuredProducts { id } } }" }))
                .send()
                .await
                .unwrap()
        }
    });
    // Structural: wait until the products service has the call in flight.
    let mut in_flight = false;
    for _ in 0..200 {
        if demo.products.stats().total > 0 {
            in_flight = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(in_flight, "the request never reached the products service");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let response = request.await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["home"]["featuredProducts"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the process did not exit after SIGTERM")
    });
    assert!(status.success(), "exit status {status:?}");
}
