//! The admin API (operator -> Tidings): create, list, rotate the secret of, change and disable
//! apps. Requests are signed like the server API's, with the admin credential (`[api.admin]`)
//! instead of an app's; without one configured every admin route answers `forbidden`.

use crate::apps::{Apps, Source};
use crate::error::{ApiError, ErrorCode};
use crate::json::{ApiPath, JsonBody};
use crate::signature::{SignatureCheck, SignedRequest, signed_parts, signer};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tidings_domain::AppId;
use tidings_domain::app::{AppSettings, AppState};

/// Longest grace a rotation may give the replaced secret: 30 days.
pub const MAX_GRACE_SECS: u64 = 30 * 24 * 3600;

/// The admin credential: a key (sent as `X-App-Key`) and the secret requests are signed with.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminCredential {
    pub key: String,
    pub secret: String,
}

impl AdminCredential {
    /// Refuses a credential that is not one: an invalid key or a short secret.
    pub fn validate(&self) -> anyhow::Result<()> {
        AppId::parse(self.key.clone()).map_err(|e| anyhow::anyhow!("[api.admin] key: {e}"))?;
        tidings_domain::app::validate_secret(&self.secret)
            .map_err(|e| anyhow::anyhow!("[api.admin] {e}"))
    }
}

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    apps: Apps,
    credential: Option<(AppId, String)>,
    /// Only its nonce memory and signature check are used: admin nonces are their own.
    check: SignatureCheck,
    grace_secs: u64,
    js: async_nats::jetstream::Context,
}

impl AdminState {
    /// The admin API over `apps`, open to `credential` (none: closed), rotating with
    /// `grace_secs` of grace unless a request says otherwise.
    pub fn new(
        apps: Apps,
        credential: Option<&AdminCredential>,
        grace_secs: u64,
        js: async_nats::jetstream::Context,
    ) -> anyhow::Result<Self> {
        let credential = match credential {
            Some(c) => {
                c.validate()?;
                Some((AppId::parse(c.key.clone())?, c.secret.clone()))
            }
            None => None,
        };
        anyhow::ensure!(
            grace_secs <= MAX_GRACE_SECS,
            "secret_grace_secs must be at most {MAX_GRACE_SECS}"
        );
        Ok(Self {
            check: SignatureCheck::new(apps.clone()),
            apps,
            credential,
            grace_secs,
            js,
        })
    }

    /// The apps administered.
    pub fn apps(&self) -> &Apps {
        &self.apps
    }

    /// JetStream, for the streams the admin API reads (dead letters).
    pub fn js(&self) -> &async_nats::jetstream::Context {
        &self.js
    }
}

/// The admin routes, all behind the admin signature check.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/v1/admin/apps", post(create).get(list))
        .route("/v1/admin/apps/{key}", get(show))
        .route("/v1/admin/apps/{key}/rotate-secret", post(rotate_secret))
        .route("/v1/admin/apps/{key}/settings", post(set_settings))
        .route("/v1/admin/apps/{key}/disable", post(disable))
        .route(
            "/v1/admin/apps/{key}/feed/dead-letters",
            get(crate::admin_feed::list),
        )
        .layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .with_state(state)
}

/// Verifies the admin signature: the same headers and canonical string as the server API.
async fn require_admin(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let Some((key, secret)) = &state.credential else {
        return ApiError::new(
            ErrorCode::Forbidden,
            "the admin API is off: configure [api.admin] key and secret",
        )
        .into_response();
    };
    let (parts, bytes, path_and_query) = match signed_parts(request).await {
        Ok(signed) => signed,
        Err(e) => return e.into_response(),
    };
    let verified = signer(&parts.headers).and_then(|signer| {
        if signer != *key {
            return Err(ApiError::new(
                ErrorCode::UnknownApp,
                "X-App-Key is not the admin key",
            ));
        }
        let request = SignedRequest {
            method: parts.method.as_str(),
            path_and_query: &path_and_query,
            headers: &parts.headers,
            body: &bytes,
        };
        let now = chrono::Utc::now().timestamp();
        state
            .check
            .verify_with(key, &[secret.as_str()], &request, now)
    });
    match verified {
        Ok(()) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

/// An app's settings as views and logs show them: push private keys hidden.
fn shown(settings: &AppSettings) -> AppSettings {
    let mut shown = settings.clone();
    shown.push = settings.push.redacted();
    shown
}

/// An app as the admin API shows it (never its secret nor its push private keys).
fn view(app: &AppId, state: &AppState, source: Source) -> Value {
    let mut view = json!({
        "key": app,
        "source": source.as_str(),
        "disabled": state.disabled,
        "settings": shown(&state.settings),
    });
    // The webhook's secret is the app's to know, like its own secret: shown only as set.
    if let Some(hook) = view["settings"]["feed_webhook"].as_object_mut() {
        hook.insert("secret".into(), json!("(set)"));
    }
    if source == Source::Admin {
        view["created_at"] = json!(state.created_at);
        view["secret_changed_at"] = json!(state.secret_changed_at);
        let now = chrono::Utc::now().timestamp_millis();
        if let Some(previous) = state.previous.as_ref().filter(|p| now < p.valid_until) {
            view["previous_secret_valid_until"] = json!(previous.valid_until);
        }
    }
    view
}

fn new_secret() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    hex::encode(bytes)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    key: String,
    secret: Option<String>,
    #[serde(default)]
    settings: Map<String, Value>,
}

async fn create(
    State(state): State<AdminState>,
    JsonBody(request): JsonBody<CreateRequest>,
) -> Result<Json<Value>, ApiError> {
    let app = AppId::parse(request.key)?;
    let settings = AppSettings::default().patched(&request.settings)?;
    let secret = request.secret.unwrap_or_else(new_secret);
    let created = state.apps.create(&app, secret.clone(), settings).await?;
    tracing::info!(%app, "app created");
    Ok(Json(json!({
        "app": view(&app, &created, Source::Admin),
        "secret": secret,
    })))
}

async fn list(State(state): State<AdminState>) -> Result<Json<Value>, ApiError> {
    let apps: Vec<Value> = state
        .apps
        .list()
        .await?
        .iter()
        .map(|(app, state, source)| view(app, state, *source))
        .collect();
    Ok(Json(json!({ "apps": apps })))
}

async fn show(
    State(state): State<AdminState>,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let app = AppId::parse(key)?;
    match state.apps.current(&app).await? {
        Some((found, source)) => Ok(Json(json!({ "app": view(&app, &found, source) }))),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("app {app} not found"),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    secret: Option<String>,
    grace_secs: Option<u64>,
}

async fn rotate_secret(
    State(state): State<AdminState>,
    ApiPath(key): ApiPath<String>,
    JsonBody(request): JsonBody<RotateRequest>,
) -> Result<Json<Value>, ApiError> {
    let app = AppId::parse(key)?;
    let grace_secs = request.grace_secs.unwrap_or(state.grace_secs);
    if grace_secs > MAX_GRACE_SECS {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("grace_secs must be at most {MAX_GRACE_SECS}"),
        ));
    }
    let secret = request.secret.unwrap_or_else(new_secret);
    let rotated = state
        .apps
        .rotate_secret(&app, secret.clone(), grace_secs)
        .await?;
    tracing::info!(%app, grace_secs, "app secret rotated");
    Ok(Json(json!({
        "app": view(&app, &rotated, Source::Admin),
        "secret": secret,
    })))
}

async fn set_settings(
    State(state): State<AdminState>,
    ApiPath(key): ApiPath<String>,
    JsonBody(patch): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let app = AppId::parse(key)?;
    let changed = state.apps.set(&app, patch).await?;
    tracing::info!(%app, settings = ?shown(&changed.settings), "app settings changed");
    Ok(Json(json!({ "app": view(&app, &changed, Source::Admin) })))
}

async fn disable(
    State(state): State<AdminState>,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let app = AppId::parse(key)?;
    let disabled = state.apps.disable(&app).await?;
    tracing::info!(%app, "app disabled");
    Ok(Json(json!({ "app": view(&app, &disabled, Source::Admin) })))
}
