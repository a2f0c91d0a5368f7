//! Orders as the phone sees them: status, total, date, lines with each product's name and
//! thumbnail (products loaded in one batch for every line of the request), and the order input.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use shared::graphql::{Money, PageInfo, RequestContext};
use shared::models::{self, Id};

use super::product::ProductSummary;

/// Where an order is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderStatus {
    /// Placed, not paid yet.
    Pending,
    /// Paid, waiting to ship.
    Paid,
    /// On its way.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled before shipping.
    Cancelled,
}

impl From<models::OrderStatus> for OrderStatus {
    fn from(status: models::OrderStatus) -> Self {
        match status {
            models::OrderStatus::Pending => OrderStatus::Pending,
            models::OrderStatus::Paid => OrderStatus::Paid,
            models::OrderStatus::Shipped => OrderStatus::Shipped,
            models::OrderStatus::Delivered => OrderStatus::Delivered,
            models::OrderStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

/// One of the viewer's orders.
pub struct Order(models::Order);

impl From<models::Order> for Order {
    fn from(order: models::Order) -> Self {
        Self(order)
    }
}

/// One of the viewer's orders.
#[Object]
impl Order {
    /// The order's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Where the order is in its lifecycle.
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }

    /// What the order costs in total.
    async fn total(&self) -> Money {
        Money::from_cents(self.0.total_cents, &self.0.currency)
    }

    /// When the order was placed (RFC 3339).
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }

    /// How many units the order holds: the sum of its lines' quantities.
    async fn item_count(&self) -> i32 {
        let units: i64 = self.0.items.iter().map(|item| item.quantity).sum();
        i32::try_from(units).unwrap_or(i32::MAX)
    }

    /// The order's lines.
    async fn items(&self) -> Vec<OrderLine> {
        self.0
            .items
            .iter()
            .map(|item| OrderLine {
                item: item.clone(),
                currency: self.0.currency.clone(),
            })
            .collect()
    }
}

/// One line of an order.
pub struct OrderLine {
    item: models::OrderItem,
    currency: String,
}

/// One line of an order: a product, how many, at what price.
#[Object]
impl OrderLine {
    /// How many units.
    async fn quantity(&self) -> i32 {
        i32::try_from(self.item.quantity).unwrap_or(i32::MAX)
    }

    /// The price of one unit when the order was placed.
    async fn unit_price(&self) -> Money {
        Money::from_cents(self.item.unit_price_cents, &self.currency)
    }

    /// The product; null when it is no longer in the catalogue. Loaded in one batched call with
    /// every other line of the request.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductSummary>> {
        let id: Id = self.item.product_id;
        let product = async {
            Ok(ctx
                .downstream()?
                .product(id)
                .await?
                .map(ProductSummary::from))
        };
        product.await
    }
}

/// A page of the viewer's orders.
#[derive(SimpleObject)]
pub struct OrderConnection {
    /// The orders of this page, newest first.
    pub nodes: Vec<Order>,
    /// Whether more follow, and the cursor to get them.
    pub page_info: PageInfo,
}

/// One line of a new order.
#[derive(Debug, Clone, InputObject)]
pub struct OrderLineInput {
    /// The product to order.
    pub product_id: ID,
    /// How many units; at least 1.
    pub quantity: i32,
}
