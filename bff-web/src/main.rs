//! The `bff-web` binary: serves the web frontend's GraphQL schema (`bff-web sdl` prints it).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::server::run::<bff_web::Web>().await
}
