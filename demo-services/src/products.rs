//! The products service: catalogue lookups and search, featured and related products,
//! reviews with rating summaries, and PATCH.

use axum::{
    Json, Router,
    extract::State,
    middleware::from_fn_with_state,
    response::{IntoResponse, Response},
    routing::get,
};
use shared::models::{Product, ProductPatch, ReviewSummary, ReviewsPage};

use crate::{
    control::{extras_router, track},
    error::{ApiError, ApiResult, IdPath, JsonBody, method_not_allowed, route_not_found},
    params::{MAX_LIMIT, Params, decode_cursor, encode_cursor, paginate},
    state::AppState,
};

/// The products service router (with its counting middleware and extras).
pub fn router(state: AppState) -> Router {
    let ctl = state.control.clone();
    Router::new()
        .route("/products", get(list_products))
        .route("/products/featured", get(featured))
        .route("/products/{id}", get(get_product).patch(patch_product))
        .route("/products/{id}/reviews", get(reviews))
        .route("/products/{id}/related", get(related))
        .route("/reviews/summary", get(review_summary))
        .route_layer(from_fn_with_state(ctl.clone(), track))
        .with_state(state)
        .merge(extras_router(ctl))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

fn unknown(id: i64) -> ApiError {
    ApiError::not_found(format!("product {id} not found"))
}

async fn get_product(State(st): State<AppState>, IdPath(id): IdPath) -> ApiResult<Json<Product>> {
    st.read()
        .product(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| unknown(id))
}

async fn list_products(State(st): State<AppState>, params: Params) -> ApiResult<Response> {
    if let Some(ids) = params.ids("ids")? {
        let data = st.read();
        let products: Vec<Product> = ids
            .iter()
            .filter_map(|&id| data.product(id).cloned())
            .collect();
        return Ok(Json(products).into_response());
    }
    let limit = params.limit()?;
    let after = params.after()?.unwrap_or(0);
    let q = params.text("q").map(str::to_lowercase);
    let category = params.text("category").map(str::to_lowercase);
    let data = st.read();
    let start = (after.max(0) as usize).min(data.products().len());
    let matches = data.products()[start..].iter().filter(|p| {
        category.as_deref().is_none_or(|c| p.category == c)
            && q.as_deref()
                .is_none_or(|q| p.name.to_lowercase().contains(q) || p.category.contains(q))
    });
    Ok(Json(paginate(matches.cloned(), limit, |p| p.id)).into_response())
}

async fn featured(State(st): State<AppState>, params: Params) -> ApiResult<Json<Vec<Product>>> {
    let limit = params.bounded("limit", 4, MAX_LIMIT)?;
    Ok(Json(st.read().featured(limit)))
}

async fn related(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    params: Params,
) -> ApiResult<Json<Vec<Product>>> {
    let limit = params.bounded("limit", 8, MAX_LIMIT)?;
    st.read()
        .related(id, limit)
        .map(Json)
        .ok_or_else(|| unknown(id))
}

async fn reviews(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    params: Params,
) -> ApiResult<Json<ReviewsPage>> {
    let limit = params.limit()?;
    let offset = params
        .get("after")
        .map(decode_cursor)
        .transpose()?
        .unwrap_or(0) as usize;
    let data = st.read();
    let (Some(all), Some(summary)) = (data.reviews(id), data.review_summary(id)) else {
        return Err(unknown(id));
    };
    let start = offset.min(all.len());
    let end = start.saturating_add(limit).min(all.len());
    Ok(Json(ReviewsPage {
        average_rating: summary.average_rating,
        total: summary.total,
        items: all[start..end].to_vec(),
        next_cursor: (end < all.len()).then(|| encode_cursor(end as i64)),
    }))
}

async fn review_summary(
    State(st): State<AppState>,
    params: Params,
) -> ApiResult<Json<Vec<ReviewSummary>>> {
    let ids = params
        .ids("product_ids")?
        .ok_or_else(|| ApiError::bad_request("product_ids is required"))?;
    let data = st.read();
    Ok(Json(
        ids.iter()
            .filter_map(|&id| data.review_summary(id))
            .collect(),
    ))
}

async fn patch_product(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    JsonBody(patch): JsonBody<ProductPatch>,
) -> ApiResult<Json<Product>> {
    st.write().patch_product(id, patch).map(Json)
}
