//! The common server bootstrap of the three BFFs: the router (`/graphql` GET and POST,
//! `/graphiql`, `/health`, `/ready`), the per-request wiring (auth and fresh loaders), and an
//! [`Application`] that binds (port 0 in tests), reports its port and serves until stopped,
//! shutting down gracefully on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Executor;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::auth::TokenVerifier;
use crate::clients::DownstreamClients;
use crate::config::{BffConfig, ConfigError, LoaderConfig};
use crate::error::Service;
use crate::graphiql::GraphiqlPage;
use crate::loaders::Downstream;

/// Why a BFF could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("could not build the downstream HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What one BFF is: its name, its port, its schema and its GraphiQL examples.
pub trait Bff {
    /// Crate and binary name, e.g. `bff-mobile`.
    const NAME: &'static str;
    /// Default port (4001 mobile, 4002 web, 4003 admin).
    const DEFAULT_PORT: u16;
    /// The executable schema.
    type Schema: Executor;

    /// Builds the schema.
    fn schema(config: &BffConfig) -> Self::Schema;
    /// The schema's SDL, as exported to `schema/`.
    fn sdl() -> String;
    /// The GraphiQL page: title and example operations.
    fn graphiql(config: &BffConfig) -> GraphiqlPage;

    /// The full router of this BFF.
    fn router(config: &BffConfig) -> Result<Router, StartError> {
        let graphiql = config.graphiql.then(|| Self::graphiql(config));
        router(config, Self::schema(config), graphiql)
    }
}

struct AppState<E> {
    executor: E,
    clients: DownstreamClients,
    loader: LoaderConfig,
    verifier: TokenVerifier,
    graphiql: Option<String>,
}

/// The router of a BFF around any executable schema.
pub fn router<E: Executor>(
    config: &BffConfig,
    executor: E,
    graphiql: Option<GraphiqlPage>,
) -> Result<Router, StartError> {
    let state = Arc::new(AppState {
        executor,
        clients: DownstreamClients::new(&config.downstream)?,
        loader: config.loader.clone(),
        verifier: TokenVerifier::new(&config.auth),
        graphiql: graphiql.map(|page| page.render()),
    });
    Ok(Router::new()
        .route("/graphql", get(graphql::<E>).post(graphql::<E>))
        .route("/graphiql", get(graphiql_page::<E>))
        .route("/", get(|| async { Redirect::temporary("/graphiql") }))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/ready", get(ready::<E>))
        .with_state(state))
}

async fn graphql<E: Executor>(
    State(state): State<Arc<AppState<E>>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let auth = state.verifier.authenticate(&headers);
    let downstream = Downstream::new(&state.clients, &state.loader);
    let request = request.into_inner().data(auth).data(downstream);
    state.executor.execute(request).await.into()
}

async fn graphiql_page<E: Executor>(State(state): State<Arc<AppState<E>>>) -> Response {
    match &state.graphiql {
        Some(page) => Html(page.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "GraphiQL is switched off").into_response(),
    }
}

/// Readiness: every downstream answers its health check.
async fn ready<E: Executor>(State(state): State<Arc<AppState<E>>>) -> Response {
    let check = |service| {
        let clients = state.clients.clone();
        async move {
            let up = tokio::time::timeout(Duration::from_millis(500), clients.health(service))
                .await
                .unwrap_or(false);
            (service, up)
        }
    };
    let results = futures_util::future::join_all(Service::ALL.map(check)).await;
    let all_up = results.iter().all(|(_, up)| *up);
    let services: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(service, up)| (service.as_str().to_owned(), json!({ "up": up })))
        .collect();
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "ready": all_up, "services": services });
    (status, Json(body)).into_response()
}

/// A bound, not yet serving, HTTP server.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, router: Router) -> Result<Self, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self { listener, router })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_with_shutdown(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_with_shutdown(shutdown_signal()).await
    }

    /// Serves on a background task (tests, the stack).
    pub fn spawn(self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        tokio::spawn(self.run_with_shutdown(std::future::pending()))
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}

/// The whole `main` of a BFF binary: `sdl` prints the schema; otherwise read the config from the
/// environment, build the router, serve until stopped.
pub async fn run<B: Bff>() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("sdl") => {
            print!("{}", B::sdl());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "{}: unknown argument {other:?} (usage: {} [sdl])",
                B::NAME,
                B::NAME
            );
            return ExitCode::from(2);
        }
        None => {}
    }
    crate::telemetry::init();
    let default_listen = SocketAddr::from(([127, 0, 0, 1], B::DEFAULT_PORT));
    let started = async {
        let config = BffConfig::from_env(default_listen)?;
        let app = Application::bind(config.listen, B::router(&config)?).await?;
        Ok::<_, StartError>(app)
    };
    let app = match started.await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("{}: cannot start: {err}", B::NAME);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(bff = B::NAME, addr = %app.local_addr(), "serving GraphQL at /graphql, GraphiQL at /graphiql");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: server error: {err}", B::NAME);
            ExitCode::FAILURE
        }
    }
}
