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
