//! `POST /v1/presence/query {users}`: the presence of up to the app's `presence_max_watched` users, read
//! from the presence bucket now (what a `presence_subscribe` answers first).

use crate::GatewayState;
use crate::query::ApiQuery;
use crate::rest::TokenQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::ApiError;
use tidings_api::json::JsonBody;
use tidings_domain::UserId;
use tidings_store::ReadModels;

/// The presence query route.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new().route("/v1/presence/query", post(query::<S>))
}

/// The body of `POST /v1/presence/query`.
#[derive(Debug, Deserialize)]
pub struct QueryBody {
    users: Vec<UserId>,
}

async fn query<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(token): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<QueryBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, token.token.as_deref()).await?;
    let users = crate::presence::distinct(body.users);
    let cap = state
        .shared
        .commands
        .apps()
        .presence_policy(&me.app)
        .max_watched;
    if let Err(refused) = crate::presence::check_watch_list(&users, cap) {
        tracing::info!(user = %me.user, count = users.len(), "presence query refused");
        return Err(refused);
    }
    let count = users.len();
    let mut watch = state
        .shared
        .presence
        .watch(&me.app, users)
        .await
        .map_err(|e| ApiError::unavailable("reading presence", e))?;
    let mut answer = Vec::with_capacity(count);
    while answer.len() < count {
        let Some(presence) = watch.recv().await else {
            return Err(ApiError::unavailable("reading presence", "watch ended"));
        };
        answer.push(json!({
            "user": presence.user,
            "online": presence.online,
            "last_seen": presence.last_seen,
        }));
    }
    Ok(Json(json!({ "users": answer })))
}
