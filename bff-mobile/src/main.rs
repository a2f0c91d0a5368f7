//! The bff-mobile server: the mobile GraphQL schema over the users, orders and products services.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::server::run::<bff_mobile::Mobile>().await
}
