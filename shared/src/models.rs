//! The downstream contract (v1) as Rust types: what the users, orders and products services send
//! and accept. `schema/downstream.openapi.yaml` is the same contract for humans and other tools;
//! the demo services serialise these very types, and the contract tests check both against it.
//! [`ProductListing`] is the one read-only view: a slim reading of a `Product` body for lists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Identifier of any downstream entity (users, orders, products, reviews).
pub type Id = i64;

/// A user account, as the users service returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub name: String,
    pub email: String,
    pub avatar_url: String,
    pub role: Role,
    pub tier: Tier,
    pub address: Address,
    /// RFC 3339 timestamp.
    pub created_at: String,
}

/// What a user may do: customers shop, admins run the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Admin,
}

/// Loyalty tier of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Standard,
    Gold,
    Platinum,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// Body of `PATCH /users/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

/// An order, as the orders service returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: Id,
    pub user_id: Id,
    pub status: OrderStatus,
    pub items: Vec<OrderItem>,
    pub total_cents: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One line of an order, priced when the order was placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_id: Id,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// Lifecycle of an order: pending → paid → shipped → delivered; pending or paid → cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The contract's wire name (`"pending"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Whether the orders service allows moving from `self` to `next`.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid)
                | (Paid, Shipped)
                | (Shipped, Delivered)
                | (Pending, Cancelled)
                | (Paid, Cancelled)
        )
    }
}

/// Body of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOrder {
    pub user_id: Id,
    pub items: Vec<NewOrderItem>,
}

/// One requested line of a new order; the service prices it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOrderItem {
    pub product_id: Id,
    pub quantity: i64,
}

/// Body of `PATCH /orders/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPatch {
    pub status: OrderStatus,
}

/// `GET /orders/stats`: counts and revenue over all orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderStats {
    pub count_by_status: BTreeMap<String, i64>,
    /// Revenue of every order that is not cancelled, in cents.
    pub revenue_cents: i64,
    pub currency: String,
}

/// A product of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: Id,
    pub name: String,
    /// Long text (typically 1–3 KB), may contain non-ASCII characters.
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub category: String,
    /// Units in stock.
    pub inventory: i64,
    /// 1–6 images, each in three sizes.
    pub images: Vec<ProductImage>,
    /// Specification name → value.
    pub specifications: BTreeMap<String, String>,
    pub created_at: String,
}

/// One product image in its three sizes (URLs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductImage {
    pub thumbnail: String,
    pub mobile: String,
    pub full: String,
}

/// A slim, read-only view of a [`Product`]: what a product card (name, price, thumbnail, stock)
/// needs, read from the same JSON as a full product. It exists for speed: serde skips the fields
/// it lacks (the 1–3 KB, often non-ASCII `description`, the `specifications`, the larger image
/// sizes) without allocating them, and decoding full products was about a fifth of a product
/// page's CPU. Unknown fields are ignored (no model denies them), so any contract `Product` body
/// reads as a listing. Use it with `search_products_as` / `related_products_as`; never write it
/// back to a service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductListing {
    pub id: Id,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub category: String,
    /// Units in stock.
    pub inventory: i64,
    /// The product's images, thumbnail only.
    pub images: Vec<ImageThumbnail>,
}

/// The thumbnail of a [`ProductImage`], as a [`ProductListing`] reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ImageThumbnail {
    pub thumbnail: String,
}

/// A full product already in hand (e.g. from the products loader) as a listing.
impl From<Product> for ProductListing {
    fn from(product: Product) -> Self {
        Self {
            id: product.id,
            name: product.name,
            price_cents: product.price_cents,
            currency: product.currency,
            category: product.category,
            inventory: product.inventory,
            images: product
                .images
                .into_iter()
                .map(|image| ImageThumbnail {
                    thumbnail: image.thumbnail,
                })
                .collect(),
        }
    }
}

/// Body of `PATCH /products/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A customer's review of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub id: Id,
    pub product_id: Id,
    pub user_id: Id,
    /// 1 to 5.
    pub rating: u8,
    pub title: String,
    pub body: String,
    pub created_at: String,
}

/// `GET /products/{id}/reviews`: a page of reviews plus the product's rating summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewsPage {
    pub average_rating: f64,
    pub total: i64,
    pub items: Vec<Review>,
    pub next_cursor: Option<String>,
}

/// `GET /reviews/summary`: one product's rating summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewSummary {
    pub product_id: Id,
    pub average_rating: f64,
    pub total: i64,
}

/// A page of a cursor-paginated list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Every error response of the contract: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The payload of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `insufficient_stock`.
    pub code: String,
    pub message: String,
}

/// Most ids any `ids=` parameter accepts.
pub const MAX_IDS_PER_CALL: usize = 100;

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    /// A full `Product` body as the contract defines it (every required field, a non-ASCII
    /// description with escapes, specifications, several images).
    const FULL_PRODUCT: &str = r#"{
        "id": 42,
        "name": "Théière en fonte",
        "description": "Une théière « robuste » — 1,2 L.\nÉmaillée à l'intérieur; \"classique\" \u00e9 ☕ 日本製",
        "price_cents": 4599,
        "currency": "EUR",
        "category": "kitchen",
        "inventory": 7,
        "images": [
            {"thumbnail": "https://img.example/42/0/t.jpg", "mobile": "https://img.example/42/0/m.jpg", "full": "https://img.example/42/0/f.jpg"},
            {"thumbnail": "https://img.example/42/1/t.jpg", "mobile": "https://img.example/42/1/m.jpg", "full": "https://img.example/42/1/f.jpg"}
        ],
        "specifications": {"Capacité": "1,2 L", "Weight": "1.8 kg"},
        "created_at": "2024-03-01T10:00:00Z"
    }"#;

    #[test]
    fn a_full_product_reads_as_a_listing() {
        let listing: ProductListing = serde_json::from_str(FULL_PRODUCT).expect("listing");
        assert_eq!(
            listing,
            ProductListing {
                id: 42,
                name: "Théière en fonte".to_owned(),
                price_cents: 4599,
                currency: "EUR".to_owned(),
                category: "kitchen".to_owned(),
                inventory: 7,
                images: vec![
                    ImageThumbnail {
                        thumbnail: "https://img.example/42/0/t.jpg".to_owned()
                    },
                    ImageThumbnail {
                        thumbnail: "https://img.example/42/1/t.jpg".to_owned()
                    },
                ],
            }
        );
        // The slim read and the conversion of a full read agree.
        let full: Product = serde_json::from_str(FULL_PRODUCT).expect("product");
        assert_eq!(ProductListing::from(full), listing);
        // A page of them, as `GET /products` answers.
        let page: Page<ProductListing> = serde_json::from_str(&format!(
            r#"{{"items": [{FULL_PRODUCT}], "next_cursor": "c1"}}"#
        ))
        .expect("page");
        assert_eq!(page.items, vec![listing]);
        assert_eq!(page.next_cursor.as_deref(), Some("c1"));
    }
}
