//! The crate the three BFFs share. A map of its modules:
//!
//! - [`models`]: the downstream contract (v1) as Rust types.
//! - [`config`]: typed configuration from the environment; typos stop start-up.
//! - [`error`]: [`error::DownstreamError`] from calls, [`error::BffError`] to clients with stable codes.
//! - [`clients`]: typed HTTP clients of the users, orders and products services.
//! - [`loaders`]: per-request DataLoaders and the [`loaders::Downstream`] facade resolvers use.
//! - [`auth`]: the viewer from the bearer JWT; dev tokens.
//! - [`graphql`]: shared GraphQL pieces (money, page info, page limits, context access).
//! - [`graphiql`]: the GraphiQL page.
//! - [`server`]: router, per-request wiring, [`server::Application`], graceful shutdown.
//! - [`telemetry`]: logging set-up.
//! - [`sdl`]: SDL export and the check that every type and field has a description.

pub mod auth;
pub mod clients;
pub mod config;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod loaders;
pub mod models;
pub mod sdl;
pub mod server;
pub mod telemetry;
