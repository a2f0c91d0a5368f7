//! `bff-web`: the GraphQL Backend-for-Frontend of the desktop web frontend, which wants each page
//! complete in one request. A map of the crate:
//!
//! - [`schema`]: the root `Query` and `Mutation` plus shared helpers (id parsing, page limits).
//!   - [`schema::product`]: the product page (`Product` with reviews and related products), the
//!     product cards of lists and the `products` connection.
//!   - [`schema::order`]: orders, their items expanded into product cards, the order connection
//!     and the order mutations' input.
//!   - [`schema::viewer`]: `Me`, the signed-in customer's profile and orders.
//! - [`Web`]: the [`shared::server::Bff`] implementation (name, port 4002, schema, SDL, GraphiQL).
//!
//! The product page's query plan: `product(id)` starts the product, reviews and related-products
//! calls together (level 1); review authors (users loader) and the related products' rating
//! summaries (summary loader) then load together (level 2): five calls on two sequential levels.

pub mod schema;

use async_graphql::{EmptySubscription, Schema};
use shared::config::BffConfig;
use shared::graphiql::GraphiqlPage;
use shared::server::Bff;

pub use schema::{Mutation, Query};

/// The web BFF.
pub struct Web;

/// The executable schema of the web BFF.
pub type WebSchema = Schema<Query, Mutation, EmptySubscription>;

/// The operations the GraphiQL page opens with.
pub const EXAMPLE_OPERATIONS: &str = r#"# bff-web: each page of the web frontend in one request.

query ProductPage($id: ID! = "1") {
  product(id: $id) {
    id name description category inventory inStock
    price { formatted }
    specifications { name value }
    images { thumbnailUrl fullUrl }
    reviews {
      averageRating count
      recent(first: 5) { rating title body createdAt author { name avatarUrl } }
    }
    related { id name price { formatted } ratingSummary { averageRating count } }
  }
}

query Catalogue($search: String, $category: String, $after: String) {
  products(search: $search, category: $category, first: 20, after: $after) {
    nodes { id name thumbnailUrl price { formatted } ratingSummary { averageRating count } }
    pageInfo { hasNextPage endCursor }
  }
}

query MyAccount {
  me {
    name email avatarUrl tier
    address { line1 city postalCode country }
    orders(first: 5) {
      nodes {
        id status createdAt canCancel total { formatted }
        items { quantity lineTotal { formatted } product { id name thumbnailUrl } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}

query OrderDetail($orderId: ID! = "1") {
  order(id: $orderId) {
    id status createdAt updatedAt canCancel
    total { formatted }
    items { quantity unitPrice { formatted } lineTotal { formatted } product { name } }
  }
}

mutation PlaceOrder {
  placeOrder(items: [{ productId: "1", quantity: 1 }]) { id status total { formatted } }
}

mutation CancelOrder($orderId: ID! = "1") {
  cancelOrder(id: $orderId) { id status }
}
"#;

fn build_schema() -> WebSchema {
    Schema::build(Query, Mutation, EmptySubscription).finish()
}

impl Bff for Web {
    const NAME: &'static str = "bff-web";
    const DEFAULT_PORT: u16 = 4002;
    type Schema = WebSchema;

    fn schema(_config: &BffConfig) -> Self::Schema {
        build_schema()
    }

    fn sdl() -> String {
        build_schema().sdl()
    }

    fn graphiql(config: &BffConfig) -> GraphiqlPage {
        GraphiqlPage::new(
            Self::NAME,
            EXAMPLE_OPERATIONS,
            config.dev_mode.then(shared::auth::dev_customer_token),
        )
    }
}
