//! The bff-mobile server: the mobile GraphQL schema over the users, orders and products services.
/// mimalloc: measurably cheaper than glibc malloc for the many short-lived allocations of
/// a GraphQL request (see the bench report).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::server::run::<bff_mobile::Mobile>().await
}
