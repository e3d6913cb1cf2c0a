//! `POST /v1/dev/token`: signs a user of the development app in without an app server. It
//! registers the user (name defaulting to the id) and mints a token, so the web client at
//! `/app` can be tried with nothing else running. Only `tidings up` mounts it, and only for
//! its development app; `tidings api` and `tidings gateway` (production) never have it.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::Api;
use tidings_api::commands::UpsertUserRequest;
use tidings_api::error::ApiError;
use tidings_api::json::JsonBody;
use tidings_api::tokens::DEFAULT_TTL_SECS;
use tidings_domain::{AppId, UserId};

#[derive(Clone)]
struct DevTokens {
    api: Api,
    app: AppId,
}

#[derive(Deserialize)]
struct SignIn {
    user_id: UserId,
    #[serde(default)]
    name: Option<String>,
}

/// The dev token route, for the development app `app`.
pub fn router(api: Api, app: AppId) -> Router {
    Router::new()
        .route("/v1/dev/token", post(sign_in))
        .with_state(DevTokens { api, app })
}

async fn sign_in(
    State(dev): State<DevTokens>,
    JsonBody(request): JsonBody<SignIn>,
) -> Result<Json<Value>, ApiError> {
    let user = request.user_id;
    let commands = &dev.api.commands;
    // An existing user keeps the name they have unless a new one is given.
    let known = commands.token_epoch(&dev.app, &user).await.is_ok();
    let pos = match (known, request.name) {
        (true, None) => 0,
        (_, name) => {
            let name = name.unwrap_or_else(|| user.to_string());
            let upsert = UpsertUserRequest {
                user_id: user.clone(),
                name,
                avatar_url: None,
                extra: None,
            };
            commands.upsert_user(&dev.app, upsert).await?.pos
        }
    };
    let epoch = commands.token_epoch(&dev.app, &user).await?;
    let (token, expires_at) =
        dev.api
            .tokens
            .mint(&dev.app, &user, epoch, DEFAULT_TTL_SECS, now_secs())?;
    tracing::info!(user = %user, "development sign-in");
    Ok(Json(json!({
        "user_id": user,
        "token": token,
        "expires_at": expires_at,
        "pos": pos,
    })))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
