//! `cargo run --release -p stack`: starts the demo services (users :5001, orders :5002,
//! products :5003) and the three BFFs in dev mode (mobile :4001, web :4002, admin :4003) in one
//! process, prints each GraphiQL URL and ready-made dev tokens, and serves until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use demo_services::{DemoConfig, DemoServices};
use shared::config::BffConfig;
use shared::server::{Application, Bff, StartError};

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn start<B: Bff>(
    demo: &DemoServices,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, StartError> {
    let mut config = BffConfig::dev_for(B::NAME, local(B::DEFAULT_PORT));
    config.downstream.users_url = demo.users.url();
    config.downstream.orders_url = demo.orders.url();
    config.downstream.products_url = demo.products.url();
    let app = Application::bind(config.listen, B::router(&config)?).await?;
    println!("  {:<11} http://{}/graphiql", B::NAME, app.local_addr());
    Ok(tokio::spawn(
        app.run_with_shutdown(shared::server::shutdown_signal()),
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let demo =
        match DemoServices::start(DemoConfig::default(), local(5001), local(5002), local(5003))
            .await
        {
            Ok(demo) => demo,
            Err(err) => {
                eprintln!("stack: cannot start the demo services on ports 5001-5003: {err}");
                return ExitCode::FAILURE;
            }
        };
    println!(
        "demo services: users {}  orders {}  products {}",
        demo.users.url(),
        demo.orders.url(),
        demo.products.url()
    );
    println!("BFFs (dev mode; GraphiQL opens with examples and the dev token):");
    let servers = async {
        Ok::<_, StartError>([
            start::<bff_mobile::Mobile>(&demo).await?,
            start::<bff_web::Web>(&demo).await?,
            start::<bff_admin::Admin>(&demo).await?,
        ])
    };
    let servers = match servers.await {
        Ok(servers) => servers,
        Err(err) => {
            eprintln!("stack: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "dev tokens (header  Authorization: Bearer <token>):\n  customer (user {}): {}\n  admin    (user {}): {}",
        shared::auth::DEV_CUSTOMER_ID,
        shared::auth::dev_customer_token(),
        shared::auth::DEV_ADMIN_ID,
        shared::auth::dev_admin_token()
    );
    println!("open http://127.0.0.1:4001/graphiql and press Run. Ctrl-C stops everything.");
    for server in servers {
        if let Ok(Err(err)) = server.await {
            eprintln!("stack: server error: {err}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
