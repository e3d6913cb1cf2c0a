//! Client REST for actions on a message already sent: recall and edit, addressed by
//! `(conv, msg_id)`. Both are immediate: the answer comes once the event is stored; the
//! timeline row and the `recalled` / `edited` entries follow (eventual, `pos` for `min_pos`).

use crate::GatewayState;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::commands::EditRequest;
use tidings_api::error::ApiError;
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::conv::Actor;
use tidings_domain::{ConvId, MessageId};
use tidings_store::ReadModels;

/// The message action routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route(
            "/v1/conversations/{conv}/messages/{msg_id}/recall",
            post(recall::<S>),
        )
        .route(
            "/v1/conversations/{conv}/messages/{msg_id}/edit",
            post(edit::<S>),
        )
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn target((conv, msg_id): (String, String)) -> Result<(ConvId, MessageId), ApiError> {
    Ok((ConvId::parse(conv)?, MessageId::parse(msg_id)?))
}

async fn recall<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (conv, msg_id) = target(path)?;
    let by = Actor::User(me.user.clone());
    let recalled = state
        .shared
        .commands
        .recall(&me.app, by, &conv, &msg_id)
        .await?;
    Ok(Json(json!(recalled)))
}

async fn edit<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(request): JsonBody<EditRequest>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (conv, msg_id) = target(path)?;
    let edited = state
        .shared
        .commands
        .edit(&me.app, &me.user, &conv, &msg_id, request)
        .await?;
    Ok(Json(json!(edited)))
}
