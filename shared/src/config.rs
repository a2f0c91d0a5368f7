//! Typed configuration of a BFF: defaults, then environment variables. A setting that is unknown
//! (any `BFF_*` variable this build does not know) or malformed stops start-up with a message that
//! names it, so a typo is never a silent default.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown setting {0}; known settings are listed in the README")]
    Unknown(String),
    #[error("setting {name} is malformed ({value:?}): {reason}")]
    Malformed {
        name: String,
        value: String,
        reason: String,
    },
    #[error(
        "no JWT secret configured: set BFF_JWT_SECRET, or BFF_DEV_MODE=true for the fixed dev secret"
    )]
    MissingSecret,
}

/// A secret string that never prints (Debug and Display show `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the downstream services are and how long to wait for them.
#[derive(Debug, Clone)]
pub struct DownstreamConfig {
    /// Base URL of the users service (`USERS_SERVICE_URL`).
    pub users_url: String,
    /// Base URL of the orders service (`ORDERS_SERVICE_URL`).
    pub orders_url: String,
    /// Base URL of the products service (`PRODUCTS_SERVICE_URL`).
    pub products_url: String,
    /// TCP connect timeout per downstream call (`BFF_DOWNSTREAM_CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
    /// Whole-call timeout per downstream call (`BFF_DOWNSTREAM_TIMEOUT`).
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per downstream host (`BFF_DOWNSTREAM_POOL_IDLE`); as many as
    /// the per-service in-flight limit, so a burst reuses connections instead of churning them.
    pub pool_max_idle_per_host: usize,
}

impl Default for DownstreamConfig {
    fn default() -> Self {
        Self {
            users_url: "http://127.0.0.1:5001".into(),
            orders_url: "http://127.0.0.1:5002".into(),
            products_url: "http://127.0.0.1:5003".into(),
            connect_timeout: Duration::from_millis(250),
            request_timeout: Duration::from_secs(2),
            pool_max_idle_per_host: 256,
        }
    }
}

/// How the per-request DataLoaders batch.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// How long a loader waits to gather keys before calling (`BFF_LOADER_DELAY`, default 0).
    /// 0 still batches every key asked for before the request's task yields (the batch runs on a
    /// spawned task behind a timer that fires at the next millisecond tick at the latest); a longer
    /// delay only adds latency per level. Measured: same calls per query, less CPU and latency.
    pub delay: Duration,
    /// Most keys in one downstream call (`BFF_LOADER_MAX_BATCH`, at most 100 per the contract).
    pub max_batch: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            max_batch: crate::models::MAX_IDS_PER_CALL,
        }
    }
}

/// How bearer tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HS256 secret (`BFF_JWT_SECRET`); in dev mode the fixed [`crate::auth::DEV_SECRET`].
    pub jwt_secret: Secret,
    /// Clock skew allowed on `exp`/`nbf`, in seconds (`BFF_JWT_LEEWAY`).
    pub leeway: Duration,
}

/// Everything one BFF needs to start.
#[derive(Debug, Clone)]
pub struct BffConfig {
    /// Address to listen on (`BFF_LISTEN`).
    pub listen: SocketAddr,
    /// Dev mode (`BFF_DEV_MODE`): fixed dev secret, GraphiQL pre-filled with a dev token.
    pub dev_mode: bool,
    /// Serve GraphiQL at /graphiql (`BFF_GRAPHIQL`).
    pub graphiql: bool,
    pub downstream: DownstreamConfig,
    pub loader: LoaderConfig,
    pub auth: AuthConfig,
    /// Deadlines, retries, breakers, bulkheads, stale cache, readiness, overload, shutdown.
    pub resilience: crate::resilience::ResilienceConfig,
    /// Logs, metrics and trace export.
    pub observability: crate::observability::ObservabilityConfig,
    /// The edge policy (limits, rate limits, persisted queries, CORS, JWT rules); its defaults
    /// come from the BFF's profile, see [`crate::edge::EdgeConfig`].
    pub edge: crate::edge::EdgeConfig,
    /// Scale-out: Redis (`REDIS_URL`) for what replicas share, see [`crate::scale`].
    pub scale: crate::scale::ScaleConfig,
}

impl BffConfig {
    /// The dev configuration: demo-service URLs, dev secret, GraphiQL on.
    pub fn dev(listen: SocketAddr) -> Self {
        Self {
            listen,
            dev_mode: true,
            graphiql: true,
            downstream: DownstreamConfig::default(),
            loader: LoaderConfig::default(),
            auth: AuthConfig {
                jwt_secret: Secret::new(crate::auth::DEV_SECRET),
                leeway: Duration::from_secs(30),
            },
            resilience: crate::resilience::ResilienceConfig::default(),
            observability: crate::observability::ObservabilityConfig::default(),
            edge: crate::edge::EdgeConfig::for_profile(crate::edge::Profile::Web, true),
            scale: crate::scale::ScaleConfig::default(),
        }
    }

    /// The dev configuration with the edge profile of the BFF named `bff` (`bff-mobile`...).
    pub fn dev_for(bff: &str, listen: SocketAddr) -> Self {
        let mut config = Self::dev(listen);
        config.edge =
            crate::edge::EdgeConfig::for_profile(crate::edge::Profile::from_bff_name(bff), true);
        config
    }

    /// Reads the process environment over the defaults; `default_listen` is the BFF's own port.
    pub fn from_env(default_listen: SocketAddr) -> Result<Self, ConfigError> {
        Self::from_vars(default_listen, std::env::vars())
    }

    /// Reads the process environment for the BFF named `bff` (e.g. `bff-admin`): like
    /// [`Self::from_env`], with that BFF's defaults (see [`graphiql_default`]).
    pub fn from_env_for(bff: &str, default_listen: SocketAddr) -> Result<Self, ConfigError> {
        Self::from_vars_for(bff, default_listen, std::env::vars())
    }

    /// Reads the given variables over the defaults (the testable core of [`Self::from_env`]).
    pub fn from_vars(
        default_listen: SocketAddr,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::from_vars_for("", default_listen, vars)
    }

    /// [`Self::from_vars`] for the BFF named `bff`, whose defaults may differ.
    pub fn from_vars_for(
        bff: &str,
        default_listen: SocketAddr,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("BFF_") || is_known(name))
            .collect();
        if let Some(unknown) = vars.keys().find(|name| !is_known(name)) {
            return Err(ConfigError::Unknown(unknown.clone()));
        }
        let mut take = |name: &str| vars.remove(name);

        let dev_mode = take("BFF_DEV_MODE")
            .map(|v| parse_bool("BFF_DEV_MODE", &v))
            .transpose()?
            .unwrap_or(false);
        let mut config = Self::dev(default_listen);
        config.dev_mode = dev_mode;
        if let Some(v) = take("BFF_LISTEN") {
            config.listen = v
                .parse()
                .map_err(|_| malformed("BFF_LISTEN", &v, "expected host:port"))?;
        }
        config.graphiql = take("BFF_GRAPHIQL")
            .map(|v| parse_bool("BFF_GRAPHIQL", &v))
            .transpose()?
            .unwrap_or_else(|| graphiql_default(bff, dev_mode));
        let downstream = &mut config.downstream;
        for (name, slot) in [
            ("USERS_SERVICE_URL", &mut downstream.users_url),
            ("ORDERS_SERVICE_URL", &mut downstream.orders_url),
            ("PRODUCTS_SERVICE_URL", &mut downstream.products_url),
        ] {
            if let Some(v) = take(name) {
                let urls = crate::resilience::split_urls(&v);
                if urls.is_empty()
                    || !urls
                        .iter()
                        .all(|u| u.starts_with("http://") || u.starts_with("https://"))
                {
                    return Err(malformed(
                        name,
                        &v,
                        "expected http:// or https:// URLs, comma-separated",
                    ));
                }
                *slot = v.trim_end_matches('/').to_owned();
            }
        }
        if let Some(v) = take("BFF_DOWNSTREAM_CONNECT_TIMEOUT") {
            downstream.connect_timeout = parse_duration("BFF_DOWNSTREAM_CONNECT_TIMEOUT", &v)?;
        }
        if let Some(v) = take("BFF_DOWNSTREAM_TIMEOUT") {
            downstream.request_timeout = parse_duration("BFF_DOWNSTREAM_TIMEOUT", &v)?;
        }
        if let Some(v) = take("BFF_DOWNSTREAM_POOL_IDLE") {
            downstream.pool_max_idle_per_host =
                parse_number("BFF_DOWNSTREAM_POOL_IDLE", &v, 0, 10_000)?;
        }
        if let Some(v) = take("BFF_LOADER_DELAY") {
            config.loader.delay = parse_duration("BFF_LOADER_DELAY", &v)?;
        }
        if let Some(v) = take("BFF_LOADER_MAX_BATCH") {
            config.loader.max_batch = parse_number(
                "BFF_LOADER_MAX_BATCH",
                &v,
                1,
                crate::models::MAX_IDS_PER_CALL,
            )?;
        }
        config.resilience.read_vars(&mut take)?;
        config.observability.read_vars(&mut take)?;
        let profile = crate::edge::config::profile_var(&mut take)?
            .unwrap_or_else(|| crate::edge::Profile::from_bff_name(bff));
        config.edge = crate::edge::EdgeConfig::for_profile(profile, dev_mode);
        config.edge.read_vars(&mut take)?;
        config.scale.read_vars(&mut take)?;
        if let Some(v) = take("BFF_JWT_LEEWAY") {
            config.auth.leeway = parse_duration("BFF_JWT_LEEWAY", &v)?;
        }
        match take("BFF_JWT_SECRET") {
            Some(v) if v.len() < 32 => {
                return Err(malformed(
                    "BFF_JWT_SECRET",
                    "***",
                    "must be at least 32 bytes",
                ));
            }
            Some(v) => config.auth.jwt_secret = Secret::new(v),
            None if !dev_mode => return Err(ConfigError::MissingSecret),
            None => {}
        }
        Ok(config)
    }
}

/// Whether a BFF serves GraphiQL when `BFF_GRAPHIQL` is not set: always in dev mode; outside dev
/// mode every BFF but `bff-admin` (the back office does not advertise an explorer in production).
pub fn graphiql_default(bff: &str, dev_mode: bool) -> bool {
    dev_mode || bff != "bff-admin"
}

/// The variables of the core and the edge; each other concern lists its own
/// ([`crate::observability::config::VARS`], [`crate::resilience::VARS`], [`crate::scale::VARS`]),
/// and [`is_known`] takes them all.
pub const KNOWN: &[&str] = &[
    "BFF_LISTEN",
    "BFF_DEV_MODE",
    "BFF_GRAPHIQL",
    "BFF_LOG",
    "BFF_LOG_FORMAT",
    "USERS_SERVICE_URL",
    "ORDERS_SERVICE_URL",
    "PRODUCTS_SERVICE_URL",
    "BFF_DOWNSTREAM_CONNECT_TIMEOUT",
    "BFF_DOWNSTREAM_TIMEOUT",
    "BFF_DOWNSTREAM_POOL_IDLE",
    "BFF_LOADER_DELAY",
    "BFF_LOADER_MAX_BATCH",
    "BFF_JWT_SECRET",
    "BFF_JWT_LEEWAY",
    // edge (crate::edge::config)
    "BFF_EDGE_PROFILE",
    "BFF_MAX_BODY_BYTES",
    "BFF_MAX_QUERY_CHARS",
    "BFF_MAX_TOKENS",
    "BFF_MAX_DEPTH",
    "BFF_MAX_ALIASES",
    "BFF_MAX_ROOT_FIELDS",
    "BFF_MAX_DIRECTIVES",
    "BFF_MAX_COMPLEXITY",
    "BFF_MAX_PAGE_SIZE",
    "BFF_MAX_BATCH",
    "BFF_DOCUMENT_CACHE",
    "BFF_INTROSPECTION",
    "BFF_SUGGESTIONS",
    "BFF_RATE_LIMIT_PER_MINUTE",
    "BFF_RATE_LIMIT_BURST",
    "BFF_TRUSTED_PROXIES",
    "BFF_APQ_CAPACITY",
    "BFF_TRUSTED_DOCUMENTS",
    "BFF_SAFELIST",
    "BFF_PUBLIC_MAX_AGE",
    "BFF_CORS_ORIGINS",
    "BFF_COMPRESSION",
    "BFF_REQUIRE_VIEWER",
    "BFF_JWKS_URL",
    "BFF_JWKS_COOLDOWN",
    "BFF_JWT_ISSUER",
    "BFF_JWT_AUDIENCE",
    "BFF_JWT_ROLE_CLAIM",
    "BFF_JWT_ADMIN_ROLE",
];

/// Whether this build reads the variable `name`.
pub fn is_known(name: &str) -> bool {
    [
        KNOWN,
        crate::observability::config::VARS,
        crate::resilience::VARS,
        crate::scale::VARS,
    ]
    .iter()
    .any(|vars| vars.contains(&name))
}

pub(crate) fn malformed(name: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Malformed {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(malformed(name, value, "expected true or false")),
    }
}

pub(crate) fn parse_number(
    name: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    match value.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(malformed(
            name,
            value,
            &format!("expected a whole number from {min} to {max}"),
        )),
    }
}

/// Parses durations written as `250ms`, `2s`, `1m` or `500us`.
pub fn parse_duration(name: &str, value: &str) -> Result<Duration, ConfigError> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| malformed(name, value, "expected a duration such as 250ms or 2s"))?;
    match unit {
        "us" => Ok(Duration::from_micros(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(malformed(
            name,
            value,
            "expected a duration such as 250ms or 2s",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4001))
    }

    #[test]
    fn defaults_point_at_the_demo_services() {
        let config = BffConfig::from_vars(listen(), vars(&[("BFF_DEV_MODE", "true")])).unwrap();
        assert_eq!(config.downstream.users_url, "http://127.0.0.1:5001");
        assert_eq!(config.listen, listen());
        assert!(config.dev_mode);
    }

    #[test]
    fn an_unknown_setting_is_named() {
        let err = BffConfig::from_vars(listen(), vars(&[("BFF_DEV_MOD", "true")])).unwrap_err();
        assert!(err.to_string().contains("BFF_DEV_MOD"), "{err}");
    }

    #[test]
    fn a_malformed_setting_is_named() {
        let err = BffConfig::from_vars(
            listen(),
            vars(&[("BFF_DEV_MODE", "1"), ("BFF_DOWNSTREAM_TIMEOUT", "fast")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("BFF_DOWNSTREAM_TIMEOUT"), "{err}");
        let err = BffConfig::from_vars(
            listen(),
            vars(&[("BFF_DEV_MODE", "1"), ("USERS_SERVICE_URL", "localhost")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("USERS_SERVICE_URL"), "{err}");
    }

    #[test]
    fn outside_dev_mode_a_secret_is_required_and_never_printed() {
        let err = BffConfig::from_vars(listen(), vars(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecret));
        let secret = "s".repeat(40);
        let config = BffConfig::from_vars(listen(), vars(&[("BFF_JWT_SECRET", &secret)])).unwrap();
        assert!(!format!("{config:?}").contains(&secret));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("X", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("X", "2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("X", "2 s").is_err());
        assert!(parse_duration("X", "").is_err());
    }
}
