//! Webhook delivery of the feed: a durable consumer on the feed stream POSTs each record of an
//! app that has a `feed_webhook` setting to its URL, signed (`signing`). A failure is retried
//! with exponential backoff (a delayed negative acknowledgement, so other records go on
//! meanwhile); after the webhook's `max_attempts` the record is parked on
//! `tid.dlq.feed.<app>` with the reason, where the admin API lists it. Records are delivered
//! at least once and, because of retries, not always in order: `event_seq` orders and
//! deduplicates them.

use crate::projector::EVENT_SEQ_HEADER;
use anyhow::Context;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tidings_api::apps::Apps;
use tidings_domain::AppId;
use tidings_domain::feed_webhook::FeedWebhook;
use tidings_events::{definitions, headers, subjects};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use tidings_runtime::metrics::FEED_WEBHOOK_DELIVERIES as DELIVERIES;
/// The header of a dead letter saying how many attempts were made.
pub const ATTEMPTS_HEADER: &str = "Tidings-Feed-Attempts";
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// How long to wait before asking again when the app could not be read.
const APP_UNREADABLE_RETRY: Duration = Duration::from_secs(1);
/// How long an app's webhook setting is used before it is read again: a setting change
/// applies within this, and an app's records cost one read of it per period, not per record.
pub const SETTING_TTL: Duration = Duration::from_secs(1);

/// Each app's webhook as last read, and when.
type Hooks = Arc<Mutex<HashMap<AppId, (Option<FeedWebhook>, Instant)>>>;

/// The wait after failed attempt number `attempt` (1-based): `backoff_ms` doubled per attempt.
pub fn backoff(hook: &FeedWebhook, attempt: u32) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(20);
    Duration::from_millis(hook.backoff_ms.saturating_mul(factor)).min(MAX_BACKOFF)
}

/// Delivers feed records to webhooks.
#[derive(Clone)]
pub struct Deliverer {
    js: jetstream::Context,
    apps: Apps,
    http: reqwest::Client,
    concurrency: usize,
    hooks: Hooks,
}

impl Deliverer {
    /// A deliverer on `js`, reading each app's webhook from `apps`.
    pub fn new(js: jetstream::Context, apps: Apps, config: &crate::Config) -> Self {
        let http = tidings_runtime::outbound::client()
            .timeout(Duration::from_millis(config.webhook_timeout_ms))
            .build()
            .expect("the outbound client builds");
        Self {
            js,
            apps,
            http,
            concurrency: config.webhook_concurrency.max(1),
            hooks: Hooks::default(),
        }
    }

    /// Delivers until `shutdown`, reopening the consumer when it fails.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let failure = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                failure = self.consume() => failure,
            };
            tracing::warn!(
                error = format!("{failure:#}"),
                "feed webhook consumer failed; reopening"
            );
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(APP_UNREADABLE_RETRY) => {}
            }
        }
    }

    async fn consume(&self) -> anyhow::Error {
        let opened = async {
            let config = definitions::feed_webhooks_consumer();
            let name = config.durable_name.clone().expect("a durable consumer");
            let consumer: jetstream::consumer::PullConsumer = self
                .js
                .get_stream(subjects::FEED_STREAM)
                .await
                .context("opening the feed stream")?
                .get_or_create_consumer(&name, config)
                .await
                .context("opening the feed webhooks' consumer")?;
            consumer
                .messages()
                .await
                .context("consuming the feed stream")
        };
        let mut messages = match opened.await {
            Ok(messages) => messages,
            Err(error) => return error,
        };
        let permits = Arc::new(Semaphore::new(self.concurrency));
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(message) => message,
                Err(error) => return anyhow::anyhow!("reading the feed stream: {error}"),
            };
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let deliverer = self.clone();
            tokio::spawn(async move {
                deliverer.handle(message).await;
                drop(permit);
            });
        }
        anyhow::anyhow!("the feed stream's consumer ended")
    }

    async fn handle(&self, message: jetstream::Message) {
        let Some(app) = subjects::parse_feed(&message.subject)
            .and_then(|(app, _)| AppId::parse(app.to_owned()).ok())
        else {
            tracing::warn!(subject = %message.subject, "a feed record on a subject with no app");
            return settle(&message, AckKind::Ack).await;
        };
        let hook = match self.hook(&app).await {
            Ok(hook) => hook,
            Err(error) => {
                tracing::warn!(%app, message = %error.message, "cannot read the app; retrying");
                return settle(&message, AckKind::Nak(Some(APP_UNREADABLE_RETRY))).await;
            }
        };
        let Some(hook) = hook else {
            return settle(&message, AckKind::Ack).await;
        };
        let attempt = message
            .info()
            .map(|i| u32::try_from(i.delivered).unwrap_or(u32::MAX))
            .unwrap_or(1);
        match self.post(&app, &hook, &message, attempt).await {
            Ok(()) => {
                metrics::counter!(DELIVERIES, "outcome" => "delivered").increment(1);
                settle(&message, AckKind::Ack).await;
            }
            Err(reason) if attempt >= hook.max_attempts => {
                tracing::warn!(%app, %reason, attempt, "feed record dead-lettered");
                match self.dead_letter(&app, &message, &reason, attempt).await {
                    Ok(()) => {
                        metrics::counter!(DELIVERIES, "outcome" => "dead").increment(1);
                        metrics::counter!(tidings_runtime::metrics::DEAD_LETTERS, "source" => "feed_webhook")
                            .increment(1);
                        settle(&message, AckKind::Term).await;
                    }
                    Err(error) => {
                        tracing::error!(
                            error = format!("{error:#}"),
                            "could not dead-letter a feed record"
                        );
                        settle(&message, AckKind::Nak(Some(backoff(&hook, attempt)))).await;
                    }
                }
            }
            Err(reason) => {
                tracing::info!(%app, %reason, attempt, "feed webhook failed; will retry");
                metrics::counter!(DELIVERIES, "outcome" => "retried").increment(1);
                settle(&message, AckKind::Nak(Some(backoff(&hook, attempt)))).await;
            }
        }
    }

    /// The app's webhook (none for a disabled or unknown app), read at most once per
    /// [`SETTING_TTL`].
    async fn hook(&self, app: &AppId) -> Result<Option<FeedWebhook>, tidings_api::error::ApiError> {
        let cached = {
            let hooks = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
            hooks
                .get(app)
                .filter(|(_, read)| read.elapsed() < SETTING_TTL)
                .map(|(hook, _)| hook.clone())
        };
        if let Some(hook) = cached {
            return Ok(hook);
        }
        let hook = match self.apps.current(app).await? {
            Some((state, _)) if !state.disabled => state.settings.feed_webhook,
            _ => None,
        };
        let mut hooks = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.insert(app.clone(), (hook.clone(), Instant::now()));
        Ok(hook)
    }

    /// One signed POST; an answer other than 2xx is a failure, with the reason.
    async fn post(
        &self,
        app: &AppId,
        hook: &FeedWebhook,
        message: &jetstream::Message,
        attempt: u32,
    ) -> Result<(), String> {
        let url = reqwest::Url::parse(&hook.url).map_err(|e| format!("bad url: {e}"))?;
        let event_seq = message
            .headers
            .as_ref()
            .and_then(|h| h.get(EVENT_SEQ_HEADER))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        let nonce = format!("{event_seq}-{attempt}");
        let timestamp = chrono::Utc::now().timestamp();
        let signature = crate::signing::signature(
            &hook.secret,
            "POST",
            &crate::signing::path_and_query(&url),
            timestamp,
            &nonce,
            &message.payload,
        );
        let answer = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-app-key", app.as_str())
            .header("x-timestamp", timestamp.to_string())
            .header("x-nonce", nonce)
            .header("x-signature", signature)
            .header("x-tidings-event-seq", event_seq)
            .header("x-tidings-attempt", attempt.to_string())
            .body(message.payload.to_vec())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "request failed: {}",
                    tidings_runtime::outbound::describe(&e)
                )
            })?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", answer.status()))
        }
    }

    async fn dead_letter(
        &self,
        app: &AppId,
        message: &jetstream::Message,
        reason: &str,
        attempts: u32,
    ) -> anyhow::Result<()> {
        let feed_seq = message
            .info()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .stream_sequence;
        let mut h = HeaderMap::new();
        h.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("feed-dead.{feed_seq}").as_str(),
        );
        h.insert(headers::DEAD_LETTER_REASON, reason);
        h.insert(headers::DEAD_LETTER_SUBJECT, message.subject.as_str());
        h.insert(headers::DEAD_LETTER_SEQ, feed_seq.to_string().as_str());
        h.insert(ATTEMPTS_HEADER, attempts.to_string().as_str());
        if let Some(seq) = message
            .headers
            .as_ref()
            .and_then(|m| m.get(EVENT_SEQ_HEADER))
        {
            h.insert(EVENT_SEQ_HEADER, seq.as_str());
        }
        self.js
            .publish_with_headers(subjects::dead_letter_feed(app), h, message.payload.clone())
            .await?
            .await?;
        Ok(())
    }
}

async fn settle(message: &jetstream::Message, kind: AckKind) {
    if let Err(error) = message.ack_with(kind).await {
        tracing::warn!(%error, "could not settle a feed record; it will be redelivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let hook = FeedWebhook {
            url: "http://h".into(),
            secret: "0123456789abcdef".into(),
            max_attempts: 5,
            backoff_ms: 100,
        };
        let waits: Vec<u64> = (1..=4)
            .map(|a| backoff(&hook, a).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800]);
        assert_eq!(backoff(&hook, 60), MAX_BACKOFF);
    }
}
