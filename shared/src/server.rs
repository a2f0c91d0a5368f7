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
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::clients::DownstreamClients;
use crate::config::{BffConfig, ConfigError, LoaderConfig};
use crate::graphiql::GraphiqlPage;
use crate::loaders::Downstream;

/// Why a BFF could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("could not build the downstream HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("edge: {0}")]
    Edge(#[from] crate::edge::http::EdgeSetupError),
    #[error("Redis: {0}")]
    Scale(#[from] crate::scale::ScaleError),
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
        // The `bff` metric label and trace service name default to the crate name.
        let mut named = config.clone();
        named
            .observability
            .service_name
            .get_or_insert_with(|| Self::NAME.to_owned());
        // The request deadline defaults per BFF (2 s mobile, 5 s web and admin).
        named.resilience.request_deadline = Some(named.resilience.deadline_for(Self::NAME));
        let nullability = crate::null_fields::Nullability::from_sdl(&Self::sdl());
        router_with_nullability(&named, Self::schema(config), graphiql, nullability)
    }
}

struct AppState<E> {
    executor: E,
    clients: DownstreamClients,
    loader: LoaderConfig,
    /// Limits, HTTP rules, auth, rate limits, persisted queries: see [`crate::edge`].
    edge: crate::edge::Edge,
    /// Which fields are nullable, to write failed ones as `null` (see [`crate::null_fields`]).
    nullability: crate::null_fields::Nullability,
}

/// The router of a BFF around any executable schema (failed fields stay as async-graphql leaves
/// them; [`Bff::router`] also writes failed nullable fields as `null`).
pub fn router<E: Executor>(
    config: &BffConfig,
    executor: E,
    graphiql: Option<GraphiqlPage>,
) -> Result<Router, StartError> {
    router_with_nullability(
        config,
        executor,
        graphiql,
        crate::null_fields::Nullability::default(),
    )
}

/// The router of a BFF around an executable schema whose nullable fields `nullability` knows.
pub fn router_with_nullability<E: Executor>(
    config: &BffConfig,
    executor: E,
    graphiql: Option<GraphiqlPage>,
    nullability: crate::null_fields::Nullability,
) -> Result<Router, StartError> {
    let mut clients = DownstreamClients::with_resilience(&config.downstream, &config.resilience)?;
    let mut edge = crate::edge::Edge::new(config)?;
    // Scaled out (REDIS_URL set): persisted queries, rate limits and the catalogue cache are
    // shared through Redis; see crate::scale.
    let bff = config
        .observability
        .service_name
        .as_deref()
        .unwrap_or("bff");
    if let Some(scale) = crate::scale::Scale::from_config(config, bff)? {
        edge = scale.wire_edge(edge, config);
        clients = scale.wire_clients(clients);
    }
    let state = Arc::new(AppState {
        executor,
        clients,
        loader: config.loader.clone(),
        edge,
        nullability,
    });
    let routes = Router::new()
        .route(
            "/graphql",
            get(graphql::<E>)
                .post(graphql::<E>)
                .layer(axum::middleware::from_fn_with_state(
                    crate::resilience::request::RequestLimit::new(
                        config.resilience.max_concurrent_requests,
                    ),
                    crate::resilience::request::overload_guard,
                )),
        )
        .route("/", get(|| async { Redirect::temporary("/graphiql") }))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/ready", get(ready::<E>))
        .route("/metrics", get(crate::observability::metrics_endpoint))
        .with_state(state)
        // GET /graphiql and /graphiql/assets/{file}: see crate::graphiql.
        .merge(crate::graphiql::router(graphiql.as_ref()));
    // Edge layers (compression, then CORS) around every route.
    Ok(crate::edge::http::layers(&config.edge, routes)
        // Outermost: request id, trace context, span, HTTP metrics, access log.
        .layer(axum::middleware::from_fn_with_state(
            crate::observability::HttpObserver::new(
                config
                    .observability
                    .service_name
                    .as_deref()
                    .unwrap_or("bff"),
                &config.observability,
            ),
            crate::observability::observe_http,
        )))
}

async fn graphql<E: Executor>(
    State(state): State<Arc<AppState<E>>>,
    request: axum::extract::Request,
) -> Response {
    // The edge reads the body under its limit and checks everything it can before execution.
    let (requests, shape) = match state.edge.prepare(request).await {
        Ok(prepared) => prepared.into_parts(),
        Err(refused) => return refused,
    };
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        responses.push(execute(&state, request).await);
    }
    state.edge.respond(shape, responses)
}

/// Executes one checked request (its `Auth` is attached) with fresh loaders.
async fn execute<E: Executor>(
    state: &AppState<E>,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let obs = crate::observability::current();
    let clients = state.clients.for_request(crate::clients::RequestMeta {
        request_id: obs.as_ref().map(|obs| obs.request_id.clone()),
        traceparent: obs.as_ref().map(|obs| obs.trace.traceparent()),
        deadline: Some(std::time::Instant::now() + state.clients.resilience().request_deadline()),
    });
    let downstream = Downstream::new(&clients, &state.loader);
    // Kept for the rare response with errors (see `crate::null_fields`).
    let (query, operation_name) = (request.query.clone(), request.operation_name.clone());
    let mut request = request.data(downstream);
    let operation = crate::observability::GraphqlOperation::start_parsed(&mut request);
    // Resilience: the whole execution is capped at deadline + grace; stale data is marked.
    let execution = crate::resilience::request::within(
        state.clients.resilience().execution_limit(),
        state.executor.execute(request),
    );
    let response = tracing::Instrument::instrument(execution, operation.span()).await;
    let mut response = crate::resilience::request::mark_stale(response, &clients);
    state
        .nullability
        .null_failed_fields(&mut response, &query, operation_name.as_deref());
    operation.finish(response)
}

/// Readiness: every downstream answers its health check (probed concurrently, result cached for
/// `BFF_READY_CACHE`) and no circuit breaker is open; 200 when ready, else 503, with the detail.
async fn ready<E: Executor>(State(state): State<Arc<AppState<E>>>) -> Response {
    let readiness = state.clients.readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

/// A bound, not yet serving, HTTP server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// How long in-flight requests may take to finish after the shutdown signal.
    shutdown_grace: Duration,
}

impl Application {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, router: Router) -> Result<Self, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            router,
            shutdown_grace: crate::resilience::ResilienceConfig::default().shutdown_grace,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Sets how long in-flight requests may take to finish after the shutdown signal
    /// (`BFF_SHUTDOWN_GRACE`, default 10 s).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Serves until `shutdown` completes, then stops accepting and finishes in-flight requests,
    /// for at most the shutdown grace period (then returns anyway).
    pub async fn run_with_shutdown(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::resilience::request::serve_with_grace(
            self.listener,
            self.router,
            shutdown,
            self.shutdown_grace,
        )
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
    let default_listen = SocketAddr::from(([127, 0, 0, 1], B::DEFAULT_PORT));
    let started = async {
        let mut config = BffConfig::from_env_for(B::NAME, default_listen)?;
        // The trace service name (and `bff` label) defaults to the crate name, as in `router`.
        config
            .observability
            .service_name
            .get_or_insert_with(|| B::NAME.to_owned());
        crate::telemetry::init_with(&config.observability);
        let app = Application::bind(config.listen, B::router(&config)?)
            .await?
            .with_shutdown_grace(config.resilience.shutdown_grace);
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
    let served = app.run_until_stopped().await;
    // The spans of the last requests, when exporting over OTLP.
    crate::telemetry::flush(Duration::from_secs(2)).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: server error: {err}", B::NAME);
            ExitCode::FAILURE
        }
    }
}
