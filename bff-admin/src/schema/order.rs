//! `Order`, its lines and its status, with the customer and the products expanded through the
//! per-request loaders (batched across a page).

use async_graphql::{Context, Enum, ID, Object, Result};
use shared::graphql::{Money, RequestContext};
use shared::models;

use super::product::Product;
use super::user::User;

/// An order.
pub struct Order(pub models::Order);

/// An order, with its customer and products.
#[Object]
impl Order {
    /// The order's id.
    async fn id(&self) -> ID {
        ID::from(self.0.id)
    }

    /// Where the order is in its lifecycle.
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }

    /// Statuses the order may move to next (what `updateOrderStatus` accepts).
    async fn next_statuses(&self) -> Vec<OrderStatus> {
        models::OrderStatus::ALL
            .into_iter()
            .filter(|s| self.0.status.can_become(*s))
            .map(Into::into)
            .collect()
    }

    /// Id of the customer who placed the order.
    async fn customer_id(&self) -> ID {
        ID::from(self.0.user_id)
    }

    /// The customer who placed it (batched over the request); null when the account no longer
    /// exists or the users service fails.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let user = ctx.downstream()?.user(self.0.user_id).await?;
        Ok(user.map(User::new))
    }

    /// The order's lines.
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

    /// Total number of units over all lines.
    async fn item_count(&self) -> i64 {
        self.0.items.iter().map(|i| i.quantity).sum()
    }

    /// The order's total.
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

/// One line of an order.
pub struct OrderItem {
    item: models::OrderItem,
    currency: String,
}

/// One line of an order, priced when the order was placed.
#[Object]
impl OrderItem {
    /// Id of the product ordered.
    async fn product_id(&self) -> ID {
        ID::from(self.item.product_id)
    }

    /// The product ordered (batched over the request); null when it no longer exists or the
    /// products service fails.
    async fn product(&self, ctx: &Context<'_>) -> Result<Option<Product>> {
        let product = ctx.downstream()?.product(self.item.product_id).await?;
        Ok(product.map(Product))
    }

    /// Units ordered.
    async fn quantity(&self) -> i64 {
        self.item.quantity
    }

    /// Price of one unit when the order was placed.
    async fn unit_price(&self) -> Money {
        Money::from_cents(self.item.unit_price_cents, &self.currency)
    }

    /// Quantity × unit price.
    async fn line_total(&self) -> Money {
        Money::from_cents(
            self.item
                .quantity
                .saturating_mul(self.item.unit_price_cents),
            &self.currency,
        )
    }
}

/// Lifecycle of an order: PENDING → PAID → SHIPPED → DELIVERED; PENDING or PAID → CANCELLED.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Placed, not paid yet.
    Pending,
    /// Paid, waiting to be shipped.
    Paid,
    /// On its way.
    Shipped,
    /// Arrived (final).
    Delivered,
    /// Cancelled before shipping (final).
    Cancelled,
}

impl From<models::OrderStatus> for OrderStatus {
    fn from(s: models::OrderStatus) -> Self {
        match s {
            models::OrderStatus::Pending => OrderStatus::Pending,
            models::OrderStatus::Paid => OrderStatus::Paid,
            models::OrderStatus::Shipped => OrderStatus::Shipped,
            models::OrderStatus::Delivered => OrderStatus::Delivered,
            models::OrderStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

impl From<OrderStatus> for models::OrderStatus {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Pending => models::OrderStatus::Pending,
            OrderStatus::Paid => models::OrderStatus::Paid,
            OrderStatus::Shipped => models::OrderStatus::Shipped,
            OrderStatus::Delivered => models::OrderStatus::Delivered,
            OrderStatus::Cancelled => models::OrderStatus::Cancelled,
        }
    }
}
