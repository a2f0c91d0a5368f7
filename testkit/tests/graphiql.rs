//! GraphiQL over HTTP (the real-browser test is `browser-tests/`): the page and every file it
//! loads come from the BFF itself, with the right headers; the examples open one per tab with the
//! dev token in dev mode only; GraphiQL switched off answers a GraphQL error body.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bff_mobile::Mobile;
use serde_json::Value;
use testkit::TestStack;

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .expect("BFF answers")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The JSON configuration block of the page.
fn page_config(html: &str) -> Value {
    let start = html.find("id=\"graphiql-config\">").unwrap() + "id=\"graphiql-config\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[tokio::test]
async fn the_page_and_every_asset_it_loads_come_from_the_bff() {
    let stack = TestStack::start::<Mobile>().await;

    let root = get(&format!("{}/", stack.bff_url)).await;
    assert!(root.status().is_redirection());
    assert_eq!(header(&root, "location"), "/graphiql");

    let page = get(&format!("{}/graphiql", stack.bff_url)).await;
    assert_eq!(page.status(), 200);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "cache-control"), "no-store");
    let csp = header(&page, "content-security-policy").to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();

    // Every script and stylesheet is a local, fingerprinted asset, cacheable for a year.
    let urls: Vec<&str> = html
        .split(['"'])
        .filter(|part| part.starts_with("/graphiql/assets/"))
        .collect();
    assert_eq!(urls.len(), 5, "{urls:?}");
    assert!(!html.contains("http://") && !html.contains("https://"));
    for url in urls {
        assert!(url.contains("?v="), "{url}");
        let asset = get(&format!("{}{url}", stack.bff_url)).await;
        assert_eq!(asset.status(), 200, "{url}");
        assert_eq!(
            header(&asset, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let expected = if url.contains(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            header(&asset, "content-type").starts_with(expected),
            "{url}"
        );
        assert!(!asset.bytes().await.unwrap().is_empty());
    }

    // One tab per example, each with the dev token.
    let config = page_config(&html);
    let tabs = config["tabs"].as_array().unwrap();
    assert!(tabs.len() >= 2, "{config}");
    assert!(tabs[0]["query"].as_str().unwrap().contains("query Home"));
    assert!(tabs.iter().all(|tab| {
        tab["headers"]
            .as_str()
            .is_some_and(|h| h.contains("Bearer ey"))
    }));

    let missing = get(&format!("{}/graphiql/assets/nope.js", stack.bff_url)).await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn outside_dev_mode_no_token_is_prefilled() {
    let stack = TestStack::start_with::<Mobile>(demo_config(), |config| {
        config.dev_mode = false;
    })
    .await;
    let html = get(&format!("{}/graphiql", stack.bff_url))
        .await
        .text()
        .await
        .unwrap();
    let config = page_config(&html);
    assert!(config["headers"].is_null(), "{config}");
    assert!(!html.contains("Bearer"));
}

#[tokio::test]
async fn graphiql_switched_off_answers_a_graphql_error() {
    let stack = TestStack::start_with::<Mobile>(demo_config(), |config| {
        config.graphiql = false;
    })
    .await;
    for path in ["/graphiql", "/graphiql/assets/graphiql.min.js"] {
        let response = get(&format!("{}{path}", stack.bff_url)).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("switched off")
        );
    }
}

fn demo_config() -> testkit::demo_services::DemoConfig {
    testkit::demo_services::DemoConfig::small()
}
