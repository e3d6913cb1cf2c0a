//! The server API's reactions and pins: the app server acts for a user, or (pins only) as
//! itself, moderating.

use crate::error::ApiError;
use crate::http::ServerApiState;
use crate::json::{ApiPath, JsonBody};
use crate::signature::SignedBy;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_domain::conv::Actor;
use tidings_domain::{ConvId, MessageId, UserId};

fn yes() -> bool {
    true
}

/// The body of `POST /v1/server/conversations/{conv}/reactions`.
#[derive(Debug, Deserialize)]
pub struct ServerReaction {
    user: UserId,
    msg_id: MessageId,
    key: String,
    /// `false` removes the reaction.
    #[serde(default = "yes")]
    add: bool,
}

/// Adds or removes `user`'s reaction on a message.
pub(crate) async fn react(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(conv): ApiPath<String>,
    JsonBody(request): JsonBody<ServerReaction>,
) -> Result<Json<Value>, ApiError> {
    let conv = ConvId::parse(conv)?;
    let reacted = state
        .commands
        .react(
            &app,
            &request.user,
            &conv,
            &request.msg_id,
            request.key,
            request.add,
        )
        .await?;
    let mut answer = json!(reacted.value);
    answer["pos"] = reacted.pos.into();
    Ok(Json(answer))
}

/// The body of `POST /v1/server/conversations/{conv}/pins`.
#[derive(Debug, Deserialize)]
pub struct ServerPin {
    /// The user acting (who must be allowed to pin); absent: the app server itself.
    #[serde(default)]
    user: Option<UserId>,
    msg_id: MessageId,
    /// `false` unpins.
    #[serde(default = "yes")]
    pin: bool,
}

/// Pins or unpins a message.
pub(crate) async fn pin(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(conv): ApiPath<String>,
    JsonBody(request): JsonBody<ServerPin>,
) -> Result<Json<Value>, ApiError> {
    let conv = ConvId::parse(conv)?;
    let by = request.user.map_or(Actor::App, Actor::User);
    let state_now = state
        .commands
        .pin(&app, by, &conv, &request.msg_id, request.pin)
        .await?;
    let mut answer = json!(state_now.value);
    answer["pos"] = state_now.pos.into();
    Ok(Json(answer))
}
