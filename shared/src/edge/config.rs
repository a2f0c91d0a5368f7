//! The edge policy as typed settings: [`EdgeConfig`] with per-[`Profile`] defaults, read from
//! `BFF_*` variables by [`crate::config::BffConfig::from_vars`] through [`EdgeConfig::read_vars`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{ConfigError, malformed, parse_bool, parse_duration, parse_number};

/// Which BFF the policy is for; picks the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Small screens, small queries: strictest on size.
    Mobile,
    /// Rich pages: deeper and larger queries.
    Web,
    /// Back office: every operation needs a signed-in viewer; introspection for admins only.
    Admin,
}

impl Profile {
    /// The profile of a BFF by its name (`bff-mobile`, `bff-web`, `bff-admin`); web otherwise.
    pub fn from_bff_name(name: &str) -> Self {
        if name.contains("mobile") {
            Profile::Mobile
        } else if name.contains("admin") {
            Profile::Admin
        } else {
            Profile::Web
        }
    }

    fn parse(name: &str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "mobile" => Ok(Profile::Mobile),
            "web" => Ok(Profile::Web),
            "admin" => Ok(Profile::Admin),
            _ => Err(malformed(name, value, "expected mobile, web or admin")),
        }
    }
}

/// Limits checked on the parsed document before execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationLimits {
    /// Characters of query text (`BFF_MAX_QUERY_CHARS`).
    pub max_chars: usize,
    /// Lexical tokens of query text (`BFF_MAX_TOKENS`).
    pub max_tokens: usize,
    /// Field nesting, fragments expanded (`BFF_MAX_DEPTH`).
    pub max_depth: usize,
    /// Aliases plus repeated unaliased fields in one selection set (`BFF_MAX_ALIASES`).
    pub max_aliases: usize,
    /// Fields of the operation's root selection (`BFF_MAX_ROOT_FIELDS`).
    pub max_root_fields: usize,
    /// Directives anywhere in the document (`BFF_MAX_DIRECTIVES`).
    pub max_directives: usize,
    /// Cost: each field 1, children multiplied by the field's `first` (`BFF_MAX_COMPLEXITY`).
    pub max_complexity: u64,
    /// Largest `first` argument anywhere in the document (`BFF_MAX_PAGE_SIZE`).
    pub max_page_size: u64,
}

/// A GCRA rate: `per_minute` sustained, `burst` at once. `per_minute` 0 switches it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Operations per minute per client (`BFF_RATE_LIMIT_PER_MINUTE`; 0 = off).
    pub per_minute: u32,
    /// Operations allowed back to back (`BFF_RATE_LIMIT_BURST`).
    pub burst: u32,
}

/// Who may introspect the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionPolicy {
    Enabled,
    Disabled,
    /// Only requests with an admin viewer.
    AdminsOnly,
}

/// JWT rules beyond the HS256 secret of [`crate::config::AuthConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtPolicy {
    /// JWKS URL for RS256/ES256 keys (`BFF_JWKS_URL`); none = HS256 only.
    pub jwks_url: Option<String>,
    /// Least time between two JWKS fetches caused by unknown `kid`s (`BFF_JWKS_COOLDOWN`).
    pub jwks_cooldown: Duration,
    /// Required `iss` (`BFF_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// Required `aud` (`BFF_JWT_AUDIENCE`).
    pub audience: Option<String>,
    /// Claim holding the role, a string or an array of strings (`BFF_JWT_ROLE_CLAIM`).
    pub role_claim: String,
    /// Role value that makes an admin (`BFF_JWT_ADMIN_ROLE`).
    pub admin_role: String,
    /// Refuse every operation without a valid viewer with 401 (`BFF_REQUIRE_VIEWER`).
    pub require_viewer: bool,
}

impl Default for JwtPolicy {
    fn default() -> Self {
        Self {
            jwks_url: None,
            jwks_cooldown: Duration::from_secs(30),
            issuer: None,
            audience: None,
            role_claim: "role".into(),
            admin_role: "admin".into(),
            require_viewer: false,
        }
    }
}

/// The whole edge policy of one BFF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    /// The profile the defaults came from (`BFF_EDGE_PROFILE`, else from the BFF name).
    pub profile: Profile,
    /// Largest request body in bytes (`BFF_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    pub limits: OperationLimits,
    /// Most operations in one batched request; 0 = batching off (`BFF_MAX_BATCH`).
    pub max_batch: usize,
    /// `BFF_INTROSPECTION`: `on`, `off` or `admins`.
    pub introspection: IntrospectionPolicy,
    /// Keep "did you mean" suggestions in validation errors (`BFF_SUGGESTIONS`).
    pub suggestions: bool,
    pub rate_limit: RateLimit,
    /// Peers whose `X-Forwarded-For` is believed (`BFF_TRUSTED_PROXIES`, comma-separated IPs).
    pub trusted_proxies: Vec<IpAddr>,
    /// Automatic persisted queries kept in memory (`BFF_APQ_CAPACITY`; 0 = APQ off).
    pub apq_capacity: usize,
    /// Parsed, limit-checked documents cached by query text (`BFF_DOCUMENT_CACHE`, default
    /// 512; 0 = off): a repeated query skips parsing and the text-only limit checks.
    pub document_cache: usize,
    /// Manifest of trusted documents, a JSON object sha256 → document (`BFF_TRUSTED_DOCUMENTS`).
    pub trusted_documents: Option<PathBuf>,
    /// Refuse every document not in the manifest (`BFF_SAFELIST`).
    pub safelist: bool,
    /// `max-age` of public persisted-query GETs without a schema hint (`BFF_PUBLIC_MAX_AGE`).
    pub public_max_age: Duration,
    /// Origins allowed by CORS, with credentials (`BFF_CORS_ORIGINS`, comma-separated); empty =
    /// no CORS headers (same origin only).
    pub cors_origins: Vec<String>,
    /// gzip/br response compression by Accept-Encoding (`BFF_COMPRESSION`).
    pub compression: bool,
    pub jwt: JwtPolicy,
}

impl EdgeConfig {
    /// The defaults of a profile; `dev_mode` turns introspection and suggestions on and the rate
    /// limit off.
    pub fn for_profile(profile: Profile, dev_mode: bool) -> Self {
        let limits = match profile {
            Profile::Mobile => OperationLimits {
                max_chars: 8_000,
                max_tokens: 1_000,
                max_depth: 8,
                max_aliases: 15,
                max_root_fields: 10,
                max_directives: 50,
                max_complexity: 5_000,
                max_page_size: 50,
            },
            Profile::Web | Profile::Admin => OperationLimits {
                max_chars: 16_000,
                max_tokens: 2_000,
                max_depth: 10,
                max_aliases: 30,
                max_root_fields: 15,
                max_directives: 50,
                max_complexity: 10_000,
                max_page_size: 100,
            },
        };
        let (max_body_bytes, per_minute, burst) = match profile {
            Profile::Mobile => (32 * 1024, 600, 60),
            Profile::Web => (128 * 1024, 1_200, 120),
            Profile::Admin => (256 * 1024, 600, 60),
        };
        let introspection = match (dev_mode, profile) {
            (true, _) => IntrospectionPolicy::Enabled,
            (false, Profile::Admin) => IntrospectionPolicy::AdminsOnly,
            (false, _) => IntrospectionPolicy::Disabled,
        };
        Self {
            profile,
            max_body_bytes,
            limits,
            max_batch: 0,
            introspection,
            suggestions: dev_mode,
            rate_limit: RateLimit {
                per_minute: if dev_mode { 0 } else { per_minute },
                burst,
            },
            trusted_proxies: Vec::new(),
            apq_capacity: 1_000,
            document_cache: crate::doc_cache::DEFAULT_CAPACITY,
            trusted_documents: None,
            safelist: false,
            public_max_age: Duration::from_secs(60),
            cors_origins: Vec::new(),
            compression: true,
            jwt: JwtPolicy {
                require_viewer: profile == Profile::Admin && !dev_mode,
                ..JwtPolicy::default()
            },
        }
    }

    /// Reads the edge variables over `self` (called by `BffConfig::from_vars`).
    pub(crate) fn read_vars(
        &mut self,
        take: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let number = |name: &str, v: &str, min: usize, max: usize| parse_number(name, v, min, max);
        let limits = &mut self.limits;
        for (name, slot, min, max) in [
            (
                "BFF_MAX_BODY_BYTES",
                &mut self.max_body_bytes,
                256,
                64 << 20,
            ),
            ("BFF_MAX_QUERY_CHARS", &mut limits.max_chars, 16, 1 << 20),
            ("BFF_MAX_TOKENS", &mut limits.max_tokens, 8, 1 << 20),
            ("BFF_MAX_DEPTH", &mut limits.max_depth, 1, 1_000),
            ("BFF_MAX_ALIASES", &mut limits.max_aliases, 0, 100_000),
            (
                "BFF_MAX_ROOT_FIELDS",
                &mut limits.max_root_fields,
                1,
                100_000,
            ),
            ("BFF_MAX_DIRECTIVES", &mut limits.max_directives, 0, 100_000),
            ("BFF_MAX_BATCH", &mut self.max_batch, 0, 1_000),
            ("BFF_APQ_CAPACITY", &mut self.apq_capacity, 0, 10_000_000),
            ("BFF_DOCUMENT_CACHE", &mut self.document_cache, 0, 1_000_000),
        ] {
            if let Some(v) = take(name) {
                *slot = number(name, &v, min, max)?;
            }
        }
        if let Some(v) = take("BFF_MAX_COMPLEXITY") {
            limits.max_complexity = number("BFF_MAX_COMPLEXITY", &v, 1, usize::MAX)? as u64;
        }
        if let Some(v) = take("BFF_MAX_PAGE_SIZE") {
            limits.max_page_size = number("BFF_MAX_PAGE_SIZE", &v, 1, 1_000_000)? as u64;
        }
        if let Some(v) = take("BFF_RATE_LIMIT_PER_MINUTE") {
            self.rate_limit.per_minute =
                number("BFF_RATE_LIMIT_PER_MINUTE", &v, 0, 10_000_000)? as u32;
        }
        if let Some(v) = take("BFF_RATE_LIMIT_BURST") {
            self.rate_limit.burst = number("BFF_RATE_LIMIT_BURST", &v, 1, 1_000_000)? as u32;
        }
        if let Some(v) = take("BFF_INTROSPECTION") {
            self.introspection = match v.as_str() {
                "on" | "true" => IntrospectionPolicy::Enabled,
                "off" | "false" => IntrospectionPolicy::Disabled,
                "admins" => IntrospectionPolicy::AdminsOnly,
                _ => {
                    return Err(malformed(
                        "BFF_INTROSPECTION",
                        &v,
                        "expected on, off or admins",
                    ));
                }
            };
        }
        for (name, slot) in [
            ("BFF_SUGGESTIONS", &mut self.suggestions),
            ("BFF_SAFELIST", &mut self.safelist),
            ("BFF_COMPRESSION", &mut self.compression),
            ("BFF_REQUIRE_VIEWER", &mut self.jwt.require_viewer),
        ] {
            if let Some(v) = take(name) {
                *slot = parse_bool(name, &v)?;
            }
        }
        if let Some(v) = take("BFF_TRUSTED_PROXIES") {
            self.trusted_proxies = list(&v)
                .map(|ip| {
                    ip.parse()
                        .map_err(|_| malformed("BFF_TRUSTED_PROXIES", &v, "expected IP addresses"))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = take("BFF_TRUSTED_DOCUMENTS") {
            self.trusted_documents = Some(PathBuf::from(v));
        }
        if self.safelist && self.trusted_documents.is_none() {
            return Err(malformed(
                "BFF_SAFELIST",
                "true",
                "safelist mode needs BFF_TRUSTED_DOCUMENTS",
            ));
        }
        if let Some(v) = take("BFF_PUBLIC_MAX_AGE") {
            self.public_max_age = parse_duration("BFF_PUBLIC_MAX_AGE", &v)?;
        }
        if let Some(v) = take("BFF_CORS_ORIGINS") {
            self.cors_origins = list(&v).map(str::to_owned).collect();
            if let Some(bad) = self.cors_origins.iter().find(|o| !valid_origin(o)) {
                return Err(malformed(
                    "BFF_CORS_ORIGINS",
                    bad,
                    "expected explicit origins such as https://shop.example.com (never *)",
                ));
            }
        }
        let jwt = &mut self.jwt;
        if let Some(v) = take("BFF_JWKS_URL") {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(malformed("BFF_JWKS_URL", &v, "expected an https:// URL"));
            }
            jwt.jwks_url = Some(v);
        }
        if let Some(v) = take("BFF_JWKS_COOLDOWN") {
            jwt.jwks_cooldown = parse_duration("BFF_JWKS_COOLDOWN", &v)?;
        }
        for (name, slot) in [
            ("BFF_JWT_ISSUER", &mut jwt.issuer),
            ("BFF_JWT_AUDIENCE", &mut jwt.audience),
        ] {
            if let Some(v) = take(name) {
                *slot = Some(v);
            }
        }
        for (name, slot) in [
            ("BFF_JWT_ROLE_CLAIM", &mut jwt.role_claim),
            ("BFF_JWT_ADMIN_ROLE", &mut jwt.admin_role),
        ] {
            if let Some(v) = take(name) {
                if v.is_empty() {
                    return Err(malformed(name, &v, "must not be empty"));
                }
                *slot = v;
            }
        }
        Ok(())
    }
}

/// The profile named by `BFF_EDGE_PROFILE`, if set.
pub(crate) fn profile_var(
    take: &mut impl FnMut(&str) -> Option<String>,
) -> Result<Option<Profile>, ConfigError> {
    take("BFF_EDGE_PROFILE")
        .map(|v| Profile::parse("BFF_EDGE_PROFILE", &v))
        .transpose()
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!(rest, Some(host) if !host.is_empty() && !host.contains(['/', '*', ' ']))
}
