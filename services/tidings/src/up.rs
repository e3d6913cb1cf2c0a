//! `tidings up`: api, projector, gateway and push worker in one process on the embedded store
//! (or a ScyllaDB store given to `Server::build_on`), with a local nats-server when `NATS_URL`
//! is not set.

use crate::config::Config;
use crate::dev_app;
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tidings_api::Api;
use tidings_api::apps::AppConfig;
use tidings_gateway::Gateway;
use tidings_runtime::nats_server::{Options, Supervised};
use tidings_runtime::shutdown::{GRACE, bounded};
use tidings_store::{FjallStore, ReadModels};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where `up` records the URL of the local nats-server it started.
pub const NATS_URL_FILE: &str = "nats-url";

/// The part of the grace period kept for the last NATS flush and stopping the local
/// nats-server, after the services have had the rest.
const FINAL_RESERVE: Duration = Duration::from_secs(2);

/// The longest the final flush of buffered publishes may take.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// Connects to NATS (one URL, or a comma-separated list) and provisions the streams.
pub async fn connect_nats(url: &str, replicas: usize) -> anyhow::Result<async_nats::Client> {
    // `NATS_URL` may list several servers of a cluster, comma-separated.
    let servers = url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("NATS_URL {url:?} is not a server list"))?;
    let client = async_nats::ConnectOptions::new()
        .name("tidings")
        .retry_on_initial_connect()
        .connect(servers)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let js = async_nats::jetstream::new(client.clone());
    // A cluster that is still electing its JetStream leader refuses stream requests for a
    // moment: keep asking, for up to a minute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut backoff = Duration::from_millis(50);
    loop {
        match tidings_events::definitions::provision(&js, replicas).await {
            Ok(()) => return Ok(client),
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::info!(%error, "JetStream not ready yet; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(error) => anyhow::bail!("provisioning JetStream streams: {error}"),
        }
    }
}

/// The all-in-one server, bound and ready to run.
pub struct Server<S = FjallStore> {
    local_nats: Option<Supervised>,
    client: async_nats::Client,
    store: S,
    api: Api,
    app: AppConfig,
    listener: tokio::net::TcpListener,
    /// Integrator requests over NATS, subscribed before the server is built.
    inbound: async_nats::Subscriber,
    config: Config,
}

impl Server<FjallStore> {
    /// Starts NATS if needed, provisions streams, opens the embedded store and binds the
    /// listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let store = FjallStore::open(&config.data_dir.join("store"))
            .context("opening the embedded store")?;
        Self::build_on(config, store).await
    }
}

impl<S: ReadModels> Server<S> {
    /// Starts NATS if needed, provisions streams and binds the listener, on `store`.
    pub async fn build_on(config: Config, store: S) -> anyhow::Result<Self> {
        tidings_runtime::metrics::install();
        // Before the hook, feed and push clients are built (main has read it already; a
        // file already trusted is not read again).
        if let Some(path) = &config.http.extra_ca_file {
            tidings_runtime::outbound::trust_extra_ca_file(path)?;
        }
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let app = config.dev_app(&config.data_dir)?;
        let (local_nats, url) = match &config.nats_url {
            Some(url) => (None, url.clone()),
            None => {
                // Supervised: restarted on the same port when it dies, so the services'
                // connections come back by themselves.
                let store_dir = config.data_dir.join("nats");
                // Its log says why it died, when it does.
                let log = store_dir.join("nats-server.log");
                let server = Supervised::start(Options {
                    extra_config: format!(
                        "log_file: {log:?}\nlogfile_size_limit: 10MB\nlogfile_max_num: 3"
                    ),
                    store_dir,
                    port: None,
                    sync_always: config.durable,
                })
                .await?;
                let url = server.url().to_owned();
                tracing::info!(%url, "started local nats-server");
                // Other commands (replay) find the local server through this file.
                std::fs::write(config.data_dir.join(NATS_URL_FILE), &url)?;
                (Some(server), url)
            }
        };
        let client = connect_nats(&url, config.nats_replicas).await?;
        let mut api_config = config.api.clone();
        api_config.apps.push(app.clone());
        if api_config.admin.is_none() {
            api_config.admin = Some(dev_app::admin_load_or_create(&config.data_dir)?);
        }
        let api = Api::build(&api_config, async_nats::jetstream::new(client.clone())).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let inbound = api
            .subscribe_inbound(&client)
            .await
            .map_err(|e| anyhow::anyhow!("subscribing to integrator requests: {e}"))?;
        Ok(Self {
            local_nats,
            client,
            store,
            api,
            app,
            listener,
            inbound,
            config,
        })
    }

    /// The bound HTTP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// The development app's credentials.
    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    /// The store (shared with the running services).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The line printed when ready, as PROTOCOL.md fixes it.
    pub fn ready_line(&self) -> String {
        format!(
            "tidings ready listen=http://{} app_key={} app_secret={}",
            self.local_addr(),
            self.app.key,
            self.app.secret
        )
    }

    /// Serves until `shutdown` resolves, then drains within a grace period.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let dev_app = tidings_domain::AppId::parse(self.app.key.clone())
            .context("the development app's key is not a valid app id")?;
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let gateway = Gateway::new(
            self.config.gateway.clone(),
            self.store.clone(),
            tidings_projector::Partition::projections(self.config.projector.partitions),
            &self.api,
            self.client.clone(),
            token.clone(),
            &tracker,
        )
        .await?;
        let projector = tidings_projector::Status::default();
        let mut readiness = self.api.readiness();
        if let Some(nats) = &self.local_nats {
            readiness = readiness.first(crate::ready::LocalNats(nats.state()));
        }
        let readiness = readiness
            .with(crate::ready::Projector(projector.clone()))
            .with(crate::ready::Lag::new(
                self.store.clone(),
                self.client.clone(),
                self.config.projector.partitions,
                self.config.ready_max_lag,
            ));
        let router = self
            .api
            .router()
            .merge(gateway.router())
            .merge(tidings_api::health::router(readiness))
            .merge(crate::web_app::router())
            .merge(crate::dev_token::router(self.api.clone(), dev_app))
            .merge(tidings_api::openapi::router());
        let (api, client, stop) = (self.api.clone(), self.client.clone(), token.clone());
        let requests = self.inbound;
        tracker.spawn(async move {
            if let Err(error) = api.serve_inbound(client, requests, stop).await {
                tracing::error!(%error, "integrator requests over NATS stopped");
            }
        });
        tidings_feed::spawn(
            &self.config.feed,
            self.client.clone(),
            self.api.apps().clone(),
            &tracker,
            token.clone(),
        );
        tracker.spawn(tidings_projector::run_reporting(
            self.store.clone(),
            self.client.clone(),
            self.config.projector.clone(),
            token.clone(),
            projector,
        ));
        if self.config.push.enabled {
            tracker.spawn(tidings_push::run(
                self.store.clone(),
                self.client.clone(),
                self.api.apps().clone(),
                tidings_projector::Partition::projections(self.config.projector.partitions),
                self.config.push.clone(),
                token.clone(),
            ));
        }
        let serve = tidings_api::edge::serve(
            self.listener,
            router,
            self.config.http.clone(),
            token.clone().cancelled_owned(),
        );
        tracker.spawn(async move {
            if let Err(error) = serve.await {
                tracing::error!(%error, "http server failed");
            }
        });
        shutdown.await;
        tracing::info!("shutting down");
        // Every wait from here on is bounded: NATS may be dead or frozen, and a stop must
        // still end within the grace period.
        let deadline = tokio::time::Instant::now() + GRACE;
        token.cancel();
        tracker.close();
        let services = deadline - FINAL_RESERVE;
        if tokio::time::timeout_at(services, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some work did not finish within the grace period; abandoned");
        }
        // Publishes still buffered (live pushes, acks) go out if the server answers.
        bounded("the final NATS flush", FINAL_FLUSH, self.client.flush()).await;
        if let Some(nats) = self.local_nats {
            nats.stop().await;
        }
        Ok(())
    }
}
