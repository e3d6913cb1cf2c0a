//! tidings-push: offline push. A worker follows the message subjects of the events stream
//! behind the projection and turns each message for a user with a push-registered device that
//! has no session open into a push job (honouring mute, do-not-disturb and mentions, bursts
//! collapsed per conversation, badge = unread total), delivered through a provider port
//! (the app server's signed webhook, APNs, FCM). It reads the store's ports and the app
//! registry; nothing depends on it but the `tidings` binary.

pub mod apns;
pub mod fcm;
pub mod job;
pub mod online;
pub mod plan;
pub mod provider;
pub mod webhook;
pub mod worker;

pub use job::PushJob;
pub use worker::{Step, Worker};

use serde::Deserialize;
use std::time::Duration;
use tidings_api::apps::Apps;
use tidings_store::ReadModels;
use tokio_util::sync::CancellationToken;

/// The push worker's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Whether the all-in-one server runs the worker.
    pub enabled: bool,
    /// Messages of one conversation to one device arriving within this many ms of the first
    /// become one notification.
    pub collapse_ms: u64,
    /// Most messages handled in one step.
    pub max_batch: usize,
    /// Messages older than this many seconds when handled get no notification.
    pub max_age_secs: u64,
    /// Delivery attempts per job when the provider is unavailable.
    pub attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            collapse_ms: 1_000,
            max_batch: 512,
            max_age_secs: 600,
            attempts: 3,
        }
    }
}

/// Runs the worker until `shutdown`, restarting it (from its checkpoint) after a failure.
pub async fn run<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    apps: Apps,
    projections: Vec<String>,
    config: Config,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        let started = Worker::start(
            store.clone(),
            client.clone(),
            apps.clone(),
            projections.clone(),
            config.clone(),
        )
        .await;
        let result: anyhow::Result<()> = match started {
            Ok(mut worker) => loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    step = worker.step(Duration::from_secs(1)) => match step {
                        Ok(_) => backoff = Duration::from_millis(100),
                        Err(error) => break Err(error),
                    },
                }
            },
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            let error = format!("{error:#}");
            tracing::error!(%error, ?backoff, "push worker failed; restarting from its checkpoint");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
