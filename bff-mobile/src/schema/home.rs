//! The home screen in one query: the viewer's name and avatar, their latest orders and the
//! featured products. Its three fields are siblings, so async-graphql resolves them concurrently:
//! three downstream reads, one per service, in parallel.

use async_graphql::{Context, Object, SimpleObject};
use shared::graphql::RequestContext;
use shared::models::Id;

use super::order::Order;
use super::product::ProductSummary;
use super::{HOME_FEATURED_PRODUCTS, HOME_RECENT_ORDERS};

/// The home screen of the signed-in viewer.
pub struct Home {
    user_id: Id,
}

impl Home {
    /// The home screen of a user.
    pub fn new(user_id: Id) -> Self {
        Self { user_id }
    }
}

/// Who is signed in, as the home screen greets them.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The viewer's display name.
    pub name: String,
    /// URL of the viewer's avatar image.
    pub avatar_url: String,
}

/// Everything the home screen shows. Each part is nullable: when one service is down the others
/// still answer, with an error at the missing part's path.
#[Object]
impl Home {
    /// The signed-in viewer.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Viewer>> {
        let viewer = async {
            let user = ctx.downstream()?.user(self.user_id).await?;
            Ok(user.map(|user| Viewer {
                name: user.name,
                avatar_url: user.avatar_url,
            }))
        };
        viewer.await
    }

    /// The viewer's 3 most recent orders, newest first.
    async fn recent_orders(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Order>>> {
        let orders = async {
            let page = ctx
                .downstream()?
                .clients()
                .orders_of_user(self.user_id, HOME_RECENT_ORDERS, None)
                .await?;
            Ok(Some(page.items.into_iter().map(Order::from).collect()))
        };
        orders.await
    }

    /// 4 featured products (best rated, in stock).
    async fn featured_products(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<ProductSummary>>> {
        let featured = async {
            let downstream = ctx.downstream()?;
            let products = downstream
                .clients()
                .featured_products(HOME_FEATURED_PRODUCTS)
                .await?;
            downstream.prime_products(&products).await;
            Ok(Some(
                products.into_iter().map(ProductSummary::from).collect(),
            ))
        };
        featured.await
    }
}
