//! Client REST for user profiles: one, a batch of up to 100, and what changed since a cursor.
//! Single and batch lookups are served through the user cache.

use crate::GatewayState;
use crate::errors::store_error;
use crate::min_pos::MinPos;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::UserId;
use tidings_store::{ReadModels, UserRow};

/// Most ids in one batch lookup.
pub const MAX_BATCH: usize = 100;

/// The profile routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/users/{user_id}", get(one::<S>))
        .route("/v1/users:batchGet", post(batch::<S>))
        .route("/v1/users:changed", get(changed::<S>))
}

/// A profile as clients see it.
#[derive(Debug, Serialize)]
pub struct Profile<'a> {
    pub user_id: &'a UserId,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<&'a Value>,
    /// Grows with every profile change: refresh a cached profile when it differs.
    pub version: u64,
    pub updated_at: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deactivated: bool,
}

impl<'a> From<&'a UserRow> for Profile<'a> {
    fn from(row: &'a UserRow) -> Self {
        Profile {
            user_id: &row.profile.user,
            name: &row.profile.name,
            avatar_url: row.profile.avatar_url.as_deref(),
            extra: row.profile.extra.as_ref(),
            version: row.profile.version,
            updated_at: row.profile.ts,
            deactivated: row.deactivated,
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn one<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    Extension(MinPos(min_pos)): Extension<MinPos>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let user = UserId::parse(user_id)?;
    match state.users.get(&me.app, &user, min_pos).await? {
        Some(row) => Ok(Json(json!(Profile::from(row.as_ref())))),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("user {user} not found"),
        )),
    }
}

/// The body of `POST /v1/users:batchGet`.
#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    user_ids: Vec<String>,
}

async fn batch<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
    Extension(MinPos(min_pos)): Extension<MinPos>,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    if request.user_ids.len() > MAX_BATCH {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "at most {MAX_BATCH} user_ids per batch, got {}",
                request.user_ids.len()
            ),
        ));
    }
    let ids = request
        .user_ids
        .into_iter()
        .map(UserId::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let rows = futures_util::future::try_join_all(
        ids.iter().map(|id| state.users.get(&me.app, id, min_pos)),
    )
    .await?;
    let mut found = Vec::new();
    let mut not_found = Vec::new();
    for (id, row) in ids.iter().zip(&rows) {
        match row {
            Some(row) => found.push(json!(Profile::from(row.as_ref()))),
            None => not_found.push(id),
        }
    }
    Ok(Json(json!({ "users": found, "not_found": not_found })))
}

#[derive(Debug, Deserialize)]
struct ChangedQuery {
    #[serde(default)]
    since: u64,
    limit: Option<usize>,
    token: Option<String>,
}

async fn changed<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ChangedQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let limit = check_limit(query.limit, 100)?;
    let rows = state
        .shared
        .store
        .users_changed(&me.app, query.since, limit)
        .await
        .map_err(store_error)?;
    let cursor = rows.last().map_or(query.since, |r| r.cursor);
    let users: Vec<Profile> = rows.iter().map(Profile::from).collect();
    Ok(Json(json!({ "users": users, "cursor": cursor })))
}
