//! The bff-admin binary: serves the back-office GraphQL schema (`bff-admin sdl` prints it).
/// mimalloc: measurably cheaper than glibc malloc for the many short-lived allocations of
/// a GraphQL request (see the bench report).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::server::run::<bff_admin::Admin>().await
}
