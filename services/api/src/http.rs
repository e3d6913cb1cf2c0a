//! The signed server API (app server -> Tidings).

use crate::commands::{Commands, EditRequest, SendRequest, SettingsRequest, UpsertUserRequest};
use crate::error::{ApiError, ErrorCode};
use crate::group_ops::GroupOp;
use crate::json::{ApiPath, JsonBody, json_object};
use crate::signature::{SignatureCheck, SignedBy, require_signature};
use crate::tokens::{DEFAULT_TTL_SECS, Tokens};
use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Json, Router, middleware};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_domain::conv::Actor;
use tidings_domain::pair::PairCommand;
use tidings_domain::{ConvId, DeviceId, GroupId, MessageId, UserId};

/// What the server-API handlers share.
#[derive(Clone)]
pub struct ServerApiState {
    pub commands: Commands,
    pub tokens: Tokens,
}

/// The server API routes, all behind the signature check.
pub fn router(state: ServerApiState, check: SignatureCheck) -> Router {
    routes(state).layer(middleware::from_fn_with_state(check, require_signature))
}

/// The server API routes without the signature check: a request must carry the app it acts
/// for as a [`SignedBy`] extension. The signed router wraps these; integrator requests over
/// NATS (`inbound`), whose publisher NATS itself authenticates, call them directly.
pub fn routes(state: ServerApiState) -> Router {
    Router::new()
        .route("/v1/users", post(upsert_user))
        .route("/v1/users/{user_id}/token", post(mint_token))
        .route("/v1/users/{user_id}/deactivate", post(deactivate))
        .route("/v1/users/{user_id}/tokens/revoke", post(revoke_tokens))
        .route(
            "/v1/users/{user_id}/devices/{device}/sign-out",
            post(sign_out_device),
        )
        .route("/v1/messages", post(send_message))
        .route("/v1/system/messages", post(send_system))
        .route("/v1/relations/{action}", post(relate))
        .route("/v1/server/groups/{group_id}/ops", post(group_op))
        .route("/v1/server/conversations/{conv}/hide", post(hide))
        .route("/v1/server/conversations/{conv}/clear", post(clear))
        .route("/v1/server/conversations/{conv}/settings", post(settings))
        .route(
            "/v1/server/conversations/{conv}/reactions",
            post(crate::http_annotate::react),
        )
        .route(
            "/v1/server/conversations/{conv}/pins",
            post(crate::http_annotate::pin),
        )
        .route(
            "/v1/server/conversations/{conv}/messages/{msg_id}/recall",
            post(recall),
        )
        .route(
            "/v1/server/conversations/{conv}/messages/{msg_id}/edit",
            post(edit),
        )
        .route(
            "/v1/server/services/{service}",
            post(crate::http_service::open),
        )
        .route(
            "/v1/server/services/{service}/agents/{agent}",
            post(crate::http_service::attach),
        )
        .route(
            "/v1/server/services/{service}/agents/{agent}/detach",
            post(crate::http_service::detach),
        )
        .route(
            "/v1/server/services/{service}/agents/{agent}/availability",
            post(crate::http_service::availability),
        )
        .route(
            "/v1/users/{user_id}/tags",
            post(crate::http_broadcast::set_tags).get(crate::http_broadcast::tags),
        )
        .route("/v1/broadcasts", post(crate::http_broadcast::broadcast))
        .merge(crate::http_words::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http_limits::limit_app,
        ))
        .with_state(state)
}

async fn upsert_user(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    JsonBody(request): JsonBody<UpsertUserRequest>,
) -> Result<Json<Value>, ApiError> {
    let user_id = request.user_id.clone();
    let version = state.commands.upsert_user(&app, request).await?;
    Ok(Json(
        json!({ "user_id": user_id, "version": version.value, "pos": version.pos }),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    ttl_secs: Option<u64>,
}

async fn mint_token(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(user_id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(user_id)?;
    let request: TokenRequest = if body.is_empty() {
        TokenRequest::default()
    } else {
        json_object(&body)?
    };
    let epoch = state.commands.token_epoch(&app, &user).await?;
    let (token, expires_at) = state.tokens.mint(
        &app,
        &user,
        epoch,
        request.ttl_secs.unwrap_or(DEFAULT_TTL_SECS),
        chrono::Utc::now().timestamp(),
    )?;
    Ok(Json(json!({ "token": token, "expires_at": expires_at })))
}

/// The body of `POST /v1/messages`.
#[derive(Debug, Deserialize)]
pub struct ServerSendRequest {
    from: UserId,
    #[serde(flatten)]
    message: SendRequest,
}

async fn send_message(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    JsonBody(request): JsonBody<ServerSendRequest>,
) -> Result<Json<Value>, ApiError> {
    let sent = state
        .commands
        .send(&app, &request.from, request.message)
        .await?;
    Ok(Json(sent.answer()))
}

async fn deactivate(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(user_id)?;
    let pos = state.commands.deactivate(&app, &user).await?;
    Ok(Json(
        json!({ "user_id": user, "deactivated": true, "pos": pos }),
    ))
}

async fn revoke_tokens(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(user_id)?;
    let epoch = state.commands.revoke_tokens(&app, &user).await?;
    Ok(Json(
        json!({ "user_id": user, "token_epoch": epoch.value, "pos": epoch.pos }),
    ))
}

async fn sign_out_device(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath((user_id, device)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(user_id)?;
    let device = DeviceId::parse(device)?;
    state.commands.sign_out_device(&app, &user, &device).await?;
    Ok(Json(
        json!({ "user_id": user, "device": device, "signed_out": true }),
    ))
}

/// The body of `POST /v1/relations/{action}`.
#[derive(Debug, Deserialize)]
pub struct RelateRequest {
    user: UserId,
    other: UserId,
}

/// The app server manages its users' social graph: `friend`, `unfriend`, `block`, `unblock`.
async fn relate(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(action): ApiPath<String>,
    JsonBody(request): JsonBody<RelateRequest>,
) -> Result<Json<Value>, ApiError> {
    let command = match action.as_str() {
        "friend" => PairCommand::Add,
        "unfriend" => PairCommand::Remove,
        "block" => PairCommand::Block,
        "unblock" => PairCommand::Unblock,
        other => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("unknown relation action {other:?}: friend, unfriend, block or unblock"),
            ));
        }
    };
    let view = state
        .commands
        .relate(&app, &request.user, &request.other, command)
        .await?;
    Ok(Json(
        json!({ "user_id": request.user, "relation": view.value, "pos": view.pos }),
    ))
}

/// The body of `POST /v1/server/groups/{group_id}/ops`.
#[derive(Debug, Deserialize)]
pub struct ServerGroupOp {
    actor: UserId,
    #[serde(flatten)]
    op: GroupOp,
}

/// The app server manages groups on behalf of `actor` (who must have the role the op needs).
async fn group_op(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(group_id): ApiPath<String>,
    JsonBody(request): JsonBody<ServerGroupOp>,
) -> Result<Json<Value>, ApiError> {
    let group = GroupId::parse(group_id)?;
    let view = state
        .commands
        .group(&app, &request.actor, &group, request.op.into())
        .await?;
    Ok(Json(json!({ "group": view.value, "pos": view.pos })))
}

/// The body of a server recall: `actor` recalls as that user (their rules apply); without
/// one (`{}`) the app server recalls as moderator (any message, any time).
#[derive(Debug, Deserialize)]
struct ServerRecall {
    #[serde(default)]
    actor: Option<UserId>,
}

async fn recall(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath((conv, msg_id)): ApiPath<(String, String)>,
    JsonBody(request): JsonBody<ServerRecall>,
) -> Result<Json<Value>, ApiError> {
    let (conv, msg_id) = (ConvId::parse(conv)?, MessageId::parse(msg_id)?);
    let by = request.actor.map_or(Actor::App, Actor::User);
    let recalled = state.commands.recall(&app, by, &conv, &msg_id).await?;
    Ok(Json(json!(recalled)))
}

/// The body of a server edit: the app server edits for `actor`, the message's sender.
#[derive(Debug, Deserialize)]
struct ServerEdit {
    actor: UserId,
    #[serde(flatten)]
    edit: EditRequest,
}

async fn edit(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath((conv, msg_id)): ApiPath<(String, String)>,
    JsonBody(request): JsonBody<ServerEdit>,
) -> Result<Json<Value>, ApiError> {
    let (conv, msg_id) = (ConvId::parse(conv)?, MessageId::parse(msg_id)?);
    let edited = state
        .commands
        .edit(&app, &request.actor, &conv, &msg_id, request.edit)
        .await?;
    Ok(Json(json!(edited)))
}

/// The body of `POST /v1/system/messages`.
#[derive(Debug, Deserialize)]
pub struct SystemRequest {
    to: Vec<UserId>,
    body: tidings_domain::Body,
}

async fn send_system(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    JsonBody(request): JsonBody<SystemRequest>,
) -> Result<Json<Value>, ApiError> {
    let delivered = state
        .commands
        .send_system(&app, request.to, request.body)
        .await?;
    Ok(Json(
        json!({ "delivered_to": delivered.value, "pos": delivered.pos }),
    ))
}

/// The body of `POST /v1/server/conversations/{conv}/hide`.
#[derive(Debug, Deserialize)]
pub struct ServerHideRequest {
    user: UserId,
    conv_seq: u64,
}

/// The app server hides a message from `user`'s own view, as `user` would.
async fn hide(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(conv): ApiPath<String>,
    JsonBody(request): JsonBody<ServerHideRequest>,
) -> Result<Json<Value>, ApiError> {
    let conv = ConvId::parse(conv)?;
    let pos = state
        .commands
        .hide(&app, &request.user, &conv, request.conv_seq)
        .await?;
    Ok(Json(json!({
        "user_id": request.user, "conv": conv, "conv_seq": request.conv_seq, "pos": pos
    })))
}

/// The body of `POST /v1/server/conversations/{conv}/settings`: the user, and the fields to set.
#[derive(Debug, Deserialize)]
pub struct ServerSettingsRequest {
    user: UserId,
    #[serde(flatten)]
    change: SettingsRequest,
}

/// The app server changes `user`'s settings for a conversation, as `user` would.
async fn settings(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(conv): ApiPath<String>,
    JsonBody(request): JsonBody<ServerSettingsRequest>,
) -> Result<Json<Value>, ApiError> {
    let conv = ConvId::parse(conv)?;
    let settings = state
        .commands
        .change_settings(&app, &request.user, &conv, request.change)
        .await?;
    let mut answer = json!(settings.value);
    answer["user_id"] = json!(request.user);
    answer["conv"] = json!(conv);
    answer["pos"] = json!(settings.pos);
    Ok(Json(answer))
}

/// The body of `POST /v1/server/conversations/{conv}/clear`.
#[derive(Debug, Deserialize)]
pub struct ServerClearRequest {
    user: UserId,
    /// Clear up to this `conv_seq`; the newest message when absent.
    #[serde(default)]
    up_to: Option<u64>,
}

/// The app server clears a conversation from `user`'s own view, as `user` would.
async fn clear(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(conv): ApiPath<String>,
    JsonBody(request): JsonBody<ServerClearRequest>,
) -> Result<Json<Value>, ApiError> {
    let conv = ConvId::parse(conv)?;
    let mark = state
        .commands
        .clear(&app, &request.user, &conv, request.up_to)
        .await?;
    Ok(Json(json!({
        "user_id": request.user, "conv": conv, "up_to": mark.value, "pos": mark.pos
    })))
}
