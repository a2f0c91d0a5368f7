//! The product page (`Product` with reviews and related products), product cards and the catalogue.
//!
//! Query plan of the page: [`Product::load`] runs the product (products loader), reviews and
//! related-products calls concurrently (level 1, the last two only when selected). Then review
//! authors go through the users loader and the related products' summaries through the summary
//! loader, both batched and concurrent (level 2). The page's own rating comes from the reviews
//! response, never from a separate summary call.
//!
//! Cards ([`ProductCard`]) hold a [`ProductListing`], the slim view of a product: the catalogue
//! page and the related products are read as listings, so their descriptions and specifications
//! are skipped, never allocated. Listings are not full products, so they never prime the products
//! loader.

use async_graphql::{Context, ID, Object, SimpleObject};
use shared::error::BffResult;
use shared::graphql::{Money, PageInfo, RequestContext};
use shared::loaders::{Downstream, not_found};
use shared::models::{self, Id, Page, ProductListing, ReviewsPage};

use super::{RECENT_REVIEWS, RELATED_PRODUCTS};

/// A product's full page: description, specifications, images, stock, price, reviews and related
/// products.
pub struct Product {
    product: models::Product,
    /// Fetched together with the product when `reviews` is selected; `None`: fetch on demand.
    reviews: Option<BffResult<ReviewsPage>>,
    /// Fetched together with the product when `related` is selected; `None`: fetch on demand.
    related: Option<BffResult<Vec<ProductListing>>>,
}

impl Product {
    /// Loads the product and, concurrently, its reviews and related products when wanted.
    /// An unknown product is NOT_FOUND.
    pub async fn load(
        downstream: &Downstream,
        id: Id,
        want_reviews: bool,
        want_related: bool,
    ) -> BffResult<Self> {
        let clients = downstream.clients();
        let reviews = async {
            if want_reviews {
                Some(clients.reviews(id, RECENT_REVIEWS.max, None).await)
            } else {
                None
            }
        };
        let related = async {
            if want_related {
                Some(clients.related_products_as(id, RELATED_PRODUCTS).await)
            } else {
                None
            }
        };
        let (product, reviews, related) = tokio::join!(downstream.product(id), reviews, related);
        let product = not_found("product", product?)?;
        Ok(Self {
            product,
            reviews,
            related,
        })
    }
}

/// A product's full page: description, specifications, images, stock, price, reviews and
/// related products.
#[Object]
impl Product {
    /// The product's id.
    async fn id(&self) -> ID {
        ID(self.product.id.to_string())
    }

    /// The product's name.
    async fn name(&self) -> &str {
        &self.product.name
    }

    /// The full description (1–3 KB of text, may contain non-ASCII characters).
    async fn description(&self) -> &str {
        &self.product.description
    }

    /// The catalogue category, e.g. "kitchen".
    async fn category(&self) -> &str {
        &self.product.category
    }

    /// The unit price.
    async fn price(&self) -> Money {
        Money::from_cents(self.product.price_cents, &self.product.currency)
    }

    /// Units in stock.
    async fn inventory(&self) -> i64 {
        self.product.inventory
    }

    /// Whether at least one unit is in stock.
    async fn in_stock(&self) -> bool {
        self.product.inventory > 0
    }

    /// The technical specifications, sorted by name.
    async fn specifications(&self) -> Vec<Specification> {
        self.product
            .specifications
            .iter()
            .map(|(name, value)| Specification {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }

    /// Every image of the product, full size with its thumbnail (1 to 6 images).
    async fn images(&self) -> Vec<ProductImage> {
        self.product
            .images
            .iter()
            .map(|image| ProductImage {
                thumbnail_url: image.thumbnail.clone(),
                full_url: image.full.clone(),
            })
            .collect()
    }

    /// When the product entered the catalogue (RFC 3339).
    async fn created_at(&self) -> &str {
        &self.product.created_at
    }

    /// The rating summary and the most recent reviews. Null (with an error) when the reviews
    /// cannot be loaded; the rest of the page still answers.
    async fn reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductReviews>> {
        let page = match &self.reviews {
            Some(page) => page.clone()?,
            None => {
                ctx.downstream()?
                    .clients()
                    .reviews(self.product.id, RECENT_REVIEWS.max, None)
                    .await?
            }
        };
        Ok(Some(ProductReviews(page)))
    }

    /// Up to 8 related products, each with price and rating summary. Null (with an error) when
    /// they cannot be loaded; the rest of the page still answers.
    async fn related(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<ProductCard>>> {
        let related = match &self.related {
            Some(related) => related.clone()?,
            None => {
                ctx.downstream()?
                    .clients()
                    .related_products_as(self.product.id, RELATED_PRODUCTS)
                    .await?
            }
        };
        Ok(Some(related.into_iter().map(ProductCard).collect()))
    }
}

/// One specification of a product.
#[derive(Debug, Clone, SimpleObject)]
pub struct Specification {
    /// What is specified, e.g. "Weight".
    pub name: String,
    /// Its value, e.g. "1.2 kg".
    pub value: String,
}

/// One product image.
#[derive(Debug, Clone, SimpleObject)]
pub struct ProductImage {
    /// URL of the full-size image.
    pub full_url: String,
    /// URL of the thumbnail.
    pub thumbnail_url: String,
}

/// A product's reviews: its rating summary and the most recent reviews.
pub struct ProductReviews(ReviewsPage);

/// A product's reviews: its rating summary and the most recent reviews.
#[Object]
impl ProductReviews {
    /// Average rating over all reviews, 1 to 5 (0 when there are none).
    async fn average_rating(&self) -> f64 {
        self.0.average_rating
    }

    /// How many reviews the product has.
    async fn count(&self) -> i64 {
        self.0.total
    }

    /// The most recent reviews, newest first.
    async fn recent(
        &self,
        #[graphql(desc = "How many reviews: 5 when absent, at most 20 (more is BAD_USER_INPUT).")]
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<Review>> {
        let size = RECENT_REVIEWS.size(first)?;
        Ok(self
            .0
            .items
            .iter()
            .take(size)
            .cloned()
            .map(Review)
            .collect())
    }
}

/// A customer's review of a product.
pub struct Review(models::Review);

/// A customer's review of a product.
#[Object]
impl Review {
    /// The review's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The rating, 1 to 5.
    async fn rating(&self) -> i32 {
        i32::from(self.0.rating)
    }

    /// The review's title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The review's text.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When the review was written (RFC 3339).
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }

    /// Who wrote it (all authors of a page are loaded in one batched call); null when the
    /// account no longer exists.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ReviewAuthor>> {
        let user = ctx.downstream()?.user(self.0.user_id).await?;
        Ok(user.map(|user| ReviewAuthor {
            name: user.name,
            avatar_url: user.avatar_url,
        }))
    }
}

/// The public face of a review's author.
#[derive(Debug, Clone, SimpleObject)]
pub struct ReviewAuthor {
    /// The author's display name.
    pub name: String,
    /// URL of the author's avatar.
    pub avatar_url: String,
}

/// A product's rating summary.
#[derive(Debug, Clone, SimpleObject)]
pub struct RatingSummary {
    /// Average rating, 1 to 5 (0 when there are no reviews).
    pub average_rating: f64,
    /// How many reviews the product has.
    pub count: i64,
}

/// A product as lists show it: name, price, thumbnail, stock and rating summary. Built from the
/// slim [`ProductListing`]; a full product in hand converts with `ProductListing::from`.
pub struct ProductCard(pub ProductListing);

/// A product as lists show it: name, price, thumbnail, stock and rating summary.
#[Object]
impl ProductCard {
    /// The product's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The product's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The catalogue category, e.g. "kitchen".
    async fn category(&self) -> &str {
        &self.0.category
    }

    /// The unit price.
    async fn price(&self) -> Money {
        Money::from_cents(self.0.price_cents, &self.0.currency)
    }

    /// URL of the first image's thumbnail; null when the product has no image.
    async fn thumbnail_url(&self) -> Option<&str> {
        self.0.images.first().map(|image| image.thumbnail.as_str())
    }

    /// Whether at least one unit is in stock.
    async fn in_stock(&self) -> bool {
        self.0.inventory > 0
    }

    /// The rating summary (the cards of a page are summarised in one batched call). Null (with
    /// an error) when it cannot be loaded.
    async fn rating_summary(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<RatingSummary>> {
        let summary = ctx.downstream()?.review_summary(self.0.id).await?;
        Ok(Some(summary.map_or(
            RatingSummary {
                average_rating: 0.0,
                count: 0,
            },
            |s| RatingSummary {
                average_rating: s.average_rating,
                count: s.total,
            },
        )))
    }
}

/// A page of product cards.
#[derive(SimpleObject)]
pub struct ProductConnection {
    /// The products of this page.
    pub nodes: Vec<ProductCard>,
    /// Where this page ends.
    pub page_info: PageInfo,
}

impl ProductConnection {
    /// The connection of a downstream page.
    pub fn from_page(page: Page<ProductListing>) -> Self {
        Self {
            nodes: page.items.into_iter().map(ProductCard).collect(),
            page_info: PageInfo::from_next_cursor(page.next_cursor),
        }
    }
}
