//! The server API's customer-service accounts: the app server makes a user a service, attaches
//! and detaches its agents, and sets an agent available or away.

use crate::error::ApiError;
use crate::http::ServerApiState;
use crate::json::{ApiPath, JsonBody};
use crate::signature::SignedBy;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_domain::UserId;
use tidings_domain::service::Strategy;

/// The body of `POST /v1/server/services/{service}`.
#[derive(Debug, Deserialize)]
pub struct OpenService {
    #[serde(default)]
    strategy: Strategy,
}

/// Makes a user a service account (again: changes its strategy).
pub(crate) async fn open(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(service): ApiPath<String>,
    JsonBody(request): JsonBody<OpenService>,
) -> Result<Json<Value>, ApiError> {
    let service = UserId::parse(service)?;
    let view = state
        .commands
        .open_service(&app, &service, request.strategy)
        .await?;
    Ok(Json(json!({ "service": view.value, "pos": view.pos })))
}

/// The body of `POST /v1/server/services/{service}/agents/{agent}`.
#[derive(Debug, Deserialize)]
pub struct AttachAgent {
    capacity: u32,
}

/// Attaches an agent, or changes its capacity.
pub(crate) async fn attach(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath((service, agent)): ApiPath<(String, String)>,
    JsonBody(request): JsonBody<AttachAgent>,
) -> Result<Json<Value>, ApiError> {
    let (service, agent) = (UserId::parse(service)?, UserId::parse(agent)?);
    let view = state
        .commands
        .attach_agent(&app, &service, &agent, request.capacity)
        .await?;
    Ok(Json(json!({ "service": view.value, "pos": view.pos })))
}

/// Detaches an agent; its customers are assigned again or queued.
pub(crate) async fn detach(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath((service, agent)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (service, agent) = (UserId::parse(service)?, UserId::parse(agent)?);
    let view = state.commands.detach_agent(&app, &service, &agent).await?;
    Ok(Json(json!({ "service": view.value, "pos": view.pos })))
}

/// The body of `POST /v1/server/services/{service}/agents/{agent}/availability`.
#[derive(Debug, Deserialize)]
pub struct Availability {
    available: bool,
}

/// Sets an agent available or away (for an app that follows its agents' presence itself).
pub(crate) async fn availability(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath((service, agent)): ApiPath<(String, String)>,
    JsonBody(request): JsonBody<Availability>,
) -> Result<Json<Value>, ApiError> {
    let (service, agent) = (UserId::parse(service)?, UserId::parse(agent)?);
    let view = state
        .commands
        .set_agent_available(&app, &service, &agent, request.available)
        .await?;
    Ok(Json(json!({ "service": view.value, "pos": view.pos })))
}
