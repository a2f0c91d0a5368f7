//! Products as the phone sees them: a small list item and a trimmed detail (short description,
//! a few mobile-size images; never specifications or full-size images).

use async_graphql::{ID, Object, SimpleObject};
use shared::graphql::{Money, PageInfo, truncate_chars};
use shared::models;

/// Longest description sent, in characters (not bytes).
pub const DESCRIPTION_CHARS: usize = 200;
/// Most images sent with a product.
pub const MAX_IMAGES: usize = 3;

/// A product on its own screen: trimmed for a phone.
pub struct Product(models::Product);

impl From<models::Product> for Product {
    fn from(product: models::Product) -> Self {
        Self(product)
    }
}

/// A product on its own screen: name, price, a short description, a few mobile-size images.
#[Object]
impl Product {
    /// The product's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The product's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The current price.
    async fn price(&self) -> Money {
        Money::from_cents(self.0.price_cents, &self.0.currency)
    }

    /// The description cut to at most 200 characters, ending with "…" when it was cut.
    async fn description(&self) -> String {
        truncate_chars(&self.0.description, DESCRIPTION_CHARS)
    }

    /// URLs of at most 3 mobile-size images, the main image first.
    async fn images(&self) -> Vec<&str> {
        self.0
            .images
            .iter()
            .take(MAX_IMAGES)
            .map(|image| image.mobile.as_str())
            .collect()
    }

    /// Whether at least one unit is in stock.
    async fn in_stock(&self) -> bool {
        self.0.inventory > 0
    }
}

/// A product in a list: just what a row shows.
pub struct ProductSummary(models::Product);

impl From<models::Product> for ProductSummary {
    fn from(product: models::Product) -> Self {
        Self(product)
    }
}

/// A product in a list or an order line: id, name, price, one thumbnail, stock.
#[Object]
impl ProductSummary {
    /// The product's id (open it with `product(id:)`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The product's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The current price.
    async fn price(&self) -> Money {
        Money::from_cents(self.0.price_cents, &self.0.currency)
    }

    /// URL of the main image's thumbnail; null when the product has no image.
    async fn thumbnail_url(&self) -> Option<&str> {
        self.0.images.first().map(|image| image.thumbnail.as_str())
    }

    /// Whether at least one unit is in stock.
    async fn in_stock(&self) -> bool {
        self.0.inventory > 0
    }
}

/// A page of products.
#[derive(SimpleObject)]
pub struct ProductConnection {
    /// The products of this page.
    pub nodes: Vec<ProductSummary>,
    /// Whether more follow, and the cursor to get them.
    pub page_info: PageInfo,
}
