//! tidings-gateway: the WebSocket edge and client REST. It authenticates users, delivers
//! their inbox (catch-up from the store, then live from NATS), and hands their commands to
//! the api's command handler in-process. It reads the store, never writes events itself.

pub mod access;
pub mod annotations;
pub mod auth;
pub mod broadcast_routes;
pub mod broadcasts;
pub mod conv_settings;
pub mod coverage;
pub mod device_presence;
pub mod devices;
mod errors;
pub mod files;
pub mod frames;
pub mod groups;
pub mod hub;
pub mod lifecycle;
pub mod min_pos;
pub mod paging;
pub mod presence;
pub mod presence_folder;
pub mod presence_query;
pub mod profiles;
pub mod push_settings;
pub mod query;
pub mod quotes;
pub mod relations;
pub mod rest;
pub mod service_view;
pub mod services;
pub mod session;
pub mod sessions;
pub mod topics;
pub mod typing;
pub mod users;
pub mod ws;

use serde::Deserialize;
use session::{Limits, Shared};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tidings_api::Api;
use tidings_api::error::ApiError;
use tidings_api::tokens::{Principal, Tokens};
use tidings_store::ReadModels;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use users::Users;

/// The gateway's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Browser origins allowed to open a WebSocket; empty allows all.
    pub allowed_origins: Vec<String>,
    /// A connection silent this long is closed.
    pub idle_timeout_secs: u64,
    /// Largest client frame; larger ones close the connection with 1009.
    pub max_frame_bytes: usize,
    /// Sustained client frames per second per connection.
    pub frames_per_sec: u32,
    /// Burst of client frames per connection.
    pub frames_burst: u32,
    /// Live pushes (entries and typing notices) a connection may fall behind before it refills
    /// its entries from the store.
    pub push_buffer: usize,
    /// User rows cached for profile lookups.
    pub user_cache: u64,
    /// Longest a cached user row is served without a change notice (a safety net: the
    /// projector's notices drop changed rows at once).
    pub user_cache_ttl_secs: u64,
    /// Longest a read naming `min_pos` waits for the read models to reach it before
    /// answering `unavailable`.
    pub min_pos_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            idle_timeout_secs: 60,
            max_frame_bytes: 64 * 1024,
            frames_per_sec: 100,
            frames_burst: 200,
            push_buffer: 16,
            user_cache: 1_000_000,
            user_cache_ttl_secs: 10,
            min_pos_timeout_ms: 5000,
        }
    }
}

/// What the gateway's handlers share.
pub struct GatewayState<S> {
    pub shared: Arc<Shared<S>>,
    pub tokens: Tokens,
    pub users: Arc<Users<S>>,
    pub config: Arc<Config>,
}

impl<S> Clone for GatewayState<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            tokens: self.tokens.clone(),
            users: self.users.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: ReadModels> GatewayState<S> {
    /// The authenticated caller of a request.
    pub async fn me(
        &self,
        headers: &axum::http::HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Principal, ApiError> {
        auth::authenticate(&self.tokens, &self.shared.commands, headers, query_token).await
    }
}

/// The gateway, ready to route.
pub struct Gateway<S> {
    state: GatewayState<S>,
    signatures: tidings_api::signature::SignatureCheck,
}

impl<S: ReadModels> Gateway<S> {
    /// A gateway over `store`, sending commands through `api`, live entries from `client`.
    /// `projections` are the checkpoint keys of the projector's partitions, which tell how far
    /// the read models are. Its background work runs on `tasks` and ends with `shutdown`.
    pub async fn new(
        config: Config,
        store: S,
        projections: Vec<String>,
        api: &Api,
        client: async_nats::Client,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> anyhow::Result<Self> {
        let limits = Limits {
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            frames_per_sec: NonZeroU32::new(config.frames_per_sec)
                .ok_or_else(|| anyhow::anyhow!("frames_per_sec must be > 0"))?,
            burst: NonZeroU32::new(config.frames_burst)
                .ok_or_else(|| anyhow::anyhow!("frames_burst must be > 0"))?,
        };
        let coverage = Arc::new(coverage::Coverage::new(
            store.clone(),
            async_nats::jetstream::new(client.clone()),
            projections,
            Duration::from_millis(config.min_pos_timeout_ms),
        ));
        let users = Arc::new(Users::new(
            store.clone(),
            coverage.clone(),
            config.user_cache,
            Duration::from_secs(config.user_cache_ttl_secs),
        ));
        let notices = users::subscribe_changes(&client).await?;
        tasks.spawn(users::follow_changes(
            users.clone(),
            notices,
            shutdown.clone(),
        ));
        let sessions = sessions::Sessions::default();
        let access_notices = access::subscribe(&client).await?;
        tasks.spawn(access::follow(
            sessions.clone(),
            api.commands.clone(),
            access_notices,
            shutdown.clone(),
        ));
        let presence = presence::Presence::open(async_nats::jetstream::new(client.clone())).await?;
        tasks.spawn(presence.clone().refresh(shutdown.clone()));
        tasks.spawn(presence_folder::run(
            async_nats::jetstream::new(client.clone()),
            shutdown.clone(),
        ));
        let shared = Shared {
            presence,
            store,
            commands: api.commands.clone(),
            hub: hub::Hub::new(client.clone(), config.push_buffer),
            sessions,
            broadcasts: broadcasts::BroadcastHub::new(client),
            coverage,
            limits,
            shutdown,
        };
        Ok(Self {
            state: GatewayState {
                shared: Arc::new(shared),
                tokens: api.tokens.clone(),
                users,
                config: Arc::new(config),
            },
            signatures: api.signatures.clone(),
        })
    }

    /// The WebSocket and client REST routes.
    pub fn router(&self) -> axum::Router {
        rest::router::<S>()
            .merge(profiles::router::<S>())
            .merge(conv_settings::router::<S>())
            .merge(relations::router::<S>())
            .merge(devices::router::<S>())
            .merge(groups::router::<S>())
            .merge(files::router::<S>())
            .merge(annotations::router::<S>())
            .merge(lifecycle::router::<S>())
            .merge(presence_query::router::<S>())
            .merge(services::router::<S>())
            .merge(push_settings::router::<S>())
            .merge(broadcast_routes::client_router::<S>())
            .route("/v1/ws", axum::routing::get(ws::upgrade::<S>))
            .route_layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                min_pos::wait::<S>,
            ))
            .with_state(self.state.clone())
            .merge(broadcast_routes::server_router(
                self.state.shared.store.clone(),
                self.signatures.clone(),
            ))
    }
}
