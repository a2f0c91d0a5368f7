//! The per-request side of resilience, used by [`crate::server`]: the execution cap (deadline plus
//! grace), the stale-data mark on the response, and the overload guard that refuses GraphQL
//! requests beyond the concurrency cap with 503 OVERLOADED instead of queueing them.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{ErrorExtensions, Response as GqlResponse};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::clients::DownstreamClients;

/// Runs a GraphQL execution for at most `limit` (the request deadline plus a grace period);
/// past it, the execution is dropped and the answer is a DOWNSTREAM_TIMEOUT error. Fields already
/// waiting on downstream calls normally resolve (as null with DOWNSTREAM_TIMEOUT) before this,
/// because every call's timeout is cut to the deadline; this is the backstop so nothing hangs.
pub async fn within(limit: Duration, execution: impl Future<Output = GqlResponse>) -> GqlResponse {
    match tokio::time::timeout(limit, execution).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?limit, "GraphQL execution abandoned past its deadline");
            let error = async_graphql::Error::new("the request did not complete in time")
                .extend_with(|_, e| e.set("code", "DOWNSTREAM_TIMEOUT"));
            GqlResponse::from_errors(vec![error.into_server_error(Default::default())])
        }
    }
}

/// Adds `extensions.stale` (`[{"service": "products"}]`) when the request served cached data.
pub fn mark_stale(mut response: GqlResponse, clients: &DownstreamClients) -> GqlResponse {
    let services = clients.stale_services();
    if !services.is_empty() {
        let list = services
            .into_iter()
            .map(|service| {
                let mut entry = async_graphql::indexmap::IndexMap::new();
                entry.insert(
                    async_graphql::Name::new("service"),
                    async_graphql::Value::from(service),
                );
                async_graphql::Value::Object(entry)
            })
            .collect();
        response
            .extensions
            .insert("stale".to_owned(), async_graphql::Value::List(list));
    }
    response
}

/// The cap on concurrent GraphQL requests of one BFF (a layer state for [`overload_guard`]).
#[derive(Clone)]
pub struct RequestLimit(Arc<Semaphore>);

impl RequestLimit {
    /// At most `max` requests at once.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// Middleware: serves the request if a slot is free, else answers 503 with an OVERLOADED error.
pub async fn overload_guard(
    State(limit): State<RequestLimit>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_slot) = limit.0.try_acquire() else {
        tracing::warn!("overloaded: refusing a GraphQL request");
        let body = serde_json::json!({
            "errors": [{
                "message": "the server is overloaded; retry shortly",
                "extensions": { "code": "OVERLOADED" }
            }]
        });
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            Json(body),
        )
            .into_response();
    };
    next.run(request).await
}

/// Serves `router` until `shutdown` completes, then stops accepting and lets in-flight requests
/// finish, for at most `grace`; past it, the remaining connections are dropped and this returns.
pub async fn serve_with_grace(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled.send(());
    };
    let serve = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .into_future();
    let deadline = async move {
        if on_signal.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = serve => result,
        () = deadline => {
            tracing::warn!(?grace, "shutdown grace period over; dropping unfinished requests");
            Ok(())
        }
    }
}
