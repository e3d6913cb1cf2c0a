//! Client REST: a user's inbox, conversations and history, read from the store.

use crate::GatewayState;
use crate::errors::store_error;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_domain::ConvId;
use tidings_store::ReadModels;

/// The client REST routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/inbox", get(inbox::<S>))
        .route("/v1/conversations", get(conversations::<S>))
        .route("/v1/conversations/{conv}/messages", get(messages::<S>))
        .route("/v1/conversations/{conv}/read", post(read::<S>))
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
    token: Option<String>,
}

async fn inbox<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let limit = check_limit(query.limit, 100)?;
    let store = &state.shared.store;
    let entries = store
        .inbox_after(&me.app, &me.user, query.after, limit)
        .await
        .map_err(store_error)?;
    let last_seq = store
        .inbox_last_seq(&me.app, &me.user)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "entries": entries, "last_seq": last_seq })))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn conversations<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let rows = state
        .shared
        .store
        .conversations(&me.app, &me.user)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "conversations": rows })))
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    before: Option<u64>,
    limit: Option<usize>,
    token: Option<String>,
}

async fn messages<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    Path(conv): Path<String>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let limit = check_limit(query.limit, 50)?;
    let store = &state.shared.store;
    // A user reads only conversations they take part in: a group's while a member.
    let member = match conv.group_id() {
        Some(group) => store
            .member(&me.app, &group, &me.user)
            .await
            .map_err(store_error)?
            .is_some(),
        None => store
            .conversation(&me.app, &me.user, &conv)
            .await
            .map_err(store_error)?
            .is_some(),
    };
    if !member {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "not a conversation of this user",
        ));
    }
    let messages = store
        .messages_before(&me.app, &conv, query.before, limit)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "messages": messages })))
}

/// The body of `POST /v1/conversations/{conv}/read`.
#[derive(Debug, Deserialize)]
pub struct ReadBody {
    conv_seq: u64,
}

/// Marks a conversation read up to `conv_seq` (the REST twin of the `read` frame).
async fn read<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    Path(conv): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    tidings_api::json::JsonBody(body): tidings_api::json::JsonBody<ReadBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    state
        .shared
        .commands
        .read(&me.app, &me.user, &conv, body.conv_seq)
        .await?;
    Ok(Json(json!({ "conv": conv, "read_seq": body.conv_seq })))
}
