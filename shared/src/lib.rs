//! The crate the three BFFs share. A map of its modules:
//!
//! - [`models`]: the downstream contract (v1) as Rust types.
//! - [`config`]: typed configuration from the environment; typos stop start-up.
//! - [`error`]: [`error::DownstreamError`] from calls, [`error::BffError`] to clients with stable codes.
//! - [`clients`]: typed HTTP clients of the users, orders and products services.
//! - [`loaders`]: per-request DataLoaders and the [`loaders::Downstream`] facade resolvers use.
//! - [`auth`]: the viewer from the bearer JWT (HS256 secret or JWKS keys); dev tokens.
//! - [`doc_cache`]: parsed, limit-checked documents cached by query text (one parse per text).
//! - [`edge`]: the request edge: body and operation limits, GraphQL-over-HTTP rules, CSRF, rate
//!   limits, persisted queries, CORS and compression.
//! - [`graphql`]: shared GraphQL pieces (money, page info, page limits, context access).
//! - [`null_fields`]: failed nullable fields written as `null` (once per response with errors).
//! - [`graphiql`]: the GraphiQL page.
//! - [`resilience`]: deadlines, retries with a budget, circuit breakers, bulkheads, balancing over
//!   instances, stale-if-error, readiness, overload and shutdown settings.
//! - [`scale`]: scale-out over Redis (`REDIS_URL`): shared persisted queries, rate limits and
//!   catalogue cache, cross-replica invalidation; in-process fallback when Redis is away.
//! - [`server`]: router, per-request wiring, [`server::Application`], graceful shutdown.
//! - [`observability`]: request ids, trace context, spans and their OTLP export, `/metrics`, the
//!   access log.
//! - [`telemetry`]: logging and trace-export set-up.
//! - [`sdl`]: SDL export and the check that every type and field has a description.

pub mod auth;
pub mod clients;
pub mod config;
pub mod doc_cache;
pub mod edge;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod loaders;
pub mod models;
pub mod null_fields;
pub mod observability;
pub mod resilience;
pub mod scale;
pub mod sdl;
pub mod server;
pub mod telemetry;
