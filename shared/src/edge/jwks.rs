//! Verification keys from a JWKS URL (RS256/ES256 tokens of a production identity provider).
//! Keys are cached; an unknown `kid` refreshes the set at most once per cooldown, with a single
//! fetch in flight however many requests ask; cached keys keep working while the endpoint is down.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Longest a JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One usable key and the algorithms it may verify (pinned to its family).
#[derive(Clone)]
pub struct JwkKey {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

impl JwkKey {
    /// The key of a JWK, or `None` for key types tokens may not use (symmetric keys, P-521).
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        let family: Vec<Algorithm> = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
            AlgorithmParameters::OctetKey(_) => return None,
        };
        // A JWK that names its algorithm allows that one only.
        let algorithms = match &jwk.common.key_algorithm {
            Some(named) => family
                .into_iter()
                .filter(|alg| format!("{alg:?}") == format!("{named:?}"))
                .collect(),
            None => family,
        };
        let key = DecodingKey::from_jwk(jwk).ok()?;
        (!algorithms.is_empty()).then_some(Self { key, algorithms })
    }
}

/// The cached key set of one JWKS URL.
pub struct JwksCache {
    url: String,
    cooldown: Duration,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, Arc<JwkKey>>>,
    /// Held while fetching (single flight); remembers when the last fetch started.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    /// A cache of `url`, empty until the first token asks for a key.
    pub fn new(url: &str, cooldown: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .build()?;
        Ok(Self {
            url: url.to_owned(),
            cooldown,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
        })
    }

    fn cached(&self, kid: &str) -> Option<Arc<JwkKey>> {
        self.keys
            .read()
            .ok()
            .and_then(|keys| keys.get(kid).cloned())
    }

    /// The key with `kid`: from the cache, else after one refresh if the cooldown allows.
    pub async fn key(&self, kid: &str) -> Option<Arc<JwkKey>> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.cooldown) {
            return None;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                let keys: HashMap<String, Arc<JwkKey>> = set
                    .keys
                    .iter()
                    .filter_map(|jwk| {
                        let kid = jwk.common.key_id.clone()?;
                        JwkKey::from_jwk(jwk).map(|key| (kid, Arc::new(key)))
                    })
                    .collect();
                tracing::info!(url = %self.url, keys = keys.len(), "JWKS refreshed");
                if let Ok(mut cache) = self.keys.write() {
                    *cache = keys;
                }
            }
            Err(detail) => {
                tracing::warn!(url = %self.url, %detail, "JWKS fetch failed; keeping cached keys");
            }
        }
        drop(last_fetch);
        self.cached(kid)
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .error_for_status()
            .map_err(|e| e.to_string())?;
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("JWKS larger than {MAX_JWKS_BYTES} bytes"));
        }
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }
}
