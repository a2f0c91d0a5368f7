//! Observability settings (logs, metrics, trace export), read from the environment by
//! [`crate::config::BffConfig::from_vars`] through [`ObservabilityConfig::read_vars`].

use std::time::Duration;

use crate::config::{ConfigError, Secret, parse_duration, parse_number};

/// The variables read here (known to [`crate::config::is_known`]).
pub const VARS: &[&str] = &[
    "BFF_LOG",
    "BFF_LOG_FORMAT",
    "BFF_LOG_SPANS",
    "BFF_METRICS_MAX_OPERATIONS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "BFF_OTLP_BATCH_SIZE",
    "BFF_OTLP_FLUSH_INTERVAL",
    "BFF_OTLP_QUEUE",
    "BFF_OTLP_TIMEOUT",
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
    /// default none: nothing is exported and the exporter is not installed). Spans are POSTed
    /// to `{endpoint}/v1/traces`; see [`super::otlp`].
    pub otlp_endpoint: Option<String>,
    /// Service name in exported traces and the `bff` metric label (`OTEL_SERVICE_NAME`, default
    /// the BFF's crate name, e.g. `bff-mobile`).
    pub service_name: Option<String>,
    /// How spans are exported when [`Self::otlp_endpoint`] is set.
    pub otlp: OtlpConfig,
}

/// Settings of the OTLP exporter (read even when no endpoint is set, so typos still stop
/// start-up; used only with an endpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// Extra headers on every export request, e.g. an API key (`OTEL_EXPORTER_OTLP_HEADERS`,
    /// `k=v,k2=v2`, values percent-decoded). Values never print.
    pub headers: Vec<(String, Secret)>,
    /// Which traces are exported (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
    pub sampler: Sampler,
    /// Most spans in one export request (`BFF_OTLP_BATCH_SIZE`, default 512).
    pub batch_size: usize,
    /// Longest a finished span waits before it is sent (`BFF_OTLP_FLUSH_INTERVAL`, default 1s).
    pub flush_interval: Duration,
    /// Finished spans waiting for export; past it new ones are dropped and counted, so the
    /// request path never waits (`BFF_OTLP_QUEUE`, default 4096).
    pub queue: usize,
    /// Timeout of one export request; a failed export is dropped, not retried
    /// (`BFF_OTLP_TIMEOUT`, default 5s).
    pub timeout: Duration,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            headers: Vec::new(),
            sampler: Sampler::default(),
            batch_size: 512,
            flush_interval: Duration::from_secs(1),
            queue: 4096,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Which traces are sampled (exported), as the OpenTelemetry samplers of the same names. The
/// decision is taken once per request, where its trace context is read, and travels downstream
/// in the `traceparent` flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// Follow the sampled flag of a valid incoming `traceparent`; the ratio then applies only
    /// to traces this BFF starts (`parentbased_*`, the default).
    pub parent_based: bool,
    /// Share of traces sampled, 0.0 to 1.0, decided from the trace id (so every service using
    /// the same rule agrees). `always_on` is 1.0, `always_off` 0.0.
    pub ratio: f64,
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Self {
            parent_based: true,
            ratio: 1.0,
        }
    }
}

impl Sampler {
    /// Whether the trace `trace_id` (32 hex digits) is sampled; `parent_flags` are the flags of
    /// a valid incoming `traceparent`, if any.
    pub fn sample(&self, trace_id: &str, parent_flags: Option<u8>) -> bool {
        match parent_flags {
            Some(flags) if self.parent_based => flags & 1 == 1,
            _ => self.ratio_says(trace_id),
        }
    }

    /// The ratio rule: the trace id's last 16 hex digits, read as a number, fall in the first
    /// `ratio` share of the range (OpenTelemetry's `TraceIdRatioBased` reads the same bits).
    fn ratio_says(&self, trace_id: &str) -> bool {
        if self.ratio >= 1.0 {
            return true;
        }
        if self.ratio <= 0.0 {
            return false;
        }
        let low = trace_id
            .get(trace_id.len().saturating_sub(16)..)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .unwrap_or(0);
        // The comparison in f64 loses the lowest bits, far below any ratio one would set.
        (low as f64) < self.ratio * (u64::MAX as f64)
    }
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
            otlp: OtlpConfig::default(),
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
        // Empty means unset, as the OpenTelemetry specification says of its variables.
        if let Some(v) = take("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.is_empty()) {
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
        self.otlp.read_vars(take)
    }
}

impl OtlpConfig {
    /// Reads the exporter's variables (part of [`ObservabilityConfig::read_vars`]).
    fn read_vars(
        &mut self,
        take: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = take("OTEL_EXPORTER_OTLP_HEADERS") {
            // The value may hold credentials: errors name the variable, never echo it.
            self.headers = parse_headers(&v).map_err(|reason| {
                malformed(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "***",
                    &format!("expected key=value pairs, comma-separated: {reason}"),
                )
            })?;
        }
        let ratio = match take("OTEL_TRACES_SAMPLER_ARG") {
            Some(v) => match v.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
                _ => {
                    return Err(malformed(
                        "OTEL_TRACES_SAMPLER_ARG",
                        &v,
                        "expected a ratio from 0.0 to 1.0",
                    ));
                }
            },
            None => None,
        };
        let sampler = take("OTEL_TRACES_SAMPLER");
        self.sampler = match sampler.as_deref() {
            None | Some("parentbased_traceidratio") => Sampler {
                parent_based: true,
                ratio: ratio.unwrap_or(1.0),
            },
            Some("traceidratio") => Sampler {
                parent_based: false,
                ratio: ratio.unwrap_or(1.0),
            },
            Some("parentbased_always_on") => Sampler::default(),
            Some("parentbased_always_off") => Sampler {
                parent_based: true,
                ratio: 0.0,
            },
            Some("always_on") => Sampler {
                parent_based: false,
                ratio: 1.0,
            },
            Some("always_off") => Sampler {
                parent_based: false,
                ratio: 0.0,
            },
            Some(other) => {
                return Err(malformed(
                    "OTEL_TRACES_SAMPLER",
                    other,
                    "expected parentbased_traceidratio, traceidratio, parentbased_always_on, parentbased_always_off, always_on or always_off",
                ));
            }
        };
        if let Some(v) = take("BFF_OTLP_BATCH_SIZE") {
            self.batch_size = parse_number("BFF_OTLP_BATCH_SIZE", &v, 1, 10_000)?;
        }
        if let Some(v) = take("BFF_OTLP_FLUSH_INTERVAL") {
            self.flush_interval = parse_duration("BFF_OTLP_FLUSH_INTERVAL", &v)?;
            if self.flush_interval < Duration::from_millis(10) {
                return Err(malformed(
                    "BFF_OTLP_FLUSH_INTERVAL",
                    &v,
                    "expected at least 10ms",
                ));
            }
        }
        if let Some(v) = take("BFF_OTLP_QUEUE") {
            self.queue = parse_number("BFF_OTLP_QUEUE", &v, 1, 1_000_000)?;
        }
        if let Some(v) = take("BFF_OTLP_TIMEOUT") {
            self.timeout = parse_duration("BFF_OTLP_TIMEOUT", &v)?;
            if self.timeout.is_zero() {
                return Err(malformed("BFF_OTLP_TIMEOUT", &v, "expected more than 0"));
            }
        }
        Ok(())
    }
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas, blanks around
/// them ignored, values percent-decoded (as the OpenTelemetry specification says). Each key
/// must be an HTTP header name and each value a header value. Errors never quote a value.
pub fn parse_headers(value: &str) -> Result<Vec<(String, Secret)>, String> {
    let mut headers = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err("a pair has no =".into());
        };
        let key = key.trim().to_ascii_lowercase();
        if reqwest::header::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(format!("{key:?} is not a header name"));
        }
        let decoded = percent_decode(raw.trim()).ok_or(format!(
            "the value of {key} is not valid percent-encoded UTF-8"
        ))?;
        if reqwest::header::HeaderValue::from_str(&decoded).is_err() {
            return Err(format!("the value of {key} is not a valid header value"));
        }
        headers.push((key, Secret::new(decoded)));
    }
    Ok(headers)
}

/// Decodes `%XX` escapes; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad key=v"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz"),
            ("BFF_OTLP_BATCH_SIZE", "0"),
            ("BFF_OTLP_FLUSH_INTERVAL", "1ms"),
            ("BFF_OTLP_FLUSH_INTERVAL", "soon"),
            ("BFF_OTLP_QUEUE", "-1"),
            ("BFF_OTLP_TIMEOUT", "0s"),
        ] {
            let err = read(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn otlp_settings_are_read() {
        let defaults = read(&[]).unwrap();
        assert_eq!(defaults.otlp, OtlpConfig::default());
        assert_eq!(defaults.otlp_endpoint, None);
        let empty = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]).unwrap();
        assert_eq!(empty.otlp_endpoint, None);
        let config = read(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                " api-key = s3cr%3Dt ,X-Tenant=blue,",
            ),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("BFF_OTLP_BATCH_SIZE", "100"),
            ("BFF_OTLP_FLUSH_INTERVAL", "200ms"),
            ("BFF_OTLP_QUEUE", "10"),
            ("BFF_OTLP_TIMEOUT", "2s"),
        ])
        .unwrap();
        let otlp = &config.otlp;
        assert_eq!(
            otlp.headers,
            vec![
                ("api-key".to_owned(), Secret::new("s3cr=t")),
                ("x-tenant".to_owned(), Secret::new("blue")),
            ]
        );
        assert!(!format!("{config:?}").contains("s3cr"));
        assert_eq!(
            otlp.sampler,
            Sampler {
                parent_based: true,
                ratio: 0.25
            }
        );
        assert_eq!(otlp.batch_size, 100);
        assert_eq!(otlp.flush_interval, Duration::from_millis(200));
        assert_eq!(otlp.queue, 10);
        assert_eq!(otlp.timeout, Duration::from_secs(2));
        let sampler = |name: &str, arg: Option<&str>| {
            let mut pairs = vec![("OTEL_TRACES_SAMPLER", name)];
            pairs.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
            read(&pairs).unwrap().otlp.sampler
        };
        assert_eq!(
            sampler("parentbased_always_on", Some("0.1")),
            Sampler::default()
        );
        assert_eq!(sampler("always_off", None).ratio, 0.0);
        assert!(!sampler("always_on", None).parent_based);
        let ratio = sampler("traceidratio", Some("0.5"));
        assert!(!ratio.parent_based && ratio.ratio == 0.5);
        assert_eq!(sampler("parentbased_always_off", None).ratio, 0.0);
        // A malformed header value is not echoed in the error.
        let err = read(&[("OTEL_EXPORTER_OTLP_HEADERS", "k=secret%zz")]).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn the_sampler_follows_the_parent_then_the_ratio() {
        let ids = [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00000000000000000000000000000001",
            "0000000000000000ffffffffffffffff",
        ];
        let on = Sampler::default();
        let off = Sampler {
            parent_based: true,
            ratio: 0.0,
        };
        for id in ids {
            assert!(on.sample(id, None));
            assert!(!on.sample(id, Some(0)));
            assert!(!off.sample(id, None));
            assert!(off.sample(id, Some(1)));
            let ignore_parent = Sampler {
                parent_based: false,
                ratio: 1.0,
            };
            assert!(ignore_parent.sample(id, Some(0)));
        }
        let half = Sampler {
            parent_based: false,
            ratio: 0.5,
        };
        assert!(half.sample("00000000000000000000000000000001", None));
        assert!(!half.sample("0000000000000000ffffffffffffffff", None));
        // Deterministic, and about the ratio over many ids.
        let sampled = (0..10_000u64)
            .map(|i| format!("{:016x}{:016x}", i, i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .filter(|id| half.sample(id, None))
            .count();
        assert!((4_500..5_500).contains(&sampled), "{sampled}");
    }
}
