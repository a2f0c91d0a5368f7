//! The management mutations. Each one checks the admin, validates its input before any
//! downstream call (a refused mutation writes nothing), loads the before state, writes, and emits
//! an audit event: a `tracing` line with target `audit` and the fields `admin_id`, `action`,
//! `target_type`, `target_id`, `before`, `after`.

use async_graphql::{Context, ID, InputObject, Object, Result};
use serde_json::{Value, json};
use shared::auth::Viewer;
use shared::error::{BffError, BffResult};
use shared::graphql::{RequestContext, truncate_chars};
use shared::models::{self, Id, ProductPatch, UserPatch};

use super::order::{Order, OrderStatus};
use super::product::Product;
use super::user::{Role, Tier, User};
use super::{AdminGuard, found, parse_id};

/// Longest product name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Changes to a product; only the fields given change. Give `price` or `priceCents`, not both.
#[derive(InputObject, Debug, Default)]
pub struct UpdateProductInput {
    /// New price as a decimal string with at most two fraction digits, e.g. "19.99"; must be > 0.
    pub price: Option<String>,
    /// New price in cents, e.g. 1999; must be > 0.
    pub price_cents: Option<i64>,
    /// New units in stock; must be ≥ 0.
    pub inventory: Option<i64>,
    /// New display name; must not be blank, at most 200 characters.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Changes to a user account; only the fields given change.
#[derive(InputObject, Debug, Default)]
pub struct UpdateUserInput {
    /// New loyalty tier.
    pub tier: Option<Tier>,
    /// New role. An admin cannot take the admin role away from their own account.
    pub role: Option<Role>,
}

/// Management operations: every one needs an admin token, and each success is audited.
pub struct Mutation;

/// Management operations: every one needs an admin token, and each success is audited.
#[Object]
impl Mutation {
    /// Moves an order to another status. Only the transitions the orders service allows are
    /// accepted (see `Order.nextStatuses`); any other is CONFLICT with reason INVALID_TRANSITION
    /// and nothing is written.
    #[graphql(guard = "AdminGuard")]
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's id.")] id: ID,
        #[graphql(desc = "The status to move to.")] status: OrderStatus,
    ) -> Result<Order> {
        let viewer = ctx.admin()?;
        let id = parse_id("id", &id)?;
        let to: models::OrderStatus = status.into();
        let clients = ctx.downstream()?.clients();
        let before = found(clients.order(id).await, "order")?;
        if !before.status.can_become(to) {
            return Err(BffError::Conflict {
                message: format!(
                    "an order cannot go from {} to {}",
                    before.status.as_str(),
                    to.as_str()
                ),
                reason: "INVALID_TRANSITION".to_owned(),
            }
            .into());
        }
        let after = found(clients.update_order_status(id, to).await, "order")?;
        audit(
            viewer,
            "updateOrderStatus",
            "order",
            id,
            &json!({ "status": before.status.as_str() }),
            &json!({ "status": after.status.as_str() }),
        );
        Ok(Order(after))
    }

    /// Changes a product's price, inventory, name or description. Invalid input is
    /// BAD_USER_INPUT naming the field in `extensions.field`, and nothing is written.
    #[graphql(guard = "AdminGuard")]
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's id.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateProductInput,
    ) -> Result<Product> {
        let viewer = ctx.admin()?;
        let id = parse_id("id", &id)?;
        let patch = product_patch(input)?;
        let clients = ctx.downstream()?.clients();
        let before = found(clients.product(id).await, "product")?;
        let after = found(clients.update_product(id, &patch).await, "product")?;
        audit(
            viewer,
            "updateProduct",
            "product",
            id,
            &product_audit(&before, &patch),
            &product_audit(&after, &patch),
        );
        Ok(Product(after))
    }

    /// Changes a user's tier or role. Invalid input is BAD_USER_INPUT naming the field, and
    /// nothing is written.
    #[graphql(guard = "AdminGuard")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateUserInput,
    ) -> Result<User> {
        let viewer = ctx.admin()?;
        let id = parse_id("id", &id)?;
        if input.tier.is_none() && input.role.is_none() {
            return Err(BffError::bad_input("input", "give at least one of tier and role").into());
        }
        if id == viewer.user_id && input.role == Some(Role::Customer) {
            return Err(BffError::Conflict {
                message: "an admin cannot remove their own admin role".to_owned(),
                reason: "SELF_DEMOTION".to_owned(),
            }
            .into());
        }
        let patch = UserPatch {
            tier: input.tier.map(Into::into),
            role: input.role.map(Into::into),
            ..UserPatch::default()
        };
        let clients = ctx.downstream()?.clients();
        let before = found(clients.user(id).await, "user")?;
        let after = found(clients.update_user(id, &patch).await, "user")?;
        let view = |u: &models::User| json!({ "tier": u.tier, "role": u.role });
        audit(
            viewer,
            "updateUser",
            "user",
            id,
            &view(&before),
            &view(&after),
        );
        Ok(User::new(after))
    }
}

/// Validates an `UpdateProductInput` into the downstream patch; errors name the bad field.
pub fn product_patch(input: UpdateProductInput) -> BffResult<ProductPatch> {
    let price_cents = match (input.price, input.price_cents) {
        (Some(_), Some(_)) => {
            return Err(BffError::bad_input(
                "price",
                "give price or priceCents, not both",
            ));
        }
        (Some(price), None) => Some(parse_price(&price)?),
        (None, Some(cents)) if cents <= 0 => {
            return Err(BffError::bad_input(
                "priceCents",
                "priceCents must be greater than 0",
            ));
        }
        (None, cents) => cents,
    };
    if input.inventory.is_some_and(|n| n < 0) {
        return Err(BffError::bad_input(
            "inventory",
            "inventory must be at least 0",
        ));
    }
    let name = match input.name {
        Some(name) if name.trim().is_empty() => {
            return Err(BffError::bad_input("name", "name must not be blank"));
        }
        Some(name) if name.chars().count() > MAX_NAME_CHARS => {
            return Err(BffError::bad_input(
                "name",
                format!("name must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        other => other.map(|n| n.trim().to_owned()),
    };
    let patch = ProductPatch {
        price_cents,
        inventory: input.inventory,
        name,
        description: input.description,
    };
    if patch == ProductPatch::default() {
        return Err(BffError::bad_input(
            "input",
            "give at least one of price, priceCents, inventory, name and description",
        ));
    }
    Ok(patch)
}

/// Parses a decimal price ("19.99", "20", "0.5") into cents, exactly (no floats); must be > 0.
pub fn parse_price(raw: &str) -> BffResult<i64> {
    let bad = || {
        BffError::bad_input(
            "price",
            "price must be a positive decimal amount with at most two fraction digits, e.g. \"19.99\"",
        )
    };
    let text = raw.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > 2
        || (text.contains('.') && fraction.is_empty())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    let cents = whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(fraction))
        .ok_or_else(bad)?;
    if cents <= 0 {
        return Err(BffError::bad_input("price", "price must be greater than 0"));
    }
    Ok(cents)
}

/// The audited view of a product: only the fields the patch touches (descriptions shortened).
fn product_audit(product: &models::Product, patch: &ProductPatch) -> Value {
    let mut view = serde_json::Map::new();
    if patch.price_cents.is_some() {
        view.insert("price_cents".into(), json!(product.price_cents));
    }
    if patch.inventory.is_some() {
        view.insert("inventory".into(), json!(product.inventory));
    }
    if patch.name.is_some() {
        view.insert("name".into(), json!(product.name));
    }
    if patch.description.is_some() {
        view.insert(
            "description".into(),
            json!(truncate_chars(&product.description, 80)),
        );
    }
    Value::Object(view)
}

/// Emits the audit event of a successful mutation.
fn audit(
    viewer: Viewer,
    action: &str,
    target_type: &str,
    target_id: Id,
    before: &Value,
    after: &Value,
) {
    tracing::info!(
        target: "audit",
        admin_id = viewer.user_id,
        action,
        target_type,
        target_id,
        before = %before,
        after = %after,
        "admin mutation applied"
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(parse_price("19.99").ok(), Some(1999));
        assert_eq!(parse_price("20").ok(), Some(2000));
        assert_eq!(parse_price("0.5").ok(), Some(50));
        assert_eq!(parse_price(" 7.05 ").ok(), Some(705));
        for bad in [
            "", "0", "0.00", "-1", "1.234", "1.", ".5", "abc", "1e3", "1,50",
        ] {
            assert!(parse_price(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let field = |input| match product_patch(input) {
            Err(BffError::BadUserInput { field, .. }) => field.unwrap(),
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        };
        let input = |f: fn(&mut UpdateProductInput)| {
            let mut i = UpdateProductInput::default();
            f(&mut i);
            i
        };
        assert_eq!(field(input(|i| i.price_cents = Some(0))), "priceCents");
        assert_eq!(field(input(|i| i.price = Some("-2".into()))), "price");
        assert_eq!(field(input(|i| i.inventory = Some(-1))), "inventory");
        assert_eq!(field(input(|i| i.name = Some("  ".into()))), "name");
        assert_eq!(field(UpdateProductInput::default()), "input");
        let ok = product_patch(input(|i| i.inventory = Some(0))).unwrap();
        assert_eq!(ok.inventory, Some(0));
    }
}
