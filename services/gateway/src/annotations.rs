//! Client REST for reactions and pins, and what history rows show of them. Reacting and
//! pinning are commands (immediate: answered once recorded); counts, `reacted`, `pinned` and
//! the pin list are read from the read models (eventual: they follow the projection).

use crate::GatewayState;
use crate::errors::store_error;
use crate::query::ApiQuery;
use crate::quotes;
use crate::rest::{TokenQuery, require_participant};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tidings_api::error::ApiError;
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::conv::Actor;
use tidings_domain::{AppId, ConvId, MessageId, UserId};
use tidings_store::annotations::summarize;
use tidings_store::{ReadModels, TimelineMessage};

/// The reaction and pin routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route(
            "/v1/conversations/{conv}/messages/{msg_id}/reactions",
            post(react::<S>),
        )
        .route(
            "/v1/conversations/{conv}/messages/{msg_id}/reactions/{key}",
            delete(unreact::<S>),
        )
        .route("/v1/conversations/{conv}/pins", get(pins::<S>))
        .route(
            "/v1/conversations/{conv}/pins/{msg_id}",
            post(pin::<S>).delete(unpin::<S>),
        )
}

/// The body of `POST .../reactions`.
#[derive(Debug, Deserialize)]
pub struct ReactBody {
    key: String,
}

fn parse_message(conv: String, msg_id: String) -> Result<(ConvId, MessageId), ApiError> {
    Ok((ConvId::parse(conv)?, MessageId::parse(msg_id)?))
}

async fn reaction<S: ReadModels>(
    state: &GatewayState<S>,
    headers: &HeaderMap,
    token: Option<&str>,
    (conv, msg_id): (String, String),
    key: String,
    add: bool,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(headers, token).await?;
    let (conv, msg_id) = parse_message(conv, msg_id)?;
    let reacted = state
        .shared
        .commands
        .react(&me.app, &me.user, &conv, &msg_id, key, add)
        .await?;
    let mut answer = json!(reacted.value);
    answer["pos"] = reacted.pos.into();
    Ok(Json(answer))
}

/// Adds the caller's reaction `key` to a message.
async fn react<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<ReactBody>,
) -> Result<Json<Value>, ApiError> {
    reaction(
        &state,
        &headers,
        query.token.as_deref(),
        path,
        body.key,
        true,
    )
    .await
}

/// Removes the caller's reaction `key` (percent-encoded in the path) from a message.
async fn unreact<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath((conv, msg_id, key)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let token = query.token.as_deref();
    reaction(&state, &headers, token, (conv, msg_id), key, false).await
}

async fn set_pin<S: ReadModels>(
    state: &GatewayState<S>,
    headers: &HeaderMap,
    token: Option<&str>,
    (conv, msg_id): (String, String),
    pin: bool,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(headers, token).await?;
    let (conv, msg_id) = parse_message(conv, msg_id)?;
    let by = Actor::User(me.user.clone());
    let pinned = state
        .shared
        .commands
        .pin(&me.app, by, &conv, &msg_id, pin)
        .await?;
    let mut answer = json!(pinned.value);
    answer["pos"] = pinned.pos.into();
    Ok(Json(answer))
}

/// Pins a message.
async fn pin<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    set_pin(&state, &headers, query.token.as_deref(), path, true).await
}

/// Unpins a message.
async fn unpin<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    set_pin(&state, &headers, query.token.as_deref(), path, false).await
}

/// A conversation's pinned messages, oldest pin position first, each with its message as
/// history shows it (absent while the timeline row is not written yet).
async fn pins<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let store = &state.shared.store;
    require_participant(store, &me.app, &me.user, &conv).await?;
    let rows = store.pins(&me.app, &conv).await.map_err(store_error)?;
    let mut pins = Vec::with_capacity(rows.len());
    for row in rows {
        let mut message = store
            .messages_after(&me.app, &conv, row.conv_seq.saturating_sub(1), 1)
            .await
            .map_err(store_error)?
            .into_iter()
            .find(|m| m.message.conv_seq == row.conv_seq);
        if let Some(message) = message.as_mut() {
            quotes::resolve(store, &me.app, vec![&mut message.message]).await?;
        }
        let mut pin = json!(row);
        if let Some(message) = message {
            pin["message"] = json!(message);
        }
        pins.push(pin);
    }
    Ok(Json(json!({ "conv": conv, "pins": pins })))
}

/// History rows with their replies' quotes, their reactions as `reader` sees them (`reactions`: counts per key,
/// `reacted`: the reader's keys) and `pinned`, read in one range of reaction rows and the
/// conversation's pins.
pub async fn annotate<S: ReadModels>(
    store: &S,
    app: &AppId,
    conv: &ConvId,
    reader: &UserId,
    mut messages: Vec<TimelineMessage>,
) -> Result<Vec<Value>, ApiError> {
    quotes::resolve(store, app, quotes::in_rows(&mut messages)).await?;
    let seqs = messages.iter().map(|m| m.message.conv_seq);
    let (Some(from), Some(to)) = (seqs.clone().min(), seqs.max()) else {
        return Ok(Vec::new());
    };
    let rows = store
        .reactions(app, conv, from, to)
        .await
        .map_err(store_error)?;
    let mut summaries = summarize(&rows, reader);
    let pinned: BTreeSet<u64> = store
        .pins(app, conv)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|p| p.conv_seq)
        .collect();
    Ok(messages
        .into_iter()
        .map(|m| {
            let conv_seq = m.message.conv_seq;
            let mut row = json!(m);
            if let Some(summary) = summaries.remove(&conv_seq) {
                row["reactions"] = json!(summary.counts);
                row["reacted"] = json!(summary.mine);
            }
            if pinned.contains(&conv_seq) {
                row["pinned"] = true.into();
            }
            row
        })
        .collect())
}
