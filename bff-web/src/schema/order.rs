//! Orders: the full order, its items expanded into product cards (one batched products call per
//! request), the order connection and the input of `placeOrder`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use shared::graphql::{Money, PageInfo, RequestContext};
use shared::models::{self, Page};

use super::product::ProductCard;

/// Where an order is in its lifecycle: pending → paid → shipped → delivered; pending or paid →
/// cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderStatus {
    /// Placed, not paid yet; can be cancelled.
    Pending,
    /// Paid, not shipped yet; can be cancelled.
    Paid,
    /// On its way; can no longer be cancelled.
    Shipped,
    /// Delivered; can no longer be cancelled.
    Delivered,
    /// Cancelled.
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
pub struct Order(pub models::Order);

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

    /// Whether the order can still be cancelled (pending or paid).
    async fn can_cancel(&self) -> bool {
        self.0.status.can_become(models::OrderStatus::Cancelled)
    }

    /// The ordered lines, each with its product.
    async fn items(&self) -> Vec<OrderItem> {
        self.0
            .items
            .iter()
            .map(|item| OrderItem {
                item: item.clone(),
                currency: self.0.currency.clone(),
            })
            .collect()
    }

    /// How many units the order holds, over all lines.
    async fn item_count(&self) -> i64 {
        self.0.items.iter().map(|item| item.quantity).sum()
    }

    /// The total to pay.
    async fn total(&self) -> Money {
        Money::from_cents(self.0.total_cents, &self.0.currency)
    }

    /// When the order was placed (RFC 3339).
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }

    /// When the order last changed (RFC 3339).
    async fn updated_at(&self) -> &str {
        &self.0.updated_at
    }
}

/// One line of an order, priced when the order was placed.
pub struct OrderItem {
    item: models::OrderItem,
    currency: String,
}

/// One line of an order, priced when the order was placed.
#[Object]
impl OrderItem {
    /// The product ordered (all products of a request load in one batched call); null when it
    /// has left the catalogue.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductCard>> {
        let product = ctx.downstream()?.product(self.item.product_id).await?;
        Ok(product.map(|product| ProductCard(product.into())))
    }

    /// How many units.
    async fn quantity(&self) -> i64 {
        self.item.quantity
    }

    /// The price of one unit when the order was placed.
    async fn unit_price(&self) -> Money {
        Money::from_cents(self.item.unit_price_cents, &self.currency)
    }

    /// Quantity times unit price.
    async fn line_total(&self) -> Money {
        Money::from_cents(
            self.item
                .quantity
                .saturating_mul(self.item.unit_price_cents),
            &self.currency,
        )
    }
}

/// A page of orders, newest first.
#[derive(SimpleObject)]
pub struct OrderConnection {
    /// The orders of this page.
    pub nodes: Vec<Order>,
    /// Where this page ends.
    pub page_info: PageInfo,
}

impl OrderConnection {
    /// The connection of a downstream page.
    pub fn from_page(page: Page<models::Order>) -> Self {
        Self {
            nodes: page.items.into_iter().map(Order).collect(),
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        }
    }
}

/// One line of a new order.
#[derive(Debug, Clone, InputObject)]
pub struct OrderItemInput {
    /// The product to order.
    pub product_id: ID,
    /// How many units (at least 1).
    pub quantity: i32,
}
