//! The feed projector: a durable consumer on the events stream that publishes each event's
//! public record (`record::record`) on `tid.feed.v1.<app>.<kind>`, in event order, for the
//! apps whose `feed` setting (or a `feed_webhook`) asks for it; other apps' events are read
//! and passed over, so a deployment pays the second write only for apps that consume it, and
//! while no app asks, only the apps' own events are read at all (`tidings_api::app_scope`).
//!
//! Idempotent under redelivery and replay: a record's `Nats-Msg-Id` is its source event's
//! sequence (JetStream drops a copy within the feed stream's dedupe window), and events at or
//! below the newest record already in the feed stream are skipped (its
//! `Tidings-Feed-Event-Seq` header), so a restart or a reset consumer never publishes twice.

use crate::record::{self, Record};
use anyhow::Context;
use async_nats::HeaderMap;
use async_nats::jetstream::stream::Stream as JsStream;
use async_nats::jetstream::{self, consumer::PullConsumer};
use futures_util::StreamExt;
use std::time::Duration;
use tidings_api::app_scope::AppScope;
use tidings_api::apps::Apps;
use tidings_api::apps_memo::AppsMemo;
use tidings_domain::AppId;
use tidings_domain::app::AppState;
use tidings_events::{Envelope, definitions, subjects};
use tokio_util::sync::CancellationToken;

/// The header carrying a record's source event sequence.
pub const EVENT_SEQ_HEADER: &str = "Tidings-Feed-Event-Seq";
/// The header carrying a record's type.
pub const TYPE_HEADER: &str = "Tidings-Feed-Type";

/// How long one fetch waits for events when there are none.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// The `Nats-Msg-Id` of the record of the event at `event_seq`.
pub fn msg_id(event_seq: u64) -> String {
    format!("feed.v1.{event_seq}")
}

/// Whether `app` asks for its records.
fn feeds(app: &AppState) -> bool {
    !app.disabled && app.settings.feeds()
}

/// Whether the app of the event on `subject` asks for its records (an event of an app that
/// does not is passed over undecoded).
async fn app_feeds(apps: &mut AppsMemo<'_>, subject: &str) -> anyhow::Result<bool> {
    let Some(app) = subjects::event_app(subject).and_then(|a| AppId::parse(a).ok()) else {
        return Ok(false);
    };
    match apps.state(&app).await {
        Ok(state) => Ok(state.is_some_and(feeds)),
        Err(error) => anyhow::bail!("reading app {app}: {}", error.message),
    }
}

/// The translating side, over one JetStream context.
pub struct Projector {
    js: jetstream::Context,
    apps: Apps,
    /// The events stream, where the consumer is made again when its scope changes.
    stream: JsStream,
    consumer: PullConsumer,
    /// What the consumer reads.
    scope: AppScope,
    /// The newest source event already in the feed stream.
    published: u64,
    max_batch: usize,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Consumed this many events (publishing a record for some).
    Processed(usize),
    /// Nothing new.
    CaughtUp,
}

/// The source event sequence of the newest record in the feed stream (0: none).
async fn newest_published(js: &jetstream::Context) -> anyhow::Result<u64> {
    let mut feed = js
        .get_stream(subjects::FEED_STREAM)
        .await
        .context("opening the feed stream")?;
    let last = feed.info().await?.state.last_sequence;
    if last == 0 {
        return Ok(0);
    }
    // An aged-out last record leaves only the consumer's ack floor to go by.
    let Ok(message) = feed.get_raw_message(last).await else {
        return Ok(0);
    };
    Ok(message
        .headers
        .get(EVENT_SEQ_HEADER)
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(0))
}

impl Projector {
    /// Opens (or creates) the durable consumer, in the scope the apps call for (`AppScope::open`),
    /// and reads where the feed stands.
    pub async fn open(
        js: jetstream::Context,
        apps: Apps,
        max_batch: usize,
    ) -> anyhow::Result<Self> {
        let stream = js
            .get_stream(subjects::EVENTS_STREAM)
            .await
            .context("opening the events stream")?;
        // Every event while some app asks for the feed, else app events.
        let (scope, consumer) = AppScope::open(
            definitions::feed_projector_consumer(),
            feeds,
            &stream,
            &apps,
            None,
        )
        .await?;
        let published = newest_published(&js).await?;
        Ok(Self {
            js,
            apps,
            stream,
            consumer,
            scope,
            published,
            max_batch: max_batch.max(1),
        })
    }

    /// Translates and publishes the next batch of events, then acknowledges it.
    pub async fn step(&mut self) -> anyhow::Result<Step> {
        let mut batch = self
            .consumer
            .fetch()
            .max_messages(self.max_batch)
            .expires(IDLE_WAIT)
            .messages()
            .await
            .context("fetching events")?;
        let mut acks = Vec::new();
        let mut last = None;
        let mut count = 0;
        let mut rescope = None;
        // Each app's setting is read once per batch, and again after an event of an app.
        let mut apps = AppsMemo::new(&self.apps);
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| anyhow::anyhow!("fetching events: {e}"))?;
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .stream_sequence;
            if seq > self.published
                && app_feeds(&mut apps, &message.subject).await?
                && let Some(record) = self.translate(seq, &message)
            {
                acks.push(self.publish(&record).await?);
                self.published = seq;
            }
            count += 1;
            if let Some(app) =
                subjects::parse_app(&message.subject).and_then(|a| AppId::parse(a).ok())
            {
                apps = AppsMemo::new(&self.apps);
                if let Some(wanted) = self.scope.after_event_of(&self.apps, &app).await? {
                    rescope = Some((wanted, seq));
                    break;
                }
            }
            last = Some(message);
        }
        drop(batch);
        // Publishes pipeline on one connection, so they land in order; the consumer moves on
        // only once every one is stored.
        for ack in acks {
            ack.await.context("storing a feed record")?;
        }
        if let Some((wanted, after)) = rescope {
            self.consumer = self.scope.position(&self.stream, wanted, after).await?;
            return Ok(Step::Processed(count));
        }
        match last {
            Some(message) => {
                message
                    .ack()
                    .await
                    .map_err(|e| anyhow::anyhow!("acknowledging events: {e}"))?;
                Ok(Step::Processed(count))
            }
            None => Ok(Step::CaughtUp),
        }
    }

    fn translate(&self, seq: u64, message: &jetstream::Message) -> Option<Record> {
        match Envelope::decode(
            seq,
            &message.subject,
            message.headers.as_ref(),
            &message.payload,
        ) {
            Ok(envelope) => record::record(seq, &envelope.event),
            Err(error) => {
                // The read-model projector dead-letters it; the feed has nothing to say of it.
                tracing::warn!(%error, seq, "feed projector skipped an event it cannot read");
                None
            }
        }
    }

    async fn publish(
        &self,
        record: &Record,
    ) -> anyhow::Result<jetstream::context::PublishAckFuture> {
        let app = AppId::parse(record.app.clone()).context("a record's app")?;
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            msg_id(record.event_seq).as_str(),
        );
        headers.insert(EVENT_SEQ_HEADER, record.event_seq.to_string().as_str());
        headers.insert(TYPE_HEADER, record.record_type.as_str());
        let payload = serde_json::to_vec(record).expect("records encode");
        metrics::counter!(tidings_runtime::metrics::FEED_RECORDS, "kind" => record.kind.clone())
            .increment(1);
        self.js
            .publish_with_headers(subjects::feed(&app, &record.kind), headers, payload.into())
            .await
            .context("publishing a feed record")
    }
}

/// Runs the feed projector until `shutdown`. A failed step reopens it, so where the feed
/// stands is read again from the feed stream (a publish may have failed after others of its
/// batch succeeded).
pub async fn run(
    js: jetstream::Context,
    apps: Apps,
    max_batch: usize,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let opened = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            opened = Projector::open(js.clone(), apps.clone(), max_batch) => opened,
        };
        let failure = match opened {
            Ok(mut projector) => loop {
                let step = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    step = projector.step() => step,
                };
                if let Err(error) = step {
                    break error;
                }
            },
            Err(error) => error,
        };
        tracing::warn!(
            error = format!("{failure:#}"),
            "feed projector failed; reopening"
        );
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(IDLE_WAIT) => {}
        }
    }
}
