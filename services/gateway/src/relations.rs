//! Client REST for friends, friend requests and blocks: reads from the relations read model,
//! changes through the command handler (the pair's aggregate decides).

use crate::GatewayState;
use crate::errors::store_error;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::UserId;
use tidings_domain::pair::PairCommand;
use tidings_store::{Direction, ReadModels, Relation};

/// The relation routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/friends", get(friends::<S>))
        .route("/v1/friends/{user_id}", delete(remove::<S>))
        .route(
            "/v1/friends/requests",
            get(requests::<S>).post(request::<S>),
        )
        .route("/v1/friends/requests/{user_id}", delete(cancel::<S>))
        .route("/v1/friends/requests/{user_id}/accept", post(accept::<S>))
        .route("/v1/friends/requests/{user_id}/reject", post(reject::<S>))
        .route("/v1/blocks", get(blocks::<S>).post(block::<S>))
        .route("/v1/blocks/{user_id}", delete(unblock::<S>))
        .route("/v1/relations:changed", get(changed::<S>))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    direction: Option<String>,
    #[serde(default)]
    since: u64,
    token: Option<String>,
}

async fn my_relations<S: ReadModels>(
    state: &GatewayState<S>,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Vec<Relation>, ApiError> {
    let me = state.me(headers, token).await?;
    state
        .shared
        .store
        .relations(&me.app, &me.user)
        .await
        .map_err(store_error)
}

async fn friends<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = my_relations(&state, &headers, query.token.as_deref()).await?;
    let friends: Vec<Value> = rows
        .iter()
        .filter(|r| r.friend)
        .map(|r| json!({ "user_id": r.user, "since": r.ts }))
        .collect();
    Ok(Json(json!({ "friends": friends })))
}

async fn requests<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let direction = match query.direction.as_deref() {
        None | Some("in") => Direction::In,
        Some("out") => Direction::Out,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("direction must be in or out, got {other:?}"),
            ));
        }
    };
    let rows = my_relations(&state, &headers, query.token.as_deref()).await?;
    let requests: Vec<Value> = rows
        .iter()
        .filter(|r| r.request == Some(direction))
        .map(|r| json!({ "user_id": r.user, "direction": direction, "note": r.note, "ts": r.ts }))
        .collect();
    Ok(Json(json!({ "requests": requests })))
}

async fn blocks<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = my_relations(&state, &headers, query.token.as_deref()).await?;
    let blocks: Vec<Value> = rows
        .iter()
        .filter(|r| r.blocked)
        .map(|r| json!({ "user_id": r.user, "since": r.ts }))
        .collect();
    Ok(Json(json!({ "blocks": blocks })))
}

/// Sync at login: every relation row changed after `since` (including rows that became empty,
/// meaning "no longer a friend / request / block"), and the cursor to pass next time.
async fn changed<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut rows = my_relations(&state, &headers, query.token.as_deref()).await?;
    rows.retain(|r| r.cursor > query.since);
    rows.sort_by_key(|r| r.cursor);
    let cursor = rows.last().map_or(query.since, |r| r.cursor);
    Ok(Json(json!({ "relations": rows, "cursor": cursor })))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn act<S: ReadModels>(
    state: &GatewayState<S>,
    headers: &HeaderMap,
    token: Option<&str>,
    other: UserId,
    command: PairCommand,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(headers, token).await?;
    let relation = state
        .shared
        .commands
        .relate(&me.app, &me.user, &other, command)
        .await?;
    Ok(Json(
        json!({ "relation": relation.value, "pos": relation.pos }),
    ))
}

/// The body of `POST /v1/friends/requests`.
#[derive(Debug, Deserialize)]
pub struct FriendRequestBody {
    to: UserId,
    #[serde(default)]
    note: Option<String>,
}

async fn request<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<FriendRequestBody>,
) -> Result<Json<Value>, ApiError> {
    let command = PairCommand::Request { note: body.note };
    act(&state, &headers, query.token.as_deref(), body.to, command).await
}

macro_rules! action {
    ($name:ident, $command:expr) => {
        async fn $name<S: ReadModels>(
            State(state): State<GatewayState<S>>,
            headers: HeaderMap,
            ApiPath(user_id): ApiPath<String>,
            ApiQuery(query): ApiQuery<TokenQuery>,
        ) -> Result<Json<Value>, ApiError> {
            let other = UserId::parse(user_id)?;
            act(&state, &headers, query.token.as_deref(), other, $command).await
        }
    };
}

action!(accept, PairCommand::Accept);
action!(reject, PairCommand::Reject);
action!(cancel, PairCommand::Cancel);
action!(remove, PairCommand::Remove);
action!(unblock, PairCommand::Unblock);

/// The body of `POST /v1/blocks`.
#[derive(Debug, Deserialize)]
pub struct BlockBody {
    user_id: UserId,
}

async fn block<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<BlockBody>,
) -> Result<Json<Value>, ApiError> {
    act(
        &state,
        &headers,
        query.token.as_deref(),
        body.user_id,
        PairCommand::Block,
    )
    .await
}
