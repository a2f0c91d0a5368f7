//! The root `Query` and `Mutation` of the web schema, plus helpers shared by its modules.

pub mod order;
pub mod product;
pub mod viewer;

use async_graphql::{Context, ID, Object};
use shared::error::{BffError, DownstreamError};
use shared::graphql::{PageLimits, RequestContext, new_order, parse_id};
use shared::models::{Id, OrderStatus, ProductListing};

use order::{Order, OrderItemInput};
use product::{Product, ProductConnection};
use viewer::Me;

/// Page sizes of `products`.
pub const PRODUCTS_PAGE: PageLimits = PageLimits {
    default: 20,
    max: 50,
};
/// Page sizes of `me.orders`.
pub const ORDERS_PAGE: PageLimits = PageLimits {
    default: 10,
    max: 50,
};
/// Sizes of `Product.reviews.recent`; the page fetches the maximum once and slices it.
pub const RECENT_REVIEWS: PageLimits = PageLimits {
    default: 5,
    max: 20,
};
/// How many related products the product page shows.
pub const RELATED_PRODUCTS: usize = 8;

/// The reason sent with every refused cancellation.
pub const ORDER_NOT_CANCELLABLE: &str = "ORDER_NOT_CANCELLABLE";

/// The read operations of the web frontend.
pub struct Query;

/// The read operations of the web frontend.
#[Object]
impl Query {
    /// The product page: everything about one product (description, specifications, images,
    /// stock, price, reviews and related products). Anonymous access. An unknown id answers null
    /// with a NOT_FOUND error; a non-numeric id is BAD_USER_INPUT.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's id.")] id: ID,
    ) -> async_graphql::Result<Option<Product>> {
        let id = parse_id("id", &id)?;
        let look_ahead = ctx.look_ahead();
        let page = Product::load(
            ctx.downstream()?,
            id,
            look_ahead.field("reviews").exists(),
            look_ahead.field("related").exists(),
        )
        .await?;
        Ok(Some(page))
    }

    /// The catalogue: products matching a search text and/or a category, a page at a time, each
    /// with its rating summary. Anonymous access.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Text to look for in product names and categories.")] search: Option<
            String,
        >,
        #[graphql(desc = "Only products of this category (e.g. \"kitchen\").")] category: Option<
            String,
        >,
        #[graphql(desc = "Page size: 20 when absent, at most 50 (more is BAD_USER_INPUT).")]
        first: Option<i32>,
        #[graphql(desc = "The `pageInfo.endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        let limit = PRODUCTS_PAGE.size(first)?;
        // Read as slim listings: a card never shows descriptions or specifications.
        let page = ctx
            .downstream()?
            .clients()
            .search_products_as::<ProductListing>(
                search.as_deref(),
                category.as_deref(),
                limit,
                after.as_deref(),
            )
            .await?;
        Ok(ProductConnection::from_page(page))
    }

    /// The signed-in customer: profile and orders. UNAUTHENTICATED without a valid token.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Me>> {
        let viewer = ctx.viewer()?;
        Ok(Some(Me::new(viewer.user_id)))
    }

    /// One of the viewer's orders in full. UNAUTHENTICATED without a token; another customer's
    /// order is NOT_FOUND exactly like an order that does not exist.
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's id.")] id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        Ok(Some(Order(
            ctx.downstream()?.own_order(viewer.user_id, id).await?,
        )))
    }
}

/// The write operations of the web frontend; all need a signed-in viewer.
pub struct Mutation;

/// The write operations of the web frontend; all need a signed-in viewer.
#[Object]
impl Mutation {
    /// Places an order for the viewer; the orders service prices the items and checks stock.
    /// An empty list (`field` "items"), an invalid product id ("items[i].productId") or a quantity
    /// below 1 ("items[i].quantity") are BAD_USER_INPUT, refused before anything is written;
    /// unknown products and insufficient stock are BAD_USER_INPUT with `extensions.reason`
    /// (`UNKNOWN_PRODUCT`, `INSUFFICIENT_STOCK`).
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The products and quantities to order (at least one line).")] items: Vec<
            OrderItemInput,
        >,
    ) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let order = new_order(
            viewer.user_id,
            items.iter().map(|item| (&item.product_id, item.quantity)),
        )?;
        let order = ctx.downstream()?.clients().place_order(&order).await?;
        Ok(Order(order))
    }

    /// Cancels one of the viewer's orders. Only pending or paid orders can be cancelled: any
    /// other status is a CONFLICT with `extensions.reason` `ORDER_NOT_CANCELLABLE`, decided
    /// before anything is written. Another customer's order is NOT_FOUND.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the order to cancel.")] id: ID,
    ) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let order = ctx.downstream()?.own_order(viewer.user_id, id).await?;
        if !order.status.can_become(OrderStatus::Cancelled) {
            return Err(not_cancellable(id, Some(order.status)).into());
        }
        let updated = ctx
            .downstream()?
            .clients()
            .update_order_status(id, OrderStatus::Cancelled)
            .await
            .map_err(|err| match err {
                // The status changed between our read and the write.
                BffError::Downstream(DownstreamError::Rejected { status: 409, .. }) => {
                    not_cancellable(id, None)
                }
                other => other,
            })?;
        Ok(Order(updated))
    }
}

fn not_cancellable(id: Id, status: Option<OrderStatus>) -> BffError {
    let message = match status {
        Some(OrderStatus::Cancelled) => format!("order {id} is already cancelled"),
        Some(status) => format!(
            "order {id} is {} and can no longer be cancelled",
            status.as_str()
        ),
        None => format!("order {id} can no longer be cancelled"),
    };
    BffError::Conflict {
        message,
        reason: ORDER_NOT_CANCELLABLE.to_owned(),
    }
}
