//! Observability settings (logs, metrics, trace export), read from the environment by
//! [`crate::config::BffConfig::from_vars`] through [`ObservabilityConfig::read_vars`].

use crate::config::ConfigError;

/// The variables read here (known to [`crate::config::is_known`]).
pub const VARS: &[&str] = &[
    "BFF_LOG",
    "BFF_LOG_FORMAT",
    "BFF_LOG_SPANS",
    "BFF_METRICS_MAX_OPERATIONS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Readable text (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs, metrics and trace export.
#[derive(Debug, Clone)]
pub struct ObservabilityConfig {
    /// Log filter, an `EnvFilter` directive (`BFF_LOG`, default `info`).
    pub log_filter: String,
    /// `text` or `json` (`BFF_LOG_FORMAT`, default `text`).
    pub log_format: LogFormat,
    /// Also log every span when it closes, with its duration: a trace readable in the logs
    /// (`BFF_LOG_SPANS`, default `false`).
    pub log_spans: bool,
    /// Distinct operation names a BFF uses as metric labels before the rest become `other`
    /// (`BFF_METRICS_MAX_OPERATIONS`, default 200).
    pub max_operation_names: usize,
    /// OTLP/HTTP collector base URL, e.g. `http://127.0.0.1:4318` (`OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// default none: nothing is exported). Used only by builds with the `otlp` feature.
    pub otlp_endpoint: Option<String>,
    /// Service name in exported traces and the `bff` metric label (`OTEL_SERVICE_NAME`, default
    /// the BFF's crate name, e.g. `bff-mobile`).
    pub service_name: Option<String>,
}

impl Default for ObservabilityConfig {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            log_spans: false,
            max_operation_names: 200,
            otlp_endpoint: None,
            service_name: None,
        }
    }
}

fn malformed(name: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Malformed {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

impl ObservabilityConfig {
    /// Reads [`VARS`] through `take` over the current values.
    pub fn read_vars(
        &mut self,
        take: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = take("BFF_LOG") {
            if tracing_subscriber::EnvFilter::try_new(&v).is_err() {
                return Err(malformed(
                    "BFF_LOG",
                    &v,
                    "expected a filter such as info or shared=debug,info",
                ));
            }
            self.log_filter = v;
        }
        if let Some(v) = take("BFF_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(malformed("BFF_LOG_FORMAT", &v, "expected text or json")),
            };
        }
        if let Some(v) = take("BFF_LOG_SPANS") {
            self.log_spans = match v.as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err(malformed("BFF_LOG_SPANS", &v, "expected true or false")),
            };
        }
        if let Some(v) = take("BFF_METRICS_MAX_OPERATIONS") {
            self.max_operation_names = match v.parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(malformed(
                        "BFF_METRICS_MAX_OPERATIONS",
                        &v,
                        "expected a whole number from 1 to 10000",
                    ));
                }
            };
        }
        if let Some(v) = take("OTEL_EXPORTER_OTLP_ENDPOINT") {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(malformed(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    &v,
                    "expected an http:// or https:// URL",
                ));
            }
            self.otlp_endpoint = Some(v.trim_end_matches('/').to_owned());
        }
        if let Some(v) = take("OTEL_SERVICE_NAME") {
            if !metrics::is_label_safe(&v) {
                return Err(malformed(
                    "OTEL_SERVICE_NAME",
                    &v,
                    "expected 1 to 64 characters of A-Z a-z 0-9 _ - .",
                ));
            }
            self.service_name = Some(v);
        }
        Ok(())
    }
}

use super::metrics;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ObservabilityConfig, ConfigError> {
        let mut vars: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut config = ObservabilityConfig::default();
        config.read_vars(&mut |name| vars.remove(name))?;
        Ok(config)
    }

    #[test]
    fn settings_are_read_and_malformed_ones_named() {
        let config = read(&[
            ("BFF_LOG_FORMAT", "json"),
            ("BFF_METRICS_MAX_OPERATIONS", "50"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"),
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.max_operation_names, 50);
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        for (name, value) in [
            ("BFF_LOG_FORMAT", "yaml"),
            ("BFF_METRICS_MAX_OPERATIONS", "0"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_SERVICE_NAME", "a b"),
            ("BFF_LOG_SPANS", "maybe"),
        ] {
            let err = read(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
