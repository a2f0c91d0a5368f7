//! Stand-in downstream REST services (users, orders, products) for the BFFs: deterministic
//! generated data, latency/fault injection (`/__control`) and call counters (`/__stats`).
//!
//! Start all three in-process with [`DemoServices::start_local`] (port 0) or on fixed
//! addresses with [`DemoServices::start`]; the `demo-services` binary wraps the latter.

pub mod control;
pub mod data;
pub mod error;
pub mod orders;
pub mod params;
pub mod products;
pub mod rng;
pub mod state;
pub mod time;
pub mod users;

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, RwLock},
};

use axum::Router;
use tokio::{net::TcpListener, sync::watch};

pub use control::{Control, ControlPatch, RouteStats, ServiceControl, Stats};
pub use data::{DataSizes, Dataset};
pub use state::{AppState, SharedData};

/// Every route template the services count, as `/__stats` reports them.
pub const ROUTE_TEMPLATES: &[&str] = &[
    "GET /users/{id}",
    "GET /users?ids",
    "GET /users",
    "PATCH /users/{id}",
    "GET /orders/{id}",
    "GET /orders?ids",
    "GET /orders?user_id",
    "GET /orders?user_ids",
    "GET /orders",
    "GET /orders/stats",
    "POST /orders",
    "PATCH /orders/{id}",
    "GET /products/{id}",
    "GET /products?ids",
    "GET /products",
    "GET /products/featured",
    "GET /products/{id}/reviews",
    "GET /products/{id}/related",
    "GET /reviews/summary",
    "PATCH /products/{id}",
];

/// Sizes, seed and starting latency of the demo services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    pub users: usize,
    pub products: usize,
    pub orders: usize,
    pub seed: u64,
    /// Starting latency of every counted request (changeable at run time via `/__control`).
    pub latency_ms: u64,
    pub jitter_ms: u64,
}

impl Default for DemoConfig {
    /// 10,000 users, 2,000 products, 100,000 orders, seed 42, no latency.
    fn default() -> Self {
        Self {
            users: 10_000,
            products: 2_000,
            orders: 100_000,
            seed: 42,
            latency_ms: 0,
            jitter_ms: 0,
        }
    }
}

impl DemoConfig {
    /// 200 users, 100 products, 2,000 orders: quick for tests.
    pub fn small() -> Self {
        Self {
            users: 200,
            products: 100,
            orders: 2_000,
            ..Self::default()
        }
    }

    /// The data part of the configuration.
    pub fn sizes(&self) -> DataSizes {
        DataSizes {
            users: self.users,
            products: self.products,
            orders: self.orders,
            seed: self.seed,
        }
    }

    fn control(&self) -> Control {
        Control {
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            ..Control::default()
        }
    }
}

/// The three routers over one shared dataset, plus their controls (for custom serving).
#[derive(Debug)]
pub struct DemoRouters {
    pub data: SharedData,
    pub users: (Router, Arc<ServiceControl>),
    pub orders: (Router, Arc<ServiceControl>),
    pub products: (Router, Arc<ServiceControl>),
}

/// Generates the dataset and builds the three routers (no sockets involved).
pub fn build_routers(config: &DemoConfig) -> DemoRouters {
    let data: SharedData = Arc::new(RwLock::new(Dataset::generate(config.sizes())));
    let make = |name: &'static str, salt: u64, build: fn(AppState) -> Router| {
        let control = Arc::new(ServiceControl::new(
            name,
            config.control(),
            config.seed ^ salt,
        ));
        let router = build(AppState {
            data: data.clone(),
            control: control.clone(),
        });
        (router, control)
    };
    DemoRouters {
        users: make("users", 0x5553_4552, users::router),
        orders: make("orders", 0x4f52_4452, orders::router),
        products: make("products", 0x5052_4f44, products::router),
        data,
    }
}

/// One running service: its bound address and in-process access to its control and counters.
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    pub addr: SocketAddr,
    pub control: Arc<ServiceControl>,
}

impl ServiceHandle {
    /// Base URL, e.g. `http://127.0.0.1:5001`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Snapshot of the counters (same as `GET /__stats`).
    pub fn stats(&self) -> Stats {
        self.control.stats()
    }

    /// Zeroes the counters (same as `POST /__stats/reset`).
    pub fn reset_stats(&self) {
        self.control.reset_stats();
    }

    /// Updates the injection settings (same as `POST /__control`); fails on invalid values.
    pub fn set_control(&self, patch: ControlPatch) -> Result<Control, error::ApiError> {
        self.control.update(patch)
    }
}

/// The three running services. Dropping it stops serving (gracefully).
#[derive(Debug)]
pub struct DemoServices {
    pub users: ServiceHandle,
    pub orders: ServiceHandle,
    pub products: ServiceHandle,
    /// The dataset the three services share.
    pub data: SharedData,
    shutdown: watch::Sender<bool>,
}

async fn serve(
    addr: SocketAddr,
    (router, control): (Router, Arc<ServiceControl>),
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<ServiceHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await;
    });
    Ok(ServiceHandle { addr, control })
}

impl DemoServices {
    /// Generates the data, binds the three services on the given addresses (port 0 allowed)
    /// and serves them on background tokio tasks.
    pub async fn start(
        config: DemoConfig,
        users: SocketAddr,
        orders: SocketAddr,
        products: SocketAddr,
    ) -> std::io::Result<Self> {
        let routers = tokio::task::spawn_blocking(move || build_routers(&config))
            .await
            .map_err(std::io::Error::other)?;
        let (tx, rx) = watch::channel(false);
        Ok(Self {
            users: serve(users, routers.users, rx.clone()).await?,
            orders: serve(orders, routers.orders, rx.clone()).await?,
            products: serve(products, routers.products, rx).await?,
            data: routers.data,
            shutdown: tx,
        })
    }

    /// [`DemoServices::start`] with all three on `127.0.0.1:0`.
    pub async fn start_local(config: DemoConfig) -> std::io::Result<Self> {
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self::start(config, local, local, local).await
    }

    /// Resets the counters of all three services.
    pub fn reset_all_stats(&self) {
        for s in [&self.users, &self.orders, &self.products] {
            s.reset_stats();
        }
    }
}

impl Drop for DemoServices {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
