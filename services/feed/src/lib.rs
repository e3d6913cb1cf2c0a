//! tidings-feed: the public event feed for integrators. The feed projector translates the
//! internal events stream into versioned JSON records on their own stream (`TIDINGS_FEED`,
//! `tid.feed.v1.<app>.<kind>`), which app servers consume and replay with consumers of their
//! own; the webhook deliverer POSTs the same records, signed, to the apps that ask for it.
//! It reads apps through the api's `Apps`, never the read models.

pub mod projector;
pub mod record;
pub mod signing;
pub mod webhook;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The feed's configuration (`[feed]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Run the feed projector and webhook deliverer in this process. Exactly one process of a
    /// deployment should (the projector publishes in event order only while it runs alone).
    pub enabled: bool,
    /// Most events translated per batch.
    pub max_batch: usize,
    /// Most webhook requests in flight at once.
    pub webhook_concurrency: usize,
    /// How long one webhook request may take, in ms.
    pub webhook_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            max_batch: 512,
            webhook_concurrency: 32,
            webhook_timeout_ms: 10_000,
        }
    }
}

/// Starts the feed projector and the webhook deliverer on `tracker`, until `shutdown`.
pub fn spawn(
    config: &Config,
    client: async_nats::Client,
    apps: tidings_api::apps::Apps,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) {
    if !config.enabled {
        return;
    }
    let js = async_nats::jetstream::new(client);
    let (projector_js, stop, max_batch) = (js.clone(), shutdown.clone(), config.max_batch);
    let projector_apps = apps.clone();
    tracker.spawn(async move {
        if let Err(error) = projector::run(projector_js, projector_apps, max_batch, stop).await {
            tracing::error!(error = format!("{error:#}"), "the feed projector stopped");
        }
    });
    let deliverer = webhook::Deliverer::new(js, apps, config);
    tracker.spawn(async move {
        if let Err(error) = deliverer.run(shutdown).await {
            tracing::error!(
                error = format!("{error:#}"),
                "feed webhook delivery stopped"
            );
        }
    });
}
