//! The server API's user tags and broadcasts.

use crate::commands::{BroadcastRequest, TagsRequest};
use crate::error::ApiError;
use crate::http::ServerApiState;
use crate::json::{ApiPath, JsonBody};
use crate::signature::SignedBy;
use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{Value, json};
use tidings_domain::UserId;

/// Adds and removes a user's tags: `{"add":[..],"remove":[..]}`.
pub(crate) async fn set_tags(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(user_id): ApiPath<String>,
    JsonBody(request): JsonBody<TagsRequest>,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(user_id)?;
    let tags = state.commands.set_tags(&app, &user, request).await?;
    Ok(Json(
        json!({ "user_id": user, "tags": tags.value, "pos": tags.pos }),
    ))
}

/// A user's tags, read from their subject.
pub(crate) async fn tags(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(user_id)?;
    let tags = state.commands.tags(&app, &user).await?;
    Ok(Json(json!({ "user_id": user, "tags": tags })))
}

/// Broadcasts a system message to every user of the app, or to the users holding a tag.
pub(crate) async fn broadcast(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    JsonBody(request): JsonBody<BroadcastRequest>,
) -> Result<Json<Value>, ApiError> {
    let sent = state.commands.broadcast(&app, request).await?;
    let mut answer = json!(sent.value);
    answer["pos"] = json!(sent.pos);
    Ok(Json(answer))
}
