//! Who is asking: the viewer extracted from the request's `Authorization: Bearer` JWT (HS256 with
//! a configured secret). `sub` is the user id, `role` is `customer` or `admin`, `exp` is required.
//! A missing token makes an anonymous request; an invalid one is remembered as such, so fields that
//! need a viewer answer UNAUTHENTICATED with a reason (the token itself is never logged).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
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

/// Verifies bearer tokens.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier for HS256 tokens signed with the configured secret.
    pub fn new(config: &AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = config.leeway.as_secs();
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_aud = false;
        Self {
            key: DecodingKey::from_secret(config.jwt_secret.expose().as_bytes()),
            validation,
        }
    }

    /// Reads the `Authorization` header of a request.
    pub fn authenticate(&self, headers: &HeaderMap) -> Auth {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Auth::Anonymous;
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match token {
            Some(token) => self.verify(token),
            None => Auth::Invalid,
        }
    }

    /// Verifies one token.
    pub fn verify(&self, token: &str) -> Auth {
        match jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) => match data.claims.sub.parse::<Id>() {
                Ok(user_id) => Auth::Viewer(Viewer {
                    user_id,
                    role: data.claims.role,
                }),
                Err(_) => Auth::Invalid,
            },
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
