//! Who is asking: the viewer extracted from the request's `Authorization: Bearer` JWT (HS256 with
//! a configured secret; RS256/ES256 with keys from a JWKS URL, see [`crate::edge::jwks`]). `sub`
//! is the user id, the role claim (default `role`) makes an admin when it holds the admin role
//! (default `admin`), `exp` is required; `nbf`, `iss` and `aud` are checked when configured.
//! A missing token makes an anonymous request; an invalid one is remembered as such, so fields that
//! need a viewer answer UNAUTHENTICATED with a reason (the token itself is never logged).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::edge::config::JwtPolicy;
use crate::edge::jwks::JwksCache;
use crate::error::{BffError, BffResult};
use crate::models::{Id, Role};

/// The fixed HS256 secret of dev mode. Never accepted outside dev mode unless configured.
pub const DEV_SECRET: &str = "bff-dev-secret-do-not-use-in-production-0123456789";

/// The signed-in user of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: Id,
    pub role: Role,
}

impl Viewer {
    /// Whether the viewer may use the back office.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What the request's credentials say; attached to every GraphQL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    Anonymous,
    /// A valid token.
    Viewer(Viewer),
    /// A token was sent but is invalid (bad signature, expired, malformed...).
    Invalid,
}

impl Auth {
    /// The viewer, or UNAUTHENTICATED.
    pub fn viewer(&self) -> BffResult<Viewer> {
        match self {
            Auth::Viewer(viewer) => Ok(*viewer),
            Auth::Anonymous => Err(BffError::Unauthenticated("sign in to see this")),
            Auth::Invalid => Err(BffError::Unauthenticated("the token is invalid or expired")),
        }
    }

    /// An admin viewer, or UNAUTHENTICATED / FORBIDDEN.
    pub fn admin(&self) -> BffResult<Viewer> {
        let viewer = self.viewer()?;
        if viewer.is_admin() {
            Ok(viewer)
        } else {
            Err(BffError::Forbidden("this needs an admin account"))
        }
    }
}

/// The claims this BFF reads and issues.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string per RFC 7519.
    pub sub: String,
    pub role: Role,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Verifies bearer tokens: HS256 with the configured secret, and (with a JWKS URL) RS256/ES256
/// with the identity provider's keys. The algorithm is pinned to the key's family, `exp` is
/// required, `nbf`, `iss` and `aud` are checked when configured.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    rules: Arc<ClaimRules>,
    jwks: Option<Arc<JwksCache>>,
}

/// How claims become a viewer.
struct ClaimRules {
    auth: AuthConfig,
    policy: JwtPolicy,
}

impl ClaimRules {
    fn validation(&self, algorithms: &[Algorithm]) -> Validation {
        let mut validation = Validation::new(algorithms.first().copied().unwrap_or_default());
        validation.algorithms = algorithms.to_vec();
        validation.leeway = self.auth.leeway.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.policy.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.policy.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    fn viewer(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Auth {
        let Some(user_id) = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .and_then(|sub| sub.parse::<Id>().ok())
        else {
            return Auth::Invalid;
        };
        let admin = &self.policy.admin_role;
        let is_admin = match claims.get(&self.policy.role_claim) {
            Some(serde_json::Value::String(role)) => role == admin,
            Some(serde_json::Value::Array(roles)) => {
                roles.iter().any(|r| r.as_str() == Some(admin))
            }
            _ => false,
        };
        let role = if is_admin {
            Role::Admin
        } else {
            Role::Customer
        };
        Auth::Viewer(Viewer { user_id, role })
    }
}

type ClaimMap = serde_json::Map<String, serde_json::Value>;

impl TokenVerifier {
    /// A verifier for HS256 tokens signed with the configured secret.
    pub fn new(config: &AuthConfig) -> Self {
        Self::build(config, &JwtPolicy::default(), None)
    }

    /// A verifier with the edge's JWT policy: issuer, audience, role claim and JWKS keys.
    pub fn with_policy(config: &AuthConfig, policy: &JwtPolicy) -> Result<Self, reqwest::Error> {
        let jwks = match &policy.jwks_url {
            Some(url) => Some(Arc::new(JwksCache::new(url, policy.jwks_cooldown)?)),
            None => None,
        };
        Ok(Self::build(config, policy, jwks))
    }

    fn build(config: &AuthConfig, policy: &JwtPolicy, jwks: Option<Arc<JwksCache>>) -> Self {
        let rules = ClaimRules {
            auth: config.clone(),
            policy: policy.clone(),
        };
        Self {
            key: DecodingKey::from_secret(config.jwt_secret.expose().as_bytes()),
            validation: rules.validation(&[Algorithm::HS256]),
            rules: Arc::new(rules),
            jwks,
        }
    }

    /// The bearer token of a request: `None` without an `Authorization` header, `Some(Err)` when
    /// the header is not a bearer token.
    fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
        let value = headers.get(axum::http::header::AUTHORIZATION)?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        Some(token.ok_or(()))
    }

    /// Reads the `Authorization` header of a request (HS256 tokens only; see
    /// [`Self::authenticate_async`] for JWKS keys).
    pub fn authenticate(&self, headers: &HeaderMap) -> Auth {
        match Self::bearer(headers) {
            None => Auth::Anonymous,
            Some(Ok(token)) => self.verify(token),
            Some(Err(())) => Auth::Invalid,
        }
    }

    /// Reads the `Authorization` header of a request, fetching JWKS keys when needed.
    pub async fn authenticate_async(&self, headers: &HeaderMap) -> Auth {
        match Self::bearer(headers) {
            None => Auth::Anonymous,
            Some(Ok(token)) => self.verify_async(token).await,
            Some(Err(())) => Auth::Invalid,
        }
    }

    /// Verifies one HS256 token.
    pub fn verify(&self, token: &str) -> Auth {
        self.decode(token, &self.key, &self.validation)
    }

    /// Verifies one token: HS256 with the secret, other algorithms with the JWKS key of its `kid`.
    pub async fn verify_async(&self, token: &str) -> Auth {
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            Err(err) => {
                tracing::debug!(reason = %err, "rejected a bearer token");
                return Auth::Invalid;
            }
        };
        if header.alg == Algorithm::HS256 {
            return self.verify(token);
        }
        let (Some(jwks), Some(kid)) = (&self.jwks, header.kid.as_deref()) else {
            tracing::debug!(alg = ?header.alg, "rejected a bearer token: no key for its algorithm");
            return Auth::Invalid;
        };
        let Some(key) = jwks.key(kid).await else {
            tracing::debug!("rejected a bearer token: unknown key id");
            return Auth::Invalid;
        };
        if !key.algorithms.contains(&header.alg) {
            tracing::debug!(alg = ?header.alg, "rejected a bearer token: algorithm not the key's");
            return Auth::Invalid;
        }
        let validation = self.rules.validation(&[header.alg]);
        self.decode(token, &key.key, &validation)
    }

    fn decode(&self, token: &str, key: &DecodingKey, validation: &Validation) -> Auth {
        match jsonwebtoken::decode::<ClaimMap>(token, key, validation) {
            Ok(data) => self.rules.viewer(&data.claims),
            Err(err) => {
                tracing::debug!(reason = %err, "rejected a bearer token");
                Auth::Invalid
            }
        }
    }
}

/// Signs an HS256 token for `user_id` with `role`, valid for `ttl` (dev tokens and tests).
pub fn issue_token(secret: &str, user_id: Id, role: Role, ttl: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub: user_id.to_string(),
        role,
        exp: now + ttl.as_secs(),
        iat: Some(now),
    };
    // HS256 signing of a plain struct cannot fail.
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// The demo data's admin (user 1) and a customer with orders (user 2).
pub const DEV_ADMIN_ID: Id = 1;
/// See [`DEV_ADMIN_ID`].
pub const DEV_CUSTOMER_ID: Id = 2;

/// A dev-mode customer token (user 2), valid for 30 days.
pub fn dev_customer_token() -> String {
    issue_token(
        DEV_SECRET,
        DEV_CUSTOMER_ID,
        Role::Customer,
        Duration::from_secs(30 * 86_400),
    )
}

/// A dev-mode admin token (user 1), valid for 30 days.
pub fn dev_admin_token() -> String {
    issue_token(
        DEV_SECRET,
        DEV_ADMIN_ID,
        Role::Admin,
        Duration::from_secs(30 * 86_400),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&AuthConfig {
            jwt_secret: Secret::new(DEV_SECRET),
            leeway: Duration::from_secs(30),
        })
    }

    #[test]
    fn a_dev_token_names_its_viewer() {
        let auth = verifier().verify(&dev_customer_token());
        assert_eq!(
            auth,
            Auth::Viewer(Viewer {
                user_id: DEV_CUSTOMER_ID,
                role: Role::Customer
            })
        );
        assert!(matches!(auth.admin(), Err(BffError::Forbidden(_))));
    }

    #[test]
    fn wrong_secret_and_garbage_are_invalid() {
        let other = issue_token(&"x".repeat(40), 2, Role::Admin, Duration::from_secs(60));
        assert_eq!(verifier().verify(&other), Auth::Invalid);
        assert_eq!(verifier().verify("not-a-jwt"), Auth::Invalid);
    }

    #[test]
    fn an_expired_token_is_invalid() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            sub: "2".into(),
            role: Role::Customer,
            exp: now - 120,
            iat: None,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(DEV_SECRET.as_bytes()),
        )
        .unwrap_or_default();
        assert_eq!(verifier().verify(&token), Auth::Invalid);
    }
}
