//! Logging set-up: readable text by default, JSON lines with `BFF_LOG_FORMAT=json`, the level
//! from `BFF_LOG` (an `EnvFilter` directive, default `info`), span closes (a trace readable in
//! the logs, with each span's duration) with `BFF_LOG_SPANS=true`. See
//! [`crate::observability::ObservabilityConfig`].

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::observability::{LogFormat, ObservabilityConfig};

/// Installs the global subscriber from the process environment once; later calls do nothing.
/// Malformed settings fall back to their defaults here (start-up reports them through
/// [`crate::config::BffConfig::from_env`]).
pub fn init() {
    let mut config = ObservabilityConfig::default();
    let mut take = |name: &str| std::env::var(name).ok();
    if config.read_vars(&mut take).is_err() {
        config = ObservabilityConfig::default();
    }
    init_with(&config);
}

/// Installs the global subscriber from `config` once; later calls do nothing.
pub fn init_with(config: &ObservabilityConfig) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let spans = if config.log_spans {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if config.otlp_endpoint.is_some() {
        tracing::warn!(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but this build has no OTLP exporter; spans go to the log only (BFF_LOG_SPANS=true)"
        );
    }
}
