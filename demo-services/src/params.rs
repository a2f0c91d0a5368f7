//! Query-string parameters of the services: id lists, limits, opaque cursors and pagination.

use std::collections::HashMap;

use axum::{
    extract::{FromRequestParts, Query},
    http::request::Parts,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use shared::models::{Id, MAX_IDS_PER_CALL, Page};

use crate::error::ApiError;

/// Default page size of list endpoints.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size of list endpoints.
pub const MAX_LIMIT: i64 = 100;

/// The decoded query string; every accessor validates and answers the contract's 400s.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl<S> FromRequestParts<S> for Params
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|Query(map)| Params(map))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

impl Params {
    /// Builds parameters from pairs (for tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// Whether the parameter is present (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A raw parameter value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A non-empty, trimmed text parameter.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|s| !s.is_empty())
    }

    /// A comma-separated id list (`None` when absent); 1..=100 integer ids.
    pub fn ids(&self, name: &str) -> Result<Option<Vec<Id>>, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let parts: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(ApiError::bad_request(format!(
                "{name} must list at least one id"
            )));
        }
        if parts.len() > MAX_IDS_PER_CALL {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "too_many_ids",
                format!(
                    "{name} lists {} ids; at most {MAX_IDS_PER_CALL} are allowed",
                    parts.len()
                ),
            ));
        }
        parts
            .into_iter()
            .map(|p| {
                p.parse::<Id>().map_err(|_| {
                    ApiError::bad_request(format!("{name}: {p:?} is not an integer id"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A single integer id parameter (`None` when absent).
    pub fn id(&self, name: &str) -> Result<Option<Id>, ApiError> {
        self.get(name)
            .map(|raw| {
                raw.trim().parse::<Id>().map_err(|_| {
                    ApiError::bad_request(format!("{name}: {raw:?} is not an integer id"))
                })
            })
            .transpose()
    }

    /// An integer in `1..=max`, `default` when absent.
    pub fn bounded(&self, name: &str, default: i64, max: i64) -> Result<usize, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default as usize);
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be an integer between 1 and {max}, got {raw:?}"
            ))),
        }
    }

    /// The `limit` parameter: 1..=100, default 20.
    pub fn limit(&self) -> Result<usize, ApiError> {
        self.bounded("limit", DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// The decoded `after` cursor, if any.
    pub fn after(&self) -> Result<Option<i64>, ApiError> {
        self.get("after").map(decode_cursor).transpose()
    }
}

/// Encodes a position as an opaque cursor.
pub fn encode_cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{position}"))
}

/// Decodes a cursor made by [`encode_cursor`]; anything else is 400 `invalid_cursor`.
pub fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_cursor",
            format!("malformed cursor {cursor:?}"),
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix("v1:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(invalid)
}

/// Takes up to `limit` items; when more follow, the cursor is `key` of the last item taken.
pub fn paginate<T>(
    mut iter: impl Iterator<Item = T>,
    limit: usize,
    key: impl Fn(&T) -> i64,
) -> Page<T> {
    let items: Vec<T> = iter.by_ref().take(limit).collect();
    let next_cursor = if items.len() == limit && iter.next().is_some() {
        items.last().map(|last| encode_cursor(key(last)))
    } else {
        None
    };
    Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_rejects_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)).ok(), Some(42));
        assert!(decode_cursor("!!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("v2:1")).is_err());
    }

    #[test]
    fn ids_validation() {
        let p = Params::from_pairs(&[("ids", "1, 2,3")]);
        assert_eq!(p.ids("ids").ok().flatten(), Some(vec![1, 2, 3]));
        assert!(Params::from_pairs(&[("ids", "abc")]).ids("ids").is_err());
        let many = (1..=101)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let err = Params::from_pairs(&[("ids", &many)]).ids("ids").err();
        assert_eq!(err.map(|e| e.code), Some("too_many_ids"));
        assert!(Params::from_pairs(&[("limit", "0")]).limit().is_err());
        assert!(Params::from_pairs(&[("limit", "-1")]).limit().is_err());
        assert_eq!(Params::default().limit().ok(), Some(20));
    }

    #[test]
    fn paginate_sets_cursor_only_when_more() {
        let page = paginate(1..=5i64, 5, |x| *x);
        assert_eq!(page.next_cursor, None);
        let page = paginate(1..=6i64, 5, |x| *x);
        assert_eq!(page.next_cursor, Some(encode_cursor(5)));
    }
}
