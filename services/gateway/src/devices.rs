//! Client REST for a user's own devices: signing one out closes its sessions on every gateway,
//! as the server API's sign-out does.

use crate::GatewayState;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::delete;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::ApiError;
use tidings_api::json::ApiPath;
use tidings_domain::DeviceId;
use tidings_store::ReadModels;

/// The device routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new().route("/v1/devices/{device}", delete(sign_out::<S>))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
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
