//! Client REST for a user's own devices: the list, with the position each device delivered
//! (`ack`), and signing one out, which closes its sessions on every gateway as the server
//! API's sign-out does.

use crate::GatewayState;
use crate::errors::store_error;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::ApiError;
use tidings_api::json::ApiPath;
use tidings_domain::DeviceId;
use tidings_store::ReadModels;

/// The device routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/devices", get(list::<S>))
        .route("/v1/devices/{device}", delete(sign_out::<S>))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The caller's devices that acknowledged entries, ordered by device id.
async fn list<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let acks = state
        .shared
        .store
        .device_acks(&me.app, &me.user)
        .await
        .map_err(store_error)?;
    let devices: Vec<Value> = acks
        .into_iter()
        .map(|(device, delivered)| json!({ "device": device, "delivered": delivered }))
        .collect();
    Ok(Json(json!({ "devices": devices })))
}

async fn sign_out<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(device): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let device = DeviceId::parse(device)?;
    state
        .shared
        .commands
        .sign_out_device(&me.app, &me.user, &device)
        .await?;
    Ok(Json(json!({ "device": device, "signed_out": true })))
}
