//! `tidings feed`: the feed projector and webhook delivery alone, against NATS, for
//! deployments that run the services as separate processes (run exactly one).

use crate::config::Config;
use crate::up::connect_nats;
use tidings_runtime::shutdown::GRACE;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Runs the feed on `nats_url` with `config`'s apps until SIGINT or SIGTERM.
pub async fn run(config: &Config, nats_url: &str) -> anyhow::Result<()> {
    let client = connect_nats(nats_url, config.nats_replicas).await?;
    let apps = tidings_api::apps::Apps::open(
        &config.api.apps,
        async_nats::jetstream::new(client.clone()),
        config.api.aggregate_cache,
    )
    .await?;
    let (token, tracker) = (CancellationToken::new(), TaskTracker::new());
    let feed = tidings_feed::Config {
        enabled: true,
        ..config.feed.clone()
    };
    tidings_feed::spawn(&feed, client, apps, &tracker, token.clone());
    println!("tidings feed ready");
    tidings_runtime::shutdown::signal().await;
    token.cancel();
    tracker.close();
    if tokio::time::timeout(GRACE, tracker.wait()).await.is_err() {
        tracing::warn!("the feed did not stop within the grace period; abandoned");
    }
    Ok(())
}
