//! `Me`: the signed-in customer's profile and their orders.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use shared::graphql::RequestContext;
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

/// The signed-in customer.
pub struct Me(models::User);

impl Me {
    /// The viewer's account.
    pub fn new(user: models::User) -> Self {
        Self(user)
    }
}

/// The signed-in customer: profile and orders.
#[Object]
impl Me {
    /// The viewer's user id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// URL of the avatar.
    async fn avatar_url(&self) -> &str {
        &self.0.avatar_url
    }

    /// Loyalty tier.
    async fn tier(&self) -> Tier {
        self.0.tier.into()
    }

    /// Postal address.
    async fn address(&self) -> Address {
        let a = &self.0.address;
        Address {
            line1: a.line1.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
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
            .orders_of_user(self.0.id, limit, after.as_deref())
            .await?;
        Ok(OrderConnection::from_page(page))
    }
}
