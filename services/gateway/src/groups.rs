//! Client REST for groups: create and operate (the group's aggregate decides), the caller's
//! groups with what changed since a cursor (sync at login), one group, and its members (paged).

use crate::GatewayState;
use crate::errors::store_error;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::group_ops::{GroupOp, GroupSpec};
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::{GroupId, UserId};
use tidings_store::ReadModels;

/// The group routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/groups", get(mine::<S>).post(create::<S>))
        .route("/v1/groups/{group_id}", get(one::<S>))
        .route("/v1/groups/{group_id}/ops", post(operate::<S>))
        .route("/v1/groups/{group_id}/members", get(members::<S>))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The body of `POST /v1/groups`.
#[derive(Debug, Deserialize)]
pub struct CreateGroup {
    group_id: GroupId,
    #[serde(flatten)]
    spec: GroupSpec,
}

async fn create<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let view = state
        .shared
        .commands
        .group(&me.app, &me.user, &body.group_id, body.spec.into())
        .await?;
    Ok(Json(json!({ "group": view.value, "pos": view.pos })))
}

async fn operate<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(group_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(op): JsonBody<GroupOp>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let group = GroupId::parse(group_id)?;
    let view = state
        .shared
        .commands
        .group(&me.app, &me.user, &group, op.into())
        .await?;
    Ok(Json(json!({ "group": view.value, "pos": view.pos })))
}

#[derive(Debug, Deserialize)]
struct SinceQuery {
    #[serde(default)]
    since: u64,
    token: Option<String>,
}

/// Sync at login: the caller's groups whose row or membership changed after `since` (groups
/// left or dismissed included, with `role` absent), and the cursor for next time.
async fn mine<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SinceQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let store = &state.shared.store;
    let mut groups = Vec::new();
    let mut cursor = query.since;
    for mine in store
        .user_groups(&me.app, &me.user)
        .await
        .map_err(store_error)?
    {
        let Some(row) = store
            .group(&me.app, &mine.group)
            .await
            .map_err(store_error)?
        else {
            continue;
        };
        let changed = mine.cursor.max(row.cursor);
        if changed > query.since {
            cursor = cursor.max(changed);
            groups.push(json!({ "group": row, "role": mine.role }));
        }
    }
    Ok(Json(json!({ "groups": groups, "cursor": cursor })))
}

async fn one<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(group_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let group = GroupId::parse(group_id)?;
    let store = &state.shared.store;
    let row = store
        .group(&me.app, &group)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("group {group} not found")))?;
    let role = store
        .member(&me.app, &group, &me.user)
        .await
        .map_err(store_error)?
        .map(|m| m.role);
    Ok(Json(json!({ "group": row, "role": role })))
}

#[derive(Debug, Deserialize)]
struct MembersQuery {
    after: Option<String>,
    limit: Option<usize>,
    token: Option<String>,
}

async fn members<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(group_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<MembersQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let group = GroupId::parse(group_id)?;
    let after = query.after.map(UserId::parse).transpose()?;
    let limit = check_limit(query.limit, 100)?;
    let store = &state.shared.store;
    if store
        .member(&me.app, &group, &me.user)
        .await
        .map_err(store_error)?
        .is_none()
    {
        return Err(ApiError::new(
            ErrorCode::NotMember,
            "only members see the member list",
        ));
    }
    let page = store
        .members(&me.app, &group, after.as_ref(), limit)
        .await
        .map_err(store_error)?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|m| m.user.clone()))
        .flatten();
    Ok(Json(json!({ "members": page, "next_after": next })))
}
