//! The users service: lookups by id and ids, search with pagination, and PATCH.

use axum::{
    Json, Router,
    extract::State,
    middleware::from_fn_with_state,
    response::{IntoResponse, Response},
    routing::get,
};
use shared::models::{User, UserPatch};

use crate::{
    control::{extras_router, track},
    error::{ApiError, ApiResult, IdPath, JsonBody, method_not_allowed, route_not_found},
    params::{Params, paginate},
    state::AppState,
};

/// The users service router (with its counting middleware and extras).
pub fn router(state: AppState) -> Router {
    let ctl = state.control.clone();
    Router::new()
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user).patch(patch_user))
        .route_layer(from_fn_with_state(ctl.clone(), track))
        .with_state(state)
        .merge(extras_router(ctl))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn get_user(State(st): State<AppState>, IdPath(id): IdPath) -> ApiResult<Json<User>> {
    st.read()
        .user(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))
}

async fn list_users(State(st): State<AppState>, params: Params) -> ApiResult<Response> {
    if let Some(ids) = params.ids("ids")? {
        let data = st.read();
        let users: Vec<User> = ids
            .iter()
            .filter_map(|&id| data.user(id).cloned())
            .collect();
        return Ok(Json(users).into_response());
    }
    let limit = params.limit()?;
    let after = params.after()?.unwrap_or(0);
    let q = params.text("q").map(str::to_lowercase);
    let data = st.read();
    let start = (after.max(0) as usize).min(data.users().len());
    let matches = data.users()[start..].iter().filter(|u| match &q {
        Some(q) => u.name.to_lowercase().contains(q) || u.email.to_lowercase().contains(q),
        None => true,
    });
    let page = paginate(matches.cloned(), limit, |u| u.id);
    Ok(Json(page).into_response())
}

async fn patch_user(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    JsonBody(patch): JsonBody<UserPatch>,
) -> ApiResult<Json<User>> {
    st.write().patch_user(id, patch).map(Json)
}
