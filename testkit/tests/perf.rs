//! Integration tests of the performance pass: the parsed-document cache must not change what a
//! client sees (variable-dependent limits still apply to a cached document, a bad document is
//! refused every time), and the zero DataLoader delay must keep batching (exact call counts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use demo_services::DemoConfig;
use serde_json::json;
use testkit::TestStack;

const PAGE: &str = "query ProductsPage($first: Int!) { products(first: $first) { nodes { id name ratingSummary { averageRating count } } } }";

#[tokio::test]
async fn a_cached_document_still_checks_the_page_size_of_each_request() {
    let stack = TestStack::start::<bff_web::Web>().await;
    for _ in 0..3 {
        let ok = stack.query(PAGE, json!({ "first": 5 }), None).await;
        assert_eq!(ok.ok()["products"]["nodes"].as_array().unwrap().len(), 5);
        // Same text (cached), a `first` above the maximum page size: refused every time.
        let refused = stack.query(PAGE, json!({ "first": 1000 }), None).await;
        assert_eq!(refused.codes(), vec!["BAD_USER_INPUT".to_owned()]);
    }
}

#[tokio::test]
async fn a_document_that_does_not_parse_is_refused_every_time() {
    let stack = TestStack::start::<bff_web::Web>().await;
    for _ in 0..3 {
        let refused = stack.query("{ products(first: 5) {", json!({}), None).await;
        assert_eq!(refused.codes(), vec!["GRAPHQL_PARSE_FAILED".to_owned()]);
    }
}

#[tokio::test]
async fn cache_off_and_zero_loader_delay_keep_results_and_batching() {
    let stack = TestStack::start_with::<bff_web::Web>(DemoConfig::small(), |cfg| {
        cfg.edge.document_cache = 0;
        assert!(cfg.loader.delay.is_zero(), "0 is the default delay");
    })
    .await;
    stack.reset_stats().await;
    let page = stack.query(PAGE, json!({ "first": 20 }), None).await;
    let nodes = page.ok()["products"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 20);
    assert!(nodes.iter().all(|n| n["ratingSummary"].is_object()));
    // One search, and the 20 rating summaries in ONE batched call.
    assert_eq!(stack.total_calls().await, 2);
}
