//! `User` as the back office sees it: account data, address, recent orders, and the per-user
//! aggregates (order count, lifetime value) computed from the user's orders on demand.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use shared::error::{BffError, BffResult};
use shared::graphql::{Money, PageLimits, RequestContext};
use shared::models;
use tokio::sync::OnceCell;

use super::order::Order;

/// Sizes of `User.recentOrders`.
pub const RECENT_ORDERS: PageLimits = PageLimits {
    default: 3,
    max: 10,
};

/// Page size of the aggregate scan (the contract's maximum).
const AGGREGATE_PAGE: usize = 100;
/// Most pages the aggregate scan reads (10,000 orders) before giving up.
const AGGREGATE_MAX_PAGES: usize = 100;

/// A user account.
pub struct User {
    inner: models::User,
    /// Order count and lifetime value, computed at most once per user object and request.
    aggregate: OnceCell<Aggregate>,
}

#[derive(Debug, Clone)]
struct Aggregate {
    count: i64,
    /// Non-cancelled orders' totals, in cents.
    value_cents: i64,
    /// Currency of the user's orders (the orders service prices everything in one currency).
    currency: String,
}

impl User {
    /// Wraps a downstream user.
    pub fn new(inner: models::User) -> Self {
        Self {
            inner,
            aggregate: OnceCell::new(),
        }
    }

    /// Pages through `GET /orders?user_id` (100 per call, sequentially) once per user object.
    async fn aggregate(&self, ctx: &Context<'_>) -> BffResult<&Aggregate> {
        let clients = ctx.downstream()?.clients();
        let user_id = self.inner.id;
        self.aggregate
            .get_or_try_init(|| async {
                let mut total = Aggregate {
                    count: 0,
                    value_cents: 0,
                    currency: "USD".to_owned(),
                };
                let mut after: Option<String> = None;
                for _ in 0..AGGREGATE_MAX_PAGES {
                    let page = clients
                        .orders_of_user(user_id, AGGREGATE_PAGE, after.as_deref())
                        .await?;
                    for order in &page.items {
                        total.count += 1;
                        if order.status != models::OrderStatus::Cancelled {
                            total.value_cents += order.total_cents;
                        }
                    }
                    if let (true, Some(first)) = (after.is_none(), page.items.first()) {
                        total.currency.clone_from(&first.currency);
                    }
                    match page.next_cursor {
                        Some(next) => after = Some(next),
                        None => return Ok(total),
                    }
                }
                Err(BffError::Internal(format!(
                    "user {user_id} has more than {} orders; aggregate not computed",
                    AGGREGATE_PAGE * AGGREGATE_MAX_PAGES
                )))
            })
            .await
    }
}

/// A user account as the back office sees it.
#[Object]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID::from(self.inner.id)
    }

    /// Full name.
    async fn name(&self) -> &str {
        &self.inner.name
    }

    /// E-mail address.
    async fn email(&self) -> &str {
        &self.inner.email
    }

    /// URL of the avatar image.
    async fn avatar_url(&self) -> &str {
        &self.inner.avatar_url
    }

    /// Postal address.
    async fn address(&self) -> Address {
        Address::from(&self.inner.address)
    }

    /// Loyalty tier.
    async fn tier(&self) -> Tier {
        self.inner.tier.into()
    }

    /// What the account may do.
    async fn role(&self) -> Role {
        self.inner.role.into()
    }

    /// When the account was created (RFC 3339).
    async fn created_at(&self) -> &str {
        &self.inner.created_at
    }

    /// The user's newest orders, newest first. Batched: one `GET /orders?user_ids` call for all the
    /// users of the request asking the same `first`. Null (with an error) when the orders service fails.
    async fn recent_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many orders: 3 by default, at most 10.")] first: Option<i32>,
    ) -> Result<Option<Vec<Order>>> {
        let per_user = RECENT_ORDERS.size(first)?;
        let orders = ctx
            .downstream()?
            .recent_orders(self.inner.id, per_user)
            .await?;
        Ok(Some(orders.into_iter().map(Order).collect()))
    }

    /// How many orders the user ever placed (any status). Costly: the contract has no per-user
    /// aggregate, so this pages through all of the user's orders (`GET /orders?user_id`, 100 per
    /// call, one call per 100 orders, per user). Shared with `lifetimeValue` when both are asked.
    /// Avoid on long lists.
    async fn order_count(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        Ok(Some(self.aggregate(ctx).await?.count))
    }

    /// Sum of the totals of the user's orders that are not cancelled. Costly in the same way as
    /// `orderCount` (one `GET /orders?user_id` call per 100 orders of the user; computed once for both).
    async fn lifetime_value(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        let aggregate = self.aggregate(ctx).await?;
        Ok(Some(Money::from_cents(
            aggregate.value_cents,
            &aggregate.currency,
        )))
    }
}

/// A postal address.
#[derive(SimpleObject)]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl From<&models::Address> for Address {
    fn from(a: &models::Address) -> Self {
        Self {
            line1: a.line1.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// Loyalty tier of a customer.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The default tier.
    Standard,
    /// Frequent customers.
    Gold,
    /// The best customers.
    Platinum,
}

impl From<models::Tier> for Tier {
    fn from(t: models::Tier) -> Self {
        match t {
            models::Tier::Standard => Tier::Standard,
            models::Tier::Gold => Tier::Gold,
            models::Tier::Platinum => Tier::Platinum,
        }
    }
}

impl From<Tier> for models::Tier {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Standard => models::Tier::Standard,
            Tier::Gold => models::Tier::Gold,
            Tier::Platinum => models::Tier::Platinum,
        }
    }
}

/// What an account may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Shops in the stores.
    Customer,
    /// Runs the back office.
    Admin,
}

impl From<models::Role> for Role {
    fn from(r: models::Role) -> Self {
        match r {
            models::Role::Customer => Role::Customer,
            models::Role::Admin => Role::Admin,
        }
    }
}

impl From<Role> for models::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Customer => models::Role::Customer,
            Role::Admin => models::Role::Admin,
        }
    }
}
