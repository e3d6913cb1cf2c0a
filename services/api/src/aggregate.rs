//! Loading aggregates from their subjects and publishing their decisions with optimistic
//! concurrency. State is cached per subject (moka); a command runs under the subject's lock,
//! decides on the cached state, and publishes with `Nats-Expected-Last-Subject-Sequence`. A
//! conflict or a dedupe hit means another writer got there first: catch up and decide again.

use crate::error::{ApiError, ErrorCode};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{DirectGetErrorKind, Stream};
use futures_util::StreamExt;
use std::sync::Arc;
use tidings_domain::conv::ConvState;
use tidings_domain::reads::ReadState;
use tidings_domain::user::UserState;
use tidings_domain::{AppId, Event};
use tidings_events::envelope::{dedupe_id, publish_headers};
use tidings_events::{Envelope, encode, subjects};
use tokio::sync::Mutex;

/// How many times a command is decided again after conflicts before giving up.
const MAX_ATTEMPTS: u64 = 16;

/// A random pause before retry `attempt`, growing with it, so two writers that keep
/// colliding on one subject fall out of step instead of livelocking.
async fn backoff(attempt: u64) {
    let micros = rand::random::<u64>() % (attempt * 500 + 1);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// A state folded from one aggregate subject.
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The aggregate kind, the subject's third token.
    const KIND: &'static str;
    /// Applies one event of the subject.
    fn evolve(&mut self, event: &Event);
}

impl Aggregate for UserState {
    const KIND: &'static str = subjects::aggregate::USER;
    fn evolve(&mut self, event: &Event) {
        UserState::evolve(self, event);
    }
}

/// A system message's subject holds just that message: nothing to decide on.
#[derive(Debug, Default)]
pub struct SystemMessage;

impl Aggregate for SystemMessage {
    const KIND: &'static str = subjects::aggregate::SYSTEM;
    fn evolve(&mut self, _: &Event) {}
}

impl Aggregate for ReadState {
    const KIND: &'static str = subjects::aggregate::READS;
    fn evolve(&mut self, event: &Event) {
        ReadState::evolve(self, event);
    }
}

impl Aggregate for ConvState {
    const KIND: &'static str = subjects::aggregate::CONV;
    fn evolve(&mut self, event: &Event) {
        ConvState::evolve(self, event);
    }
}

struct Loaded<S> {
    state: S,
    /// Stream sequence of the last event applied from the subject, 0 for none.
    version: u64,
    /// False until caught up, and again after an outcome we could not observe.
    fresh: bool,
}

enum PublishOutcome {
    Done,
    /// Someone else wrote the subject, or our event was a dedupe hit: catch up and retry.
    Stale,
}

/// Loads, caches and writes one kind of aggregate.
pub struct Repository<S> {
    js: async_nats::jetstream::Context,
    stream: Stream,
    cache: moka::future::Cache<String, Arc<Mutex<Loaded<S>>>>,
}

impl<S: Aggregate> Repository<S> {
    /// A repository over the events stream, caching up to `capacity` aggregates.
    pub fn new(js: async_nats::jetstream::Context, stream: Stream, capacity: u64) -> Self {
        Self {
            js,
            stream,
            cache: moka::future::Cache::new(capacity),
        }
    }

    async fn slot(&self, subject: &str) -> Arc<Mutex<Loaded<S>>> {
        self.cache
            .get_with_by_ref(subject, async {
                Arc::new(Mutex::new(Loaded {
                    state: S::default(),
                    version: 0,
                    fresh: false,
                }))
            })
            .await
    }

    fn apply_raw(
        subject: &str,
        loaded: &mut Loaded<S>,
        seq: u64,
        headers: Option<&async_nats::HeaderMap>,
        payload: &[u8],
    ) -> Result<(), ApiError> {
        let envelope = Envelope::decode(seq, subject, headers, payload).map_err(|e| {
            tracing::error!(subject, seq, error = %e, "unreadable event in aggregate");
            ApiError::new(ErrorCode::Internal, "aggregate holds an unreadable event")
        })?;
        loaded.state.evolve(&envelope.event);
        loaded.version = seq;
        Ok(())
    }

    /// A cold load: streams the whole subject through an ordered consumer (one request, not
    /// one round trip per event), up to its last event when the load began.
    async fn load_streamed(&self, subject: &str, loaded: &mut Loaded<S>) -> Result<(), ApiError> {
        let last = match self.stream.direct_get_last_for_subject(subject).await {
            Ok(message) => message.sequence,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => return Ok(()),
            Err(e) => return Err(ApiError::unavailable("loading aggregate", e)),
        };
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                filter_subject: subject.to_owned(),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| ApiError::unavailable("loading aggregate", e))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| ApiError::unavailable("loading aggregate", e))?;
        while loaded.version < last {
            let message = match messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => return Err(ApiError::unavailable("loading aggregate", e)),
                None => return Err(ApiError::unavailable("loading aggregate", "stream ended")),
            };
            let seq = message
                .info()
                .map_err(|e| ApiError::unavailable("loading aggregate", e))?
                .stream_sequence;
            Self::apply_raw(
                subject,
                loaded,
                seq,
                message.headers.as_ref(),
                &message.payload,
            )?;
        }
        Ok(())
    }

    async fn catch_up(&self, subject: &str, loaded: &mut Loaded<S>) -> Result<(), ApiError> {
        if loaded.version == 0 {
            self.load_streamed(subject, loaded).await?;
        }
        // Whatever arrived since (usually nothing, or the one event a conflict was about).
        loop {
            let next = self
                .stream
                .direct_get_next_for_subject(subject, Some(loaded.version + 1))
                .await;
            match next {
                Ok(message) => Self::apply_raw(
                    subject,
                    loaded,
                    message.sequence,
                    Some(&message.headers),
                    &message.payload,
                )?,
                Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => break,
                Err(e) => return Err(ApiError::unavailable("loading aggregate", e)),
            }
        }
        loaded.fresh = true;
        Ok(())
    }

    async fn publish(
        &self,
        subject: &str,
        loaded: &mut Loaded<S>,
        events: &[Event],
    ) -> Result<PublishOutcome, ApiError> {
        for event in events {
            let encoded = encode(event);
            let message = PublishMessage::build()
                .payload(encoded.payload.clone().into())
                .headers(publish_headers(&encoded, &dedupe_id(event, loaded.version)))
                .expected_last_subject_sequence(loaded.version);
            let ack = match self.js.send_publish(subject.to_owned(), message).await {
                Ok(future) => future.await,
                Err(e) => Err(e),
            };
            match ack {
                Ok(ack) if ack.duplicate => return Ok(PublishOutcome::Stale),
                Ok(ack) => {
                    loaded.state.evolve(event);
                    loaded.version = ack.sequence;
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    return Ok(PublishOutcome::Stale);
                }
                Err(e) => {
                    // The event may or may not be stored: only the subject can tell.
                    loaded.fresh = false;
                    return Err(ApiError::unavailable("publishing event", e));
                }
            }
        }
        Ok(PublishOutcome::Done)
    }

    /// Runs a command: `decide` sees the current state and returns the events to record and
    /// the caller's answer. Returns once JetStream has acknowledged every event.
    pub async fn execute<R>(
        &self,
        app: &AppId,
        id: &str,
        mut decide: impl FnMut(&S) -> Result<(Vec<Event>, R), ApiError>,
    ) -> Result<R, ApiError> {
        let subject = subjects::event(app, S::KIND, id);
        let slot = self.slot(&subject).await;
        let mut loaded = slot.lock().await;
        // A decision that writes nothing (a refusal, a no-op) is never checked by JetStream,
        // so it must not rest on a cached state another instance may have moved past.
        let mut verified = false;
        if !loaded.fresh {
            self.catch_up(&subject, &mut loaded).await?;
            verified = true;
        }
        for attempt in 0..MAX_ATTEMPTS {
            let decision = decide(&loaded.state);
            let writes = matches!(&decision, Ok((events, _)) if !events.is_empty());
            if !writes && !verified {
                self.catch_up(&subject, &mut loaded).await?;
                verified = true;
                continue;
            }
            let (events, reply) = decision?;
            if events.is_empty() {
                return Ok(reply);
            }
            match self.publish(&subject, &mut loaded, &events).await? {
                PublishOutcome::Done => return Ok(reply),
                PublishOutcome::Stale => {
                    backoff(attempt).await;
                    self.catch_up(&subject, &mut loaded).await?;
                    verified = true;
                }
            }
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            "too many concurrent writers, try again",
        ))
    }

    /// Reads from the state; `fresh` forces a catch-up with the subject first.
    pub async fn read<R>(
        &self,
        app: &AppId,
        id: &str,
        fresh: bool,
        read: impl FnOnce(&S) -> R,
    ) -> Result<R, ApiError> {
        let subject = subjects::event(app, S::KIND, id);
        let slot = self.slot(&subject).await;
        let mut loaded = slot.lock().await;
        if fresh || !loaded.fresh {
            self.catch_up(&subject, &mut loaded).await?;
        }
        Ok(read(&loaded.state))
    }
}
