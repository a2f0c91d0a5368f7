//! bff-admin: the back office's GraphQL BFF. Detailed data and management mutations, for admins
//! only (every root field and mutation needs an admin token; outside dev mode so does
//! introspection). A map of the crate:
//!
//! - [`schema`]: the root `Query` and `Mutation`, the admin guard, id and page-size helpers.
//!   - [`schema::user`]: `User` (with recent orders, order count and lifetime value), `Address`.
//!   - [`schema::order`]: `Order`, `OrderItem`, `OrderStatus`.
//!   - [`schema::product`]: `Product` and its rating summary.
//!   - [`schema::dashboard`]: the dashboard (order stats and lowest stock, fetched concurrently).
//!   - [`schema::mutation`]: the management mutations, their validation and audit log lines.
//!   - [`schema::introspection`]: the extension refusing introspection to non-admins outside dev mode.
//! - [`Admin`]: the [`Bff`] implementation (name, port, schema, GraphiQL page).

pub mod schema;

use async_graphql::EmptySubscription;
use shared::config::BffConfig;
use shared::graphiql::GraphiqlPage;
use shared::server::Bff;

pub use schema::{Mutation, Query};

/// The back-office BFF.
pub struct Admin;

/// The executable schema of the back office.
pub type AdminSchema = async_graphql::Schema<Query, Mutation, EmptySubscription>;

impl Bff for Admin {
    const NAME: &'static str = "bff-admin";
    const DEFAULT_PORT: u16 = 4003;
    type Schema = AdminSchema;

    fn schema(config: &BffConfig) -> Self::Schema {
        let builder = AdminSchema::build(Query, Mutation, EmptySubscription);
        if config.dev_mode {
            builder.finish()
        } else {
            builder
                .extension(schema::introspection::AdminOnlyIntrospection)
                .finish()
        }
    }

    fn sdl() -> String {
        AdminSchema::build(Query, Mutation, EmptySubscription)
            .finish()
            .sdl()
    }

    fn graphiql(config: &BffConfig) -> GraphiqlPage {
        GraphiqlPage::new(
            Self::NAME,
            EXAMPLE_OPERATIONS,
            config.dev_mode.then(shared::auth::dev_admin_token),
        )
    }
}

/// The operations the GraphiQL page opens with.
pub const EXAMPLE_OPERATIONS: &str = r#"# bff-admin: the back office. Every operation needs an admin token
# (dev mode pre-fills the dev admin's token in the headers editor).

query Dashboard {
  dashboard(lowStockCount: 5) {
    totalOrders
    ordersByStatus { status count }
    revenue { formatted }
    productsScanned
    lowestStock { id name inventory }
  }
}

query Users {
  users(first: 20) {
    nodes {
      id name email tier role
      recentOrders(first: 3) { id status total { formatted } createdAt }
    }
    pageInfo { hasNextPage endCursor }
  }
}

query UserDetail {
  user(id: "2") {
    name email address { line1 city postalCode country }
    orderCount
    lifetimeValue { formatted }
  }
}

query PaidOrders {
  orders(status: PAID, first: 10) {
    nodes {
      id status total { formatted }
      customer { id name email }
      items { quantity unitPrice { formatted } product { id name inventory } }
    }
    pageInfo { hasNextPage endCursor }
  }
}

query LowStock {
  products(lowStock: 10, first: 100) {
    nodes { id name category inventory price { formatted } rating { averageRating reviewCount } }
    pageInfo { hasNextPage endCursor }
  }
}

mutation ShipOrder {
  updateOrderStatus(id: "1", status: SHIPPED) { id status updatedAt }
}

mutation Restock {
  updateProduct(id: "1", input: { inventory: 50, price: "19.99" }) { id inventory price { formatted } }
}

mutation PromoteToGold {
  updateUser(id: "2", input: { tier: GOLD }) { id tier role }
}
"#;
