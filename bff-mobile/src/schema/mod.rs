//! The root operations of the mobile schema, id parsing and the page limits of its connections.

pub mod home;
pub mod order;
pub mod product;

use async_graphql::{Context, ID, Object};
use shared::graphql::{PageInfo, PageLimits, RequestContext, new_order, parse_id};

use home::Home;
use order::{Order, OrderConnection, OrderLineInput};
use product::{Product, ProductConnection, ProductSummary};

/// Page sizes of every connection: 10 by default, at most 30 (more is BAD_USER_INPUT).
pub const PAGE_LIMITS: PageLimits = PageLimits {
    default: 10,
    max: 30,
};

/// How many orders the home screen shows.
pub const HOME_RECENT_ORDERS: usize = 3;
/// How many featured products the home screen shows.
pub const HOME_FEATURED_PRODUCTS: usize = 4;

/// Everything the mobile app can read.
pub struct Query;

/// Everything the mobile app can read: the home screen, products (public), the viewer's orders.
#[Object]
impl Query {
    /// The home screen in one round trip: the viewer, their latest orders and featured products
    /// (three downstream reads, made concurrently). Needs a signed-in viewer (UNAUTHENTICATED
    /// otherwise).
    async fn home(&self, ctx: &Context<'_>) -> async_graphql::Result<Home> {
        let viewer = ctx.viewer()?;
        Ok(Home::new(viewer.user_id))
    }

    /// One product, for the product screen. Public. An unknown id answers null (no error); an id
    /// that is not a positive integer is BAD_USER_INPUT.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's id.")] id: ID,
    ) -> async_graphql::Result<Option<Product>> {
        let product = async {
            let id = parse_id("id", &id)?;
            Ok(ctx.downstream()?.product(id).await?.map(Product::from))
        };
        product.await
    }

    /// Search the catalogue, newest pages first as the products service orders them. Public.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Words to look for in product names and descriptions.")] search: Option<
            String,
        >,
        #[graphql(desc = "Only products of this category, e.g. \"kitchen\".")] category: Option<
            String,
        >,
        #[graphql(desc = "Page size: 10 when absent, at most 30 (more is BAD_USER_INPUT).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page, to get the next one.")]
        after: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        let limit = PAGE_LIMITS.size(first)?;
        let downstream = ctx.downstream()?;
        let page = downstream
            .clients()
            .search_products(
                search.as_deref(),
                category.as_deref(),
                limit,
                after.as_deref(),
            )
            .await?;
        downstream.prime_products(&page.items).await;
        Ok(ProductConnection {
            nodes: page.items.into_iter().map(ProductSummary::from).collect(),
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        })
    }

    /// The viewer's orders, newest first. Needs a signed-in viewer. The items' products of the
    /// whole page are fetched in one batched call.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 10 when absent, at most 30 (more is BAD_USER_INPUT).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page, to get the next one.")]
        after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = ctx.viewer()?;
        let limit = PAGE_LIMITS.size(first)?;
        let page = ctx
            .downstream()?
            .clients()
            .orders_of_user(viewer.user_id, limit, after.as_deref())
            .await?;
        Ok(OrderConnection {
            nodes: page.items.into_iter().map(Order::from).collect(),
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        })
    }

    /// One of the viewer's orders. Needs a signed-in viewer. An unknown id and another user's
    /// order both answer null with a NOT_FOUND error, indistinguishably.
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's id.")] id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        let order = async {
            let viewer = ctx.viewer()?;
            let id = parse_id("id", &id)?;
            let order = ctx.downstream()?.own_order(viewer.user_id, id).await?;
            Ok(Some(Order::from(order)))
        };
        order.await
    }
}

/// Everything the mobile app can change.
pub struct Mutation;

/// Everything the mobile app can change: placing an order.
#[Object]
impl Mutation {
    /// Places an order for the viewer and returns it (status PENDING). Needs a signed-in viewer.
    /// Errors (all BAD_USER_INPUT): no items (`field` "items"), a quantity below 1 (`field`
    /// "items[i].quantity"), an invalid product id (`field` "items[i].productId"); from the orders
    /// service, `reason` UNKNOWN_PRODUCT or INSUFFICIENT_STOCK.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The lines to order; the same product twice is merged.")] items: Vec<
            OrderLineInput,
        >,
    ) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let order = new_order(
            viewer.user_id,
            items.iter().map(|item| (&item.product_id, item.quantity)),
        )?;
        let order = ctx.downstream()?.clients().place_order(&order).await?;
        Ok(Order::from(order))
    }
}
