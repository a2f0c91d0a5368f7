//! `Me`: the signed-in customer's profile and their orders.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use shared::graphql::RequestContext;
use shared::loaders::not_found;
use shared::models;

use super::ORDERS_PAGE;
use super::order::OrderConnection;

/// Loyalty tier of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Tier {
    /// The default tier.
    Standard,
    /// Frequent customers.
    Gold,
    /// The best customers.
    Platinum,
}

impl From<models::Tier> for Tier {
    fn from(tier: models::Tier) -> Self {
        match tier {
            models::Tier::Standard => Tier::Standard,
            models::Tier::Gold => Tier::Gold,
            models::Tier::Platinum => Tier::Platinum,
        }
    }
}

/// A postal address.
#[derive(Debug, Clone, SimpleObject)]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// The city.
    pub city: String,
    /// The postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, e.g. "FR".
    pub country: String,
}

/// The signed-in customer. Only the viewer's id is known up front: profile fields load the user
/// (through the request's users loader, so asking for several costs one call) and `orders` starts
/// straight from the id, so `me { orders }` needs no users call and `me { name orders }` runs both
/// reads concurrently.
pub struct Me {
    user_id: models::Id,
}

impl Me {
    /// The viewer with this user id.
    pub fn new(user_id: models::Id) -> Self {
        Self { user_id }
    }

    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<models::User> {
        let user = ctx.downstream()?.user(self.user_id).await?;
        Ok(not_found("user", user)?)
    }
}

/// The signed-in customer: profile and orders.
#[Object]
impl Me {
    /// The viewer's user id.
    async fn id(&self) -> ID {
        ID(self.user_id.to_string())
    }

    /// Display name.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.user(ctx).await?.name)
    }

    /// E-mail address.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.user(ctx).await?.email)
    }

    /// URL of the avatar.
    async fn avatar_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.user(ctx).await?.avatar_url)
    }

    /// Loyalty tier.
    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Tier> {
        Ok(self.user(ctx).await?.tier.into())
    }

    /// Postal address.
    async fn address(&self, ctx: &Context<'_>) -> async_graphql::Result<Address> {
        let a = self.user(ctx).await?.address;
        Ok(Address {
            line1: a.line1,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
        })
    }

    /// The viewer's orders, newest first, each with its items expanded into products.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 10 when absent, at most 50 (more is BAD_USER_INPUT).")]
        first: Option<i32>,
        #[graphql(desc = "The `pageInfo.endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let limit = ORDERS_PAGE.size(first)?;
        let page = ctx
            .downstream()?
            .clients()
            .orders_of_user(self.user_id, limit, after.as_deref())
            .await?;
        Ok(OrderConnection::from_page(page))
    }
}
