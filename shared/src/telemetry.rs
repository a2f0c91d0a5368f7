//! Logging and trace export set-up: readable text by default, JSON lines with
//! `BFF_LOG_FORMAT=json`, the level from `BFF_LOG` (an `EnvFilter` directive, default `info`),
//! span closes (a trace readable in the logs, with each span's duration) with
//! `BFF_LOG_SPANS=true`; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over
//! OTLP/HTTP ([`crate::observability::otlp`]), each layer with its own filter so `BFF_LOG` does
//! not decide what is exported. See [`crate::observability::ObservabilityConfig`].

use std::time::Duration;

use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::observability::{LogFormat, ObservabilityConfig, otlp};

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

/// Installs the global subscriber from `config` once; later calls do nothing. Without an OTLP
/// endpoint this is the log subscriber alone (spans nobody logs stay free); with one, the OTLP
/// layer is added and its exporter started.
pub fn init_with(config: &ObservabilityConfig) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let spans = if config.log_spans {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let Some((layer, exporter)) = otlp::pipeline(config) else {
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_span_events(spans);
        let _ = match config.log_format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Text => builder.try_init(),
        };
        return;
    };
    let logs = tracing_subscriber::fmt::layer().with_span_events(spans);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => logs.json().boxed(),
        LogFormat::Text => logs.boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(layer.with_filter(filter_fn(otlp::exported).with_max_level_hint(LevelFilter::DEBUG)))
        .try_init();
    if installed.is_ok() {
        exporter.start();
    }
}

/// Sends the spans the OTLP exporter still holds, waiting at most `timeout` (at shutdown).
/// Does nothing when no exporter runs.
pub async fn flush(timeout: Duration) {
    if !otlp::flush(timeout).await {
        tracing::warn!("OTLP: the last spans could not be sent before shutdown");
    }
}
