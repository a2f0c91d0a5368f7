//! GraphQL building blocks every BFF schema uses: access to the request's [`Auth`] and
//! [`Downstream`], the money type, page info and page-size limits, and text trimming.

use async_graphql::{Context, SimpleObject};

use crate::auth::{Auth, Viewer};
use crate::error::{BffError, BffResult};
use crate::loaders::Downstream;

/// Access to what the server attaches to every request.
pub trait RequestContext {
    /// The request's downstream facade (fresh loaders per request).
    fn downstream(&self) -> BffResult<&Downstream>;
    /// What the request's credentials say.
    fn auth(&self) -> Auth;
    /// The signed-in viewer, or UNAUTHENTICATED.
    fn viewer(&self) -> BffResult<Viewer> {
        self.auth().viewer()
    }
    /// An admin viewer, or UNAUTHENTICATED / FORBIDDEN.
    fn admin(&self) -> BffResult<Viewer> {
        self.auth().admin()
    }
}

impl RequestContext for Context<'_> {
    fn downstream(&self) -> BffResult<&Downstream> {
        self.data_opt::<Downstream>()
            .ok_or_else(|| BffError::Internal("request has no Downstream attached".into()))
    }

    fn auth(&self) -> Auth {
        self.data_opt::<Auth>().copied().unwrap_or(Auth::Anonymous)
    }
}

/// An amount of money, exact: computed from integer cents, never from a float.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Money {
    /// The amount as a decimal string with two fraction digits, e.g. "19.99".
    pub amount: String,
    /// ISO 4217 currency code, e.g. "USD".
    pub currency: String,
    /// The amount formatted for display, e.g. "$19.99".
    pub formatted: String,
}

impl Money {
    /// Money from integer cents and a currency code.
    pub fn from_cents(cents: i64, currency: &str) -> Self {
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        let amount = format!("{sign}{}.{:02}", abs / 100, abs % 100);
        let symbol = match currency {
            "USD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        };
        let formatted = match symbol {
            Some(symbol) => format!(
                "{sign}{symbol}{}.{:02}",
                group_thousands(abs / 100),
                abs % 100
            ),
            None => format!("{amount} {currency}"),
        };
        Self {
            amount,
            currency: currency.to_owned(),
            formatted,
        }
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a page of a connection ends.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct PageInfo {
    /// Whether another page follows.
    pub has_next_page: bool,
    /// Cursor to pass as `after` for the next page; null on the last page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// Page info from a downstream page's next cursor.
    pub fn from_next_cursor(next_cursor: Option<String>) -> Self {
        Self {
            has_next_page: next_cursor.is_some(),
            end_cursor: next_cursor,
        }
    }
}

/// Default and maximum page size of a connection.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default: usize,
    pub max: usize,
}

impl PageLimits {
    /// The page size for a `first` argument: the default when absent, an error (never a silent
    /// cap) when below 1 or above the maximum.
    pub fn size(self, first: Option<i32>) -> BffResult<usize> {
        match first {
            None => Ok(self.default),
            Some(n) if n < 1 => Err(BffError::bad_input("first", "first must be at least 1")),
            Some(n) if n as usize > self.max => Err(BffError::bad_input(
                "first",
                format!("first must be at most {}", self.max),
            )),
            Some(n) => Ok(n as usize),
        }
    }
}

/// Cuts `text` to at most `max_chars` characters (not bytes), ending with "…" when it was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some(_) => {
            let keep: String = text.chars().take(max_chars.saturating_sub(1)).collect();
            format!("{}…", keep.trim_end())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact() {
        let m = Money::from_cents(1999, "USD");
        assert_eq!(
            (m.amount.as_str(), m.formatted.as_str()),
            ("19.99", "$19.99")
        );
        assert_eq!(Money::from_cents(5, "EUR").formatted, "€0.05");
        assert_eq!(
            Money::from_cents(123_456_789, "USD").formatted,
            "$1,234,567.89"
        );
        assert_eq!(Money::from_cents(-250, "USD").amount, "-2.50");
        assert_eq!(Money::from_cents(100, "CHF").formatted, "1.00 CHF");
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        let cut = truncate_chars("日本語のテキストです", 5);
        assert_eq!(cut, "日本語の…");
        assert_eq!(cut.chars().count(), 5);
    }

    #[test]
    fn page_sizes_are_checked_not_capped() {
        let limits = PageLimits {
            default: 10,
            max: 30,
        };
        assert_eq!(limits.size(None).ok(), Some(10));
        assert_eq!(limits.size(Some(30)).ok(), Some(30));
        assert!(limits.size(Some(31)).is_err());
        assert!(limits.size(Some(0)).is_err());
    }
}

/// A schema extension that makes a failing nullable field `null` with its error, as the GraphQL
/// specification asks. async-graphql 7.2 instead drops the key of a failed field from its parent
/// object (and makes the parent `null` when every field failed), so a page could not tell "no
/// reviews" from "reviews unavailable". Every BFF schema registers it.
pub struct NullOnError;

impl async_graphql::extensions::ExtensionFactory for NullOnError {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(NullOnErrorRequest::default())
    }
}

/// Per-request state of [`NullOnError`]: the errors of the fields it turned into `null`.
#[derive(Default)]
struct NullOnErrorRequest {
    errors: std::sync::Mutex<Vec<async_graphql::ServerError>>,
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for NullOnErrorRequest {
    async fn execute(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx, operation_name).await;
        let nulled = match self.errors.lock() {
            Ok(mut errors) => std::mem::take(&mut *errors),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        response.errors.extend(nulled);
        response
    }

    async fn resolve(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: async_graphql::extensions::NextResolve<'_>,
    ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
        // Every field passes through here: non-null fields go straight on, and the path is only
        // turned into strings when a nullable field actually failed.
        if info.return_type.ends_with('!') {
            return next.run(ctx, info).await;
        }
        let path_node = info.path_node;
        match next.run(ctx, info).await {
            Err(mut error) => {
                if error.path.is_empty() {
                    error.path = path_node
                        .to_string_vec()
                        .into_iter()
                        .map(|segment| match segment.parse::<usize>() {
                            Ok(index) => async_graphql::PathSegment::Index(index),
                            Err(_) => async_graphql::PathSegment::Field(segment),
                        })
                        .collect();
                }
                match self.errors.lock() {
                    Ok(mut errors) => errors.push(error),
                    Err(poisoned) => poisoned.into_inner().push(error),
                }
                Ok(Some(async_graphql::Value::Null))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod null_on_error_tests {
    #![allow(clippy::unwrap_used)]
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::NullOnError;
    use crate::error::BffError;

    struct Query;

    /// Test schema.
    #[Object]
    impl Query {
        /// Works.
        async fn ok(&self) -> i32 {
            1
        }
        /// Fails, nullable.
        async fn broken(&self) -> async_graphql::Result<Option<i32>> {
            Err(BffError::NotFound("thing".into()).into())
        }
        /// Nested.
        async fn nested(&self) -> Nested {
            Nested
        }
    }

    struct Nested;

    /// Nested object.
    #[Object]
    impl Nested {
        /// Fails, nullable.
        async fn broken(&self) -> async_graphql::Result<Option<Vec<i32>>> {
            Err(BffError::NotFound("list".into()).into())
        }
    }

    #[tokio::test]
    async fn a_failed_nullable_field_is_null_with_its_error() {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(NullOnError)
            .finish();
        let response = schema.execute("{ ok broken nested { broken } }").await;
        let data = response.data.clone().into_json().unwrap();
        assert_eq!(
            data,
            serde_json::json!({"ok": 1, "broken": null, "nested": {"broken": null}})
        );
        let paths: Vec<String> = response
            .errors
            .iter()
            .map(|e| serde_json::to_string(&e.path).unwrap())
            .collect();
        assert_eq!(paths, vec![r#"["broken"]"#, r#"["nested","broken"]"#]);
        assert_eq!(
            response.errors[0].extensions.as_ref().unwrap().get("code"),
            Some(&async_graphql::Value::from("NOT_FOUND"))
        );
    }
}

/// A positive integer id from a GraphQL `ID` argument; anything else is BAD_USER_INPUT naming
/// `field`.
pub fn parse_id(field: &str, id: &async_graphql::ID) -> BffResult<crate::models::Id> {
    match id.as_str().trim().parse::<crate::models::Id>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(BffError::bad_input(
            field,
            format!("{field} must be a positive integer id"),
        )),
    }
}

/// The body of `POST /orders` for `user_id`, from `(productId, quantity)` lines as a client sent
/// them. Checked before anything is sent: no lines (`field` "items"), an invalid id
/// ("items[i].productId") or a quantity below 1 ("items[i].quantity") are BAD_USER_INPUT.
/// Unknown products and stock are the orders service's to judge.
pub fn new_order<'a>(
    user_id: crate::models::Id,
    lines: impl IntoIterator<Item = (&'a async_graphql::ID, i32)>,
) -> BffResult<crate::models::NewOrder> {
    let mut items = Vec::new();
    for (i, (product_id, quantity)) in lines.into_iter().enumerate() {
        let product_id = parse_id(&format!("items[{i}].productId"), product_id)?;
        if quantity < 1 {
            return Err(BffError::bad_input(
                format!("items[{i}].quantity"),
                "quantity must be at least 1",
            ));
        }
        items.push(crate::models::NewOrderItem {
            product_id,
            quantity: i64::from(quantity),
        });
    }
    if items.is_empty() {
        return Err(BffError::bad_input(
            "items",
            "an order needs at least one item",
        ));
    }
    Ok(crate::models::NewOrder { user_id, items })
}
