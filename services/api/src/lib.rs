//! tidings-api: the command side. Commands from the signed server API, the WebSocket gateway
//! (in-process) and NATS are checked, decided by the domain's aggregates and recorded in
//! JetStream. It also mints and verifies user tokens. It never reads the read models.

pub mod admin;
mod admin_feed;
pub mod aggregate;
pub mod app_scope;
pub mod apps;
pub mod apps_memo;
pub mod commands;
pub mod edge;
pub mod error;
pub mod facts;
pub mod files;
pub mod group_ops;
pub mod health;
pub mod hook;
pub mod http;
mod http_annotate;
mod http_broadcast;
mod http_limits;
mod http_service;
mod http_words;
pub mod inbound;
pub mod json;
pub mod limits;
pub mod openapi;
pub mod operations;
pub mod signature;
pub mod snapshot;
pub mod tokens;
pub mod word_filter;
pub mod words;

use anyhow::Context;
use apps::{AppConfig, Apps};
use commands::Commands;
use serde::Deserialize;
use signature::SignatureCheck;
use std::future::Future;
use std::net::SocketAddr;
use tidings_domain::BodyLimits;
use tokens::Tokens;

/// The default grace of a rotated app secret: one day.
pub const DEFAULT_SECRET_GRACE_SECS: u64 = 24 * 3600;

/// The api service's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Apps and their secrets, declared here (read-only at runtime; see docs/protocol.md).
    pub apps: Vec<AppConfig>,
    /// The admin API's credential; the admin API is off without one.
    pub admin: Option<admin::AdminCredential>,
    /// How long a rotated app secret keeps signing, unless the rotation names its own grace.
    pub secret_grace_secs: u64,
    /// Aggregates kept in memory per kind, a large one counting once more per 16 entries its
    /// state holds (a busy conversation's idempotency record and message facts: ~160 in all).
    pub aggregate_cache: u64,
    /// A conversation's or read positions' state is snapshotted every this many events, so a
    /// cold load folds at most about this many (0: never).
    pub snapshot_every: u64,
    /// Longest text body, in bytes.
    pub max_text_bytes: usize,
    /// Largest custom body, JSON-encoded, in bytes.
    pub max_custom_bytes: usize,
    /// The standalone api listener's limits: the binary's `[http]` section, copied here when
    /// the configuration is loaded.
    #[serde(skip)]
    pub http: tidings_runtime::http::HttpConfig,
}

impl Default for Config {
    fn default() -> Self {
        let limits = BodyLimits::default();
        Self {
            apps: Vec::new(),
            admin: None,
            secret_grace_secs: DEFAULT_SECRET_GRACE_SECS,
            aggregate_cache: 200_000,
            snapshot_every: 256,
            max_text_bytes: limits.max_text_bytes,
            max_custom_bytes: limits.max_custom_bytes,
            http: tidings_runtime::http::HttpConfig::default(),
        }
    }
}

impl Config {
    /// The body limits this configuration sets.
    pub fn body_limits(&self) -> BodyLimits {
        BodyLimits {
            max_text_bytes: self.max_text_bytes,
            max_custom_bytes: self.max_custom_bytes,
        }
    }
}

/// The api service's shared parts, for embedding (all-in-one, gateway) or serving alone.
#[derive(Clone)]
pub struct Api {
    pub commands: Commands,
    pub tokens: Tokens,
    pub signatures: SignatureCheck,
    admin: admin::AdminState,
    apps: Apps,
    client: async_nats::Client,
    http: tidings_runtime::http::HttpConfig,
}

impl Api {
    /// Builds the command side on a JetStream context whose streams are provisioned.
    pub async fn build(
        config: &Config,
        js: async_nats::jetstream::Context,
    ) -> anyhow::Result<Self> {
        let apps = Apps::open(&config.apps, js.clone(), config.aggregate_cache)
            .await
            .context("invalid app configuration")?;
        let admin = admin::AdminState::new(
            apps.clone(),
            config.admin.as_ref(),
            config.secret_grace_secs,
            js.clone(),
        )
        .context("invalid admin configuration")?;
        let client = js.client();
        let commands = Commands::new(
            js,
            config.aggregate_cache,
            config.snapshot_every,
            config.body_limits(),
            apps.clone(),
        )
        .await
        .context("opening the events stream")?;
        Ok(Self {
            commands,
            tokens: Tokens::new(apps.clone()),
            signatures: SignatureCheck::new(apps.clone()),
            admin,
            apps,
            client,
            http: config.http.clone(),
        })
    }

    /// Subscribes to integrator requests on `tid.in.<app>.<operation>`: once this returns, NATS
    /// routes them here (subscribe before saying the process is ready).
    pub async fn subscribe_inbound(
        &self,
        client: &async_nats::Client,
    ) -> Result<async_nats::Subscriber, async_nats::Error> {
        inbound::subscribe(client).await
    }

    /// Serves the integrator requests of `requests` (from `subscribe_inbound`) until
    /// `shutdown`.
    pub async fn serve_inbound(
        &self,
        client: async_nats::Client,
        requests: async_nats::Subscriber,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let routes = http::routes(http::ServerApiState {
            commands: self.commands.clone(),
            tokens: self.tokens.clone(),
        });
        inbound::serve(client, requests, self.apps.clone(), routes, shutdown).await
    }

    /// Readiness as far as the api goes: its NATS connection. Processes that run more add
    /// their own checks.
    pub fn readiness(&self) -> health::Readiness {
        health::Readiness::new(self.client.clone())
    }

    /// The signed server-API routes and the admin API.
    pub fn router(&self) -> axum::Router {
        http::router(
            http::ServerApiState {
                commands: self.commands.clone(),
                tokens: self.tokens.clone(),
            },
            self.signatures.clone(),
        )
        .merge(admin::router(self.admin.clone()))
    }

    /// The apps served.
    pub fn apps(&self) -> &Apps {
        &self.apps
    }
}

/// The api service on its own listener.
pub struct App {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    http: tidings_runtime::http::HttpConfig,
}

impl App {
    /// Binds `listen` and prepares the routes.
    pub async fn build(api: &Api, listen: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        Ok(Self {
            listener,
            router: api
                .router()
                .merge(health::router(api.readiness()))
                .merge(openapi::router()),
            http: api.http.clone(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        edge::serve(self.listener, self.router, self.http, shutdown).await?;
        Ok(())
    }
}
