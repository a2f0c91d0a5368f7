//! The root `Query` and `Mutation` of the back office, the admin guard on every root field, and
//! the id and page-size helpers the resolvers share.

pub mod dashboard;
pub mod introspection;
pub mod mutation;
pub mod order;
pub mod product;
pub mod user;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use shared::error::{BffError, BffResult, DownstreamError};
pub use shared::graphql::parse_id;
use shared::graphql::{PageInfo, PageLimits, RequestContext};

pub use mutation::Mutation;

use dashboard::Dashboard;
use order::{Order, OrderStatus};
use product::Product;
use user::User;

/// Page sizes of the user list.
pub const USER_PAGE: PageLimits = PageLimits {
    default: 20,
    max: 100,
};
/// Page sizes of the order list.
pub const ORDER_PAGE: PageLimits = PageLimits {
    default: 20,
    max: 100,
};
/// Page sizes of the product list.
pub const PRODUCT_PAGE: PageLimits = PageLimits {
    default: 20,
    max: 100,
};

/// Lets a field resolve only for an admin viewer: UNAUTHENTICATED without a valid token,
/// FORBIDDEN for a customer. Put on every root field and mutation.
pub struct AdminGuard;

impl async_graphql::Guard for AdminGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        ctx.admin()?;
        Ok(())
    }
}

/// Turns a downstream 404 into NOT_FOUND naming `what` (other errors pass through).
pub fn found<T>(result: BffResult<T>, what: &str) -> BffResult<T> {
    match result {
        Err(BffError::Downstream(DownstreamError::NotFound { .. })) => {
            Err(BffError::NotFound(what.to_owned()))
        }
        other => other,
    }
}

/// A page of users.
#[derive(SimpleObject)]
pub struct UserConnection {
    /// The users of this page.
    pub nodes: Vec<User>,
    /// Where this page ends.
    pub page_info: PageInfo,
}

/// A page of orders.
#[derive(SimpleObject)]
pub struct OrderConnection {
    /// The orders of this page, newest first.
    pub nodes: Vec<Order>,
    /// Where this page ends.
    pub page_info: PageInfo,
}

/// A page of products.
#[derive(SimpleObject)]
pub struct ProductConnection {
    /// The products of this page (after the `lowStock` filter, when given).
    pub nodes: Vec<Product>,
    /// Where this page ends (the downstream page's cursor, also when `lowStock` filtered nodes out).
    pub page_info: PageInfo,
}

/// The back office's read side: every field needs an admin token (UNAUTHENTICATED without one,
/// FORBIDDEN with a customer's).
pub struct Query;

/// The back office's read side: every field needs an admin token (UNAUTHENTICATED without one,
/// FORBIDDEN with a customer's).
#[Object]
impl Query {
    /// Users, optionally matching a search text, in id order. One `GET /users` call; the users'
    /// recent orders are fetched for the whole page in one batched call.
    #[graphql(guard = "AdminGuard")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Text matched against name and email.")] search: Option<String>,
        #[graphql(desc = "Page size: 20 by default, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<UserConnection> {
        ctx.admin()?;
        let size = USER_PAGE.size(first)?;
        let page = ctx
            .downstream()?
            .clients()
            .search_users(search.as_deref(), size, after.as_deref())
            .await?;
        Ok(UserConnection {
            nodes: page.items.into_iter().map(User::new).collect(),
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        })
    }

    /// One user by id; NOT_FOUND when there is no such user.
    #[graphql(guard = "AdminGuard")]
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> Result<Option<User>> {
        ctx.admin()?;
        let id = parse_id("id", &id)?;
        let user = ctx.downstream()?.user(id).await?;
        Ok(Some(User::new(shared::loaders::not_found("user", user)?)))
    }

    /// Orders, newest first, optionally of one status. Customers and products of the whole page
    /// are loaded in one batched call each.
    #[graphql(guard = "AdminGuard")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only orders in this status.")] status: Option<OrderStatus>,
        #[graphql(desc = "Page size: 20 by default, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<OrderConnection> {
        ctx.admin()?;
        let size = ORDER_PAGE.size(first)?;
        let page = ctx
            .downstream()?
            .clients()
            .orders_by_status(status.map(Into::into), size, after.as_deref())
            .await?;
        Ok(OrderConnection {
            nodes: page.items.into_iter().map(Order).collect(),
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        })
    }

    /// One order by id; NOT_FOUND when there is no such order.
    #[graphql(guard = "AdminGuard")]
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's id.")] id: ID,
    ) -> Result<Option<Order>> {
        ctx.admin()?;
        let id = parse_id("id", &id)?;
        let order = ctx.downstream()?.order(id).await?;
        Ok(Some(Order(shared::loaders::not_found("order", order)?)))
    }

    /// Products, in catalogue order, optionally matching a search text and a category.
    /// `lowStock` keeps only products with at most that many units in stock: the products service
    /// has no such filter, so it is applied to each downstream page here. A page may therefore hold
    /// fewer than `first` nodes (even none) while `pageInfo.hasNextPage` is true; to scan the whole
    /// catalogue for low stock, follow the cursors (`first: 100` keeps that to one call per 100
    /// products).
    #[graphql(guard = "AdminGuard")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Text matched against name and category.")] search: Option<String>,
        #[graphql(desc = "Only products of this category, e.g. \"books\".")] category: Option<
            String,
        >,
        #[graphql(
            desc = "Keep only products with at most this many units in stock (filtered per page, see the field's description)."
        )]
        low_stock: Option<i64>,
        #[graphql(desc = "Downstream page size: 20 by default, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<ProductConnection> {
        ctx.admin()?;
        let size = PRODUCT_PAGE.size(first)?;
        if low_stock.is_some_and(|n| n < 0) {
            return Err(BffError::bad_input("lowStock", "lowStock must be at least 0").into());
        }
        let downstream = ctx.downstream()?;
        let page = downstream
            .clients()
            .search_products(
                search.as_deref(),
                category.as_deref(),
                size,
                after.as_deref(),
            )
            .await?;
        downstream.prime_products(&page.items).await;
        let nodes = page
            .items
            .into_iter()
            .filter(|p| low_stock.is_none_or(|max| p.inventory <= max))
            .map(Product)
            .collect();
        Ok(ProductConnection {
            nodes,
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        })
    }

    /// One product by id; NOT_FOUND when there is no such product.
    #[graphql(guard = "AdminGuard")]
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's id.")] id: ID,
    ) -> Result<Option<Product>> {
        ctx.admin()?;
        let id = parse_id("id", &id)?;
        let product = ctx.downstream()?.product(id).await?;
        Ok(Some(Product(shared::loaders::not_found(
            "product", product,
        )?)))
    }

    /// The back-office overview: order counts by status, revenue and the lowest-stock products.
    /// Costs exactly two downstream calls, made concurrently: `GET /orders/stats` and one
    /// `GET /products?limit=100`. There is no lowest-stock endpoint, so the lowest stock is taken
    /// from the first 100 products of the catalogue (`productsScanned` says how many were looked at).
    #[graphql(guard = "AdminGuard")]
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many lowest-stock products to list: 5 by default, at most 20.")]
        low_stock_count: Option<i32>,
    ) -> Result<Dashboard> {
        ctx.admin()?;
        Ok(dashboard::load(ctx, low_stock_count).await?)
    }
}
