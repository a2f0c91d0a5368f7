//! `Product` as the back office sees it: full data, inventory and the rating summary (batched).

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use shared::graphql::{Money, RequestContext};
use shared::models;

/// A product of the catalogue.
pub struct Product(pub models::Product);

/// A product of the catalogue, with inventory and rating summary.
#[Object]
impl Product {
    /// The product's id.
    async fn id(&self) -> ID {
        ID::from(self.0.id)
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The full description (1–3 KB of text).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Current price.
    async fn price(&self) -> Money {
        Money::from_cents(self.0.price_cents, &self.0.currency)
    }

    /// Category, e.g. "books".
    async fn category(&self) -> &str {
        &self.0.category
    }

    /// Units in stock.
    async fn inventory(&self) -> i64 {
        self.0.inventory
    }

    /// URL of the first image's thumbnail, if the product has images.
    async fn thumbnail_url(&self) -> Option<&str> {
        self.0.images.first().map(|i| i.thumbnail.as_str())
    }

    /// Specifications, by name.
    async fn specifications(&self) -> Vec<Specification> {
        self.0
            .specifications
            .iter()
            .map(|(name, value)| Specification {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }

    /// When the product was added (RFC 3339).
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }

    /// Rating summary, batched over the request (`GET /reviews/summary`); null when unknown or
    /// when the products service fails.
    async fn rating(&self, ctx: &Context<'_>) -> Result<Option<RatingSummary>> {
        let summary = ctx.downstream()?.review_summary(self.0.id).await?;
        Ok(summary.map(|s| RatingSummary {
            average_rating: s.average_rating,
            review_count: s.total,
        }))
    }
}

/// One specification of a product.
#[derive(SimpleObject)]
pub struct Specification {
    /// What is specified, e.g. "weight".
    pub name: String,
    /// Its value, e.g. "1.2 kg".
    pub value: String,
}

/// A product's ratings in short.
#[derive(SimpleObject)]
pub struct RatingSummary {
    /// Average rating, 1 to 5 (0 without reviews).
    pub average_rating: f64,
    /// How many reviews there are.
    pub review_count: i64,
}
