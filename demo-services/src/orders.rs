//! The orders service: lookups, per-user and batch per-user lists, status lists, stats,
//! placing orders (priced from the shared catalogue) and status transitions.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    middleware::from_fn_with_state,
    response::{IntoResponse, Response},
    routing::get,
};
use shared::models::{NewOrder, Order, OrderPatch, OrderStats, OrderStatus};

use crate::{
    control::{extras_router, track},
    error::{ApiError, ApiResult, IdPath, JsonBody, method_not_allowed, route_not_found},
    params::{Params, paginate},
    state::AppState,
};

/// Default and largest `per_user` of the batch form.
const DEFAULT_PER_USER: i64 = 3;
const MAX_PER_USER: i64 = 50;

/// The orders service router (with its counting middleware and extras).
pub fn router(state: AppState) -> Router {
    let ctl = state.control.clone();
    Router::new()
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/stats", get(order_stats))
        .route("/orders/{id}", get(get_order).patch(patch_order))
        .route_layer(from_fn_with_state(ctl.clone(), track))
        .with_state(state)
        .merge(extras_router(ctl))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn get_order(State(st): State<AppState>, IdPath(id): IdPath) -> ApiResult<Json<Order>> {
    st.read()
        .order(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("order {id} not found")))
}

async fn list_orders(State(st): State<AppState>, params: Params) -> ApiResult<Response> {
    if let Some(ids) = params.ids("ids")? {
        let data = st.read();
        let orders: Vec<Order> = ids
            .iter()
            .filter_map(|&id| data.order(id).cloned())
            .collect();
        return Ok(Json(orders).into_response());
    }
    if let Some(user_ids) = params.ids("user_ids")? {
        let per_user = params.bounded("per_user", DEFAULT_PER_USER, MAX_PER_USER)?;
        let data = st.read();
        let batch: BTreeMap<String, Vec<Order>> = user_ids
            .iter()
            .map(|&uid| {
                (
                    uid.to_string(),
                    data.orders_of_user(uid, None)
                        .take(per_user)
                        .cloned()
                        .collect(),
                )
            })
            .collect();
        return Ok(Json(batch).into_response());
    }
    let limit = params.limit()?;
    let before = params.after()?;
    if let Some(user_id) = params.id("user_id")? {
        let data = st.read();
        let page = paginate(data.orders_of_user(user_id, before).cloned(), limit, |o| {
            o.id
        });
        return Ok(Json(page).into_response());
    }
    let status = params
        .text("status")
        .map(|s| {
            OrderStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown status {s:?}; expected one of pending, paid, shipped, delivered, cancelled"
                ))
            })
        })
        .transpose()?;
    let data = st.read();
    let page = match status {
        Some(status) => paginate(
            data.orders_with_status(status, before).cloned(),
            limit,
            |o| o.id,
        ),
        None => paginate(data.orders_newest_first(before).cloned(), limit, |o| o.id),
    };
    Ok(Json(page).into_response())
}

async fn order_stats(State(st): State<AppState>) -> Json<OrderStats> {
    Json(st.read().order_stats())
}

async fn create_order(
    State(st): State<AppState>,
    JsonBody(new): JsonBody<NewOrder>,
) -> ApiResult<Response> {
    let order = st.write().create_order(new)?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

async fn patch_order(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    JsonBody(patch): JsonBody<OrderPatch>,
) -> ApiResult<Json<Order>> {
    st.write().set_order_status(id, patch.status).map(Json)
}
