//! The dashboard: order counts by status, revenue and the lowest-stock products, from two
//! downstream calls made concurrently (`GET /orders/stats` and `GET /products?limit=100`).

use async_graphql::{Context, SimpleObject};
use serde::Deserialize;
use serde_json::value::RawValue;
use shared::error::{BffError, BffResult, DownstreamError, Service};
use shared::graphql::{Money, PageLimits, RequestContext};
use shared::models;

use super::order::OrderStatus;
use super::product::Product;

/// Sizes of the lowest-stock list.
pub const LOW_STOCK_LIST: PageLimits = PageLimits {
    default: 5,
    max: 20,
};
/// How many products the lowest-stock scan looks at (one downstream page, the contract's maximum).
pub const LOW_STOCK_SCAN: usize = 100;

/// The back-office overview.
#[derive(SimpleObject)]
pub struct Dashboard {
    /// Number of orders in each status (every status listed, in lifecycle order).
    pub orders_by_status: Vec<StatusCount>,
    /// Number of orders over all statuses.
    pub total_orders: i64,
    /// Revenue of every order that is not cancelled.
    pub revenue: Money,
    /// The products with the fewest units in stock among the first `productsScanned` products of
    /// the catalogue, fewest first (ties by id).
    pub lowest_stock: Vec<Product>,
    /// How many products the lowest-stock list was chosen from (at most 100: one downstream page).
    pub products_scanned: i32,
}

/// How many orders are in one status.
#[derive(SimpleObject)]
pub struct StatusCount {
    /// The status.
    pub status: OrderStatus,
    /// Number of orders in it.
    pub count: i64,
}

/// Loads the dashboard: order stats and the first product page, concurrently.
pub async fn load(ctx: &Context<'_>, low_stock_count: Option<i32>) -> BffResult<Dashboard> {
    let count = LOW_STOCK_LIST.size(low_stock_count)?;
    let downstream = ctx.downstream()?;
    let clients = downstream.clients();
    // The scan reads each product's id and inventory only; the few lowest are then read in full
    // (a full read of all 100, descriptions included, was most of this query's CPU and memory).
    let (stats, page) = tokio::try_join!(
        clients.order_stats(),
        clients.search_products_as::<Box<RawValue>>(None, None, LOW_STOCK_SCAN, None)
    )?;
    let orders_by_status: Vec<StatusCount> = models::OrderStatus::ALL
        .into_iter()
        .map(|status| StatusCount {
            status: status.into(),
            count: stats
                .count_by_status
                .get(status.as_str())
                .copied()
                .unwrap_or(0),
        })
        .collect();
    let total_orders = stats.count_by_status.values().sum();
    let products_scanned = i32::try_from(page.items.len()).unwrap_or(i32::MAX);
    let mut scanned = page
        .items
        .iter()
        .map(|raw| Ok((read::<StockKey>(raw)?, raw)))
        .collect::<BffResult<Vec<_>>>()?;
    scanned.sort_by_key(|(key, _)| (key.inventory, key.id));
    let products = scanned
        .iter()
        .take(count)
        .map(|(_, raw)| read::<models::Product>(raw))
        .collect::<BffResult<Vec<_>>>()?;
    downstream.prime_products(&products).await;
    Ok(Dashboard {
        orders_by_status,
        total_orders,
        revenue: Money::from_cents(stats.revenue_cents, &stats.currency),
        lowest_stock: products.into_iter().map(Product).collect(),
        products_scanned,
    })
}

/// What the low-stock scan reads of each product.
#[derive(Deserialize)]
struct StockKey {
    id: models::Id,
    inventory: i64,
}

/// One product of the scanned page, read as `T`; a body off the contract is a decode error.
fn read<T: serde::de::DeserializeOwned>(raw: &RawValue) -> BffResult<T> {
    serde_json::from_str(raw.get()).map_err(|err| {
        BffError::Downstream(DownstreamError::Decode {
            service: Service::Products,
            detail: err.to_string(),
        })
    })
}
