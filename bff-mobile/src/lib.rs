//! bff-mobile: the GraphQL Backend-for-Frontend of the mobile app. A phone pays for every byte
//! and every round trip, so the schema is trimmed and shaped by screens.
//!
//! A map of the crate:
//!
//! - [`schema`]: the root [`schema::Query`] and [`schema::Mutation`], id parsing and page limits.
//!   - [`schema::home`]: the home screen in one query (viewer, recent orders, featured products).
//!   - [`schema::product`]: the product detail ([`schema::product::Product`]) and the small list
//!     item ([`schema::product::ProductSummary`]), plus the product connection.
//!   - [`schema::order`]: orders, their lines, the order connection and the order input.
//! - [`Mobile`]: the [`shared::server::Bff`] implementation (name, port 4001, schema, SDL,
//!   GraphiQL with ready-made operations).
//!
//! Everything downstream goes through [`shared::loaders::Downstream`] (batched, per request);
//! errors carry the stable codes of [`shared::error::BffError`].

pub mod schema;

use async_graphql::{EmptySubscription, Schema};
use shared::config::BffConfig;
use shared::graphiql::GraphiqlPage;
use shared::server::Bff;

pub use schema::{Mutation, Query};

/// The executable schema of bff-mobile.
pub type MobileSchema = Schema<Query, Mutation, EmptySubscription>;

/// The mobile BFF.
pub struct Mobile;

/// The operations GraphiQL opens with: one per screen of the app.
pub const EXAMPLE_OPERATIONS: &str = r#"# bff-mobile: one query per screen. Run one with the ▶ button.

query Home {
  home {
    viewer { name avatarUrl }
    recentOrders { id status total { formatted } itemCount }
    featuredProducts { id name price { formatted } thumbnailUrl inStock }
  }
}

query ProductDetail {
  product(id: "1") {
    id name price { formatted } description images inStock
  }
}

query Search {
  products(search: "lamp", first: 10) {
    nodes { id name price { formatted } thumbnailUrl inStock }
    pageInfo { hasNextPage endCursor }
  }
}

query MyOrders {
  orders(first: 10) {
    nodes {
      id status total { formatted } createdAt itemCount
      items { quantity product { name thumbnailUrl } }
    }
    pageInfo { hasNextPage endCursor }
  }
}

mutation PlaceOrder {
  placeOrder(items: [{ productId: "1", quantity: 1 }]) {
    id status total { formatted }
  }
}
"#;

/// The schema, without any request data (the server attaches auth and loaders per request).
pub fn build_schema() -> MobileSchema {
    Schema::build(Query, Mutation, EmptySubscription).finish()
}

impl Bff for Mobile {
    const NAME: &'static str = "bff-mobile";
    const DEFAULT_PORT: u16 = 4001;
    type Schema = MobileSchema;

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
