//! Logging set-up: readable text by default, JSON lines with `BFF_LOG_FORMAT=json`, the level
//! from `BFF_LOG` (an `EnvFilter` directive, default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter = std::env::var("BFF_LOG")
        .ok()
        .and_then(|directive| EnvFilter::try_new(directive).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json = std::env::var("BFF_LOG_FORMAT").is_ok_and(|format| format == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
