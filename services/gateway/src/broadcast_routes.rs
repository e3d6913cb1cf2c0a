//! Broadcast reads: a user's broadcasts (client REST), and a tag's users (the server API,
//! signed like every server-API route; served here because it reads the store).

use crate::GatewayState;
use crate::errors::store_error;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use crate::rest::TokenQueryAfter;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Json, Router, middleware};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::ApiError;
use tidings_api::json::ApiPath;
use tidings_api::signature::{SignatureCheck, SignedBy, require_signature};
use tidings_domain::{Tag, UserId};
use tidings_store::ReadModels;
use tidings_store::broadcasts;

/// `GET /v1/broadcasts` (client REST, under the gateway's state).
pub fn client_router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new().route("/v1/broadcasts", get(mine::<S>))
}

/// `GET /v1/tags/{tag}/users`, behind the server API's signature check.
pub fn server_router<S: ReadModels>(store: S, check: SignatureCheck) -> Router {
    Router::new()
        .route("/v1/tags/{tag}/users", get(tag_users::<S>))
        .layer(middleware::from_fn_with_state(check, require_signature))
        .with_state(store)
}

/// The caller's broadcasts after `after`, oldest first, and how many they have not seen.
async fn mine<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQueryAfter>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let limit = check_limit(query.limit, 100)?;
    let store = &state.shared.store;
    let audience = store
        .audience(&me.app, &me.user)
        .await
        .map_err(store_error)?;
    let (page, next_after) =
        broadcasts::visible_after(store, &me.app, &audience, query.after, limit)
            .await
            .map_err(store_error)?;
    // Unread: every broadcast for the caller after `after`, counted over at most
    // `MAX_SCAN` rows (the page is the first of them).
    let unread = broadcasts::visible_after(store, &me.app, &audience, query.after, usize::MAX)
        .await
        .map_err(store_error)?
        .0
        .len();
    let last_bseq = store.broadcast_head(&me.app).await.map_err(store_error)?;
    Ok(Json(json!({
        "broadcasts": page,
        "next_after": next_after,
        "last_bseq": last_bseq,
        "unread": unread,
    })))
}

#[derive(Debug, Deserialize)]
struct TagUsersQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// The users holding a tag, ordered by id; `next_after` is absent on the last page.
async fn tag_users<S: ReadModels>(
    State(store): State<S>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(tag): ApiPath<String>,
    ApiQuery(query): ApiQuery<TagUsersQuery>,
) -> Result<Json<Value>, ApiError> {
    let tag = Tag::parse(tag)?;
    let after = query.after.map(UserId::parse).transpose()?;
    let limit = check_limit(query.limit, 100)?;
    let users = store
        .tag_users(&app, &tag, after.as_ref(), limit)
        .await
        .map_err(store_error)?;
    let next_after = (users.len() == limit)
        .then(|| users.last().cloned())
        .flatten();
    Ok(Json(
        json!({ "tag": tag, "users": users, "next_after": next_after }),
    ))
}
