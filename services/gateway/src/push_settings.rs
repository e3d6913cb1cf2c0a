//! Client REST for offline push: a device's push registration (provider, token, topic) and the
//! user's do-not-disturb, recorded on the user's subject; the push worker reads them from the
//! read model.

use crate::GatewayState;
use crate::query::ApiQuery;
use crate::rest::TokenQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use tidings_api::aggregate::Recorded;
use tidings_api::commands::{DoNotDisturbRequest, PushRequest};
use tidings_api::error::ApiError;
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::DeviceId;
use tidings_domain::push::PushSettings;
use tidings_store::ReadModels;

/// The push routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route(
            "/v1/devices/{device}/push",
            put(register::<S>).delete(unregister::<S>),
        )
        .route("/v1/push", get(settings::<S>))
        .route("/v1/push/dnd", put(do_not_disturb::<S>))
}

fn answer(settings: Recorded<PushSettings>) -> Json<Value> {
    let mut answer = json!(settings.value);
    answer["pos"] = json!(settings.pos);
    Json(answer)
}

/// Registers (or replaces) the push registration of one of the caller's devices. Immediate.
async fn register<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(device): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<PushRequest>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let device = DeviceId::parse(device)?;
    let commands = &state.shared.commands;
    Ok(answer(
        commands
            .register_push(&me.app, &me.user, &device, body)
            .await?,
    ))
}

/// Removes a device's push registration (no error when it has none). Immediate.
async fn unregister<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(device): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let device = DeviceId::parse(device)?;
    let commands = &state.shared.commands;
    Ok(answer(
        commands.unregister_push(&me.app, &me.user, &device).await?,
    ))
}

/// Sets (`until`, unix ms) or clears (`null`) the caller's do-not-disturb. Immediate.
async fn do_not_disturb<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<DoNotDisturbRequest>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let commands = &state.shared.commands;
    Ok(answer(
        commands.set_do_not_disturb(&me.app, &me.user, body).await?,
    ))
}

/// The caller's push settings. Immediate (read from the user's subject).
async fn settings<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let settings = state
        .shared
        .commands
        .push_settings(&me.app, &me.user)
        .await?;
    Ok(Json(json!(settings)))
}
