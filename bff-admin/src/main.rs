//! The bff-admin binary: serves the back-office GraphQL schema (`bff-admin sdl` prints it).
#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::server::run::<bff_admin::Admin>().await
}
