//! Loading aggregates from their subjects and publishing their decisions with optimistic
//! concurrency, for any `tidings_domain::Aggregate`. State is cached per subject (moka); a
//! command runs under the subject's lock, is decided on the cached state, and its events are
//! published with `Nats-Expected-Last-Subject-Sequence`. A conflict or a dedupe hit means
//! another writer got there first: catch up and decide again.
//!
//! A cold load starts from the aggregate's snapshot when it has one (see `snapshot`) and folds
//! only the subject's events after it; every `snapshot_every` events folded since the last
//! snapshot, a new one is written. The cache is bounded by what its states hold (`slots`).

mod slots;

use crate::error::{ApiError, ErrorCode};
use crate::snapshot;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{DirectGetErrorKind, Stream};
use futures_util::StreamExt;
use slots::{Slot, Slots};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tidings_domain::{Aggregate, AppId, Event, Snapshotted};
use tidings_events::envelope::{dedupe_id, publish_headers};
use tidings_events::{Envelope, encode, subjects};
use tidings_runtime::metrics as metrics_names;

/// How many times a command is decided again after conflicts before giving up.
const MAX_ATTEMPTS: u64 = 16;

/// A random pause before retry `attempt`, growing with it, so two writers that keep
/// colliding on one subject fall out of step instead of livelocking.
async fn backoff(attempt: u64) {
    let micros = rand::random::<u64>() % (attempt * 500 + 1);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

struct Loaded<A> {
    state: A,
    /// Stream sequence of the last event applied from the subject, 0 for none.
    version: u64,
    /// False until caught up, and again after an outcome we could not observe.
    fresh: bool,
    /// Events applied since the state last matched a snapshot (read or written).
    since_snapshot: u64,
}

enum PublishOutcome {
    Done,
    /// Someone else wrote the subject: catch up and retry.
    Stale,
    /// JetStream already holds an event with our event's `Nats-Msg-Id` (within its duplicate
    /// window): usually one our state has not seen yet, so catch up and retry.
    Duplicate,
}

type Encode<A> = fn(&snapshot::Codec, &A, u64) -> Result<Vec<u8>, String>;
/// `Snapshotted::snapshot_weight`.
type Weight<A> = fn(&A) -> u64;
/// How many events apart `key`'s snapshots are written: `every`, or half the state's weight
/// when that is more (a snapshot of W entries every W/2 events: two entries' bytes per event at
/// most). With `spread`, that is stretched by a fraction in [0, 1/2) fixed per key: aggregates
/// that grow in step (conversations started together, at one rate) would otherwise all write
/// their snapshots at the same moment, a burst of puts that the events stream's writers queue
/// behind (50 conversations' 250 KB snapshots together, every 22 s, in `tidings-bench direct`).
fn snapshot_interval(every: u64, weight: u64, key: &str, spread: bool) -> u64 {
    let base = shortest_interval(every, weight);
    if !spread {
        return base;
    }
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(key, &mut hasher);
    base + base * (std::hash::Hasher::finish(&hasher) % 512) / 1024
}

/// `snapshot_interval` before its spread: no key's interval is shorter.
fn shortest_interval(every: u64, weight: u64) -> u64 {
    every.max(weight / 2)
}

/// A snapshot's state and the stream sequence it covers, or why it is unusable.
type Decode<A> = fn(&snapshot::Codec, &[u8]) -> Result<(A, u64), String>;

/// Where one aggregate kind's snapshots are kept; the functions are `Snapshotted`'s, chosen
/// when snapshots are switched on, so the repository needs no serde bounds otherwise.
struct Snapshots<A> {
    kv: kv::Store,
    codec: snapshot::Codec,
    every: u64,
    /// Whether each key's interval is stretched by its own fraction (see `snapshot_interval`).
    spread: bool,
    encode: Encode<A>,
    decode: Decode<A>,
}

/// The answer to a command and the events stream's position of the state it describes: the
/// last event the command recorded or, for a command that recorded nothing, the last event of
/// the aggregate it was decided on. Read models that cover `pos` reflect the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded<T> {
    pub value: T,
    pub pos: u64,
}

impl<T> Recorded<T> {
    /// The same position with another answer.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Recorded<U> {
        Recorded {
            value: f(self.value),
            pos: self.pos,
        }
    }
}

fn answer<A, R>(loaded: &Loaded<A>, reply: impl FnOnce(&A) -> R) -> Recorded<R> {
    Recorded {
        value: reply(&loaded.state),
        pos: loaded.version,
    }
}

/// Loads, caches and writes one kind of aggregate.
pub struct Repository<A> {
    js: async_nats::jetstream::Context,
    stream: Stream,
    cache: Slots<Loaded<A>>,
    /// How many entries a state holds (`Snapshotted::snapshot_weight`; none for kinds without
    /// snapshots, whose states stay small): the cache's weight and the snapshots' interval.
    entries: Weight<A>,
    snapshots: Option<Snapshots<A>>,
    /// Events read back from the stream and folded (loads and catch-ups, not our own writes).
    folded: AtomicU64,
}

impl<A> Repository<A>
where
    A: Aggregate + Send + Sync + 'static,
{
    /// A repository over the events stream, caching up to `capacity` aggregates (a large one
    /// counting as several: `slots`).
    pub fn new(js: async_nats::jetstream::Context, stream: Stream, capacity: u64) -> Self {
        Self {
            js,
            stream,
            cache: Slots::new(capacity),
            entries: |_| 0,
            snapshots: None,
            folded: AtomicU64::new(0),
        }
    }

    /// Keeps snapshots in `kv`, writing one every `every` events folded since the last (0: never),
    /// or every half `Snapshotted::snapshot_weight` events when the state is larger than that,
    /// each key's interval stretched by up to half again (`snapshot_interval`).
    pub fn with_snapshots(mut self, kv: kv::Store, every: u64) -> Self
    where
        A: Snapshotted,
    {
        // Weighed by its entries in the cache whether or not snapshots are written.
        self.entries = A::snapshot_weight;
        if every == 0 {
            return self;
        }
        self.snapshots = Some(Snapshots {
            kv,
            codec: snapshot::Codec::new(self.stream.cached_info().created.to_string()),
            every,
            spread: true,
            encode: |codec, state, seq| codec.encode(state, seq),
            decode: |codec, bytes| codec.decode(bytes),
        });
        self
    }

    /// Writes every key's snapshots exactly `snapshot_interval`'s base apart, so a test can
    /// tell which events a snapshot covers.
    #[cfg(test)]
    fn without_spread(mut self) -> Self {
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.spread = false;
        }
        self
    }

    /// How many events this repository has read back from the stream and folded.
    pub fn events_folded(&self) -> u64 {
        self.folded.load(Ordering::Relaxed)
    }

    async fn slot(&self, subject: &str) -> Arc<Slot<Loaded<A>>> {
        self.cache
            .get_or(subject, || Loaded {
                state: A::default(),
                version: 0,
                fresh: false,
                since_snapshot: 0,
            })
            .await
    }

    fn apply_raw(
        &self,
        subject: &str,
        loaded: &mut Loaded<A>,
        seq: u64,
        headers: Option<&async_nats::HeaderMap>,
        payload: &[u8],
    ) -> Result<(), ApiError> {
        let envelope = Envelope::decode(seq, subject, headers, payload).map_err(|e| {
            tracing::error!(subject, seq, error = %e, "unreadable event in aggregate");
            ApiError::new(ErrorCode::Internal, "aggregate holds an unreadable event")
        })?;
        loaded.state.apply_at(&envelope.event, seq);
        loaded.version = seq;
        loaded.since_snapshot += 1;
        self.folded.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Restores the aggregate's snapshot if there is a usable one covering at most `last`.
    async fn restore(&self, key: &str, loaded: &mut Loaded<A>, last: u64) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        let bytes = match snapshots.kv.get(key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(key, %error, "reading a snapshot failed; folding the subject");
                return;
            }
        };
        match (snapshots.decode)(&snapshots.codec, &bytes) {
            Ok((state, seq)) if seq <= last => {
                loaded.state = state;
                loaded.version = seq;
                loaded.since_snapshot = 0;
            }
            Ok((_, seq)) => {
                tracing::warn!(key, seq, last, "snapshot is ahead of its subject; ignored");
            }
            Err(reason) => tracing::info!(key, %reason, "snapshot ignored"),
        }
    }

    /// A cold load: the snapshot if any, then the subject's events after it through an ordered
    /// consumer (one request, not one round trip per event), up to its last event when the load
    /// began.
    async fn load(&self, key: &str, subject: &str, loaded: &mut Loaded<A>) -> Result<(), ApiError> {
        let last = match self.stream.direct_get_last_for_subject(subject).await {
            Ok(message) => message.sequence,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => return Ok(()),
            Err(e) => return Err(ApiError::unavailable("loading aggregate", e)),
        };
        self.restore(key, loaded, last).await;
        if loaded.version >= last {
            return Ok(());
        }
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                filter_subject: subject.to_owned(),
                deliver_policy: match loaded.version {
                    0 => DeliverPolicy::All,
                    covered => DeliverPolicy::ByStartSequence {
                        start_sequence: covered + 1,
                    },
                },
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
            self.apply_raw(
                subject,
                loaded,
                seq,
                message.headers.as_ref(),
                &message.payload,
            )?;
        }
        Ok(())
    }

    /// Brings `loaded` up to the subject's last event; returns the state's entries
    /// (`self.entries`), counted once for the snapshot's interval and the cache's weight.
    async fn catch_up(
        &self,
        key: &str,
        subject: &str,
        loaded: &mut Loaded<A>,
    ) -> Result<u64, ApiError> {
        if loaded.version == 0 {
            // Boxed, like the catch-ups in `execute_then`: a cold load's state (an ordered
            // consumer) is large, and every command's future would otherwise carry its size.
            Box::pin(self.load(key, subject, loaded)).await?;
        }
        // Whatever arrived since (usually nothing, or the one event a conflict was about).
        loop {
            let next = self
                .stream
                .direct_get_next_for_subject(subject, Some(loaded.version + 1))
                .await;
            match next {
                Ok(message) => self.apply_raw(
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
        let entries = (self.entries)(&loaded.state);
        self.snapshot_if_due(key, loaded, entries);
        Ok(entries)
    }

    /// Writes a snapshot in the background once enough events were folded since the last;
    /// `entries` is the state's (`self.entries`). Only ever called on a state that matches the
    /// subject up to `loaded.version`.
    fn snapshot_if_due(&self, key: &str, loaded: &mut Loaded<A>, entries: u64) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        // The spread only lengthens the interval: most commands end here without hashing the
        // key.
        let shortest = shortest_interval(snapshots.every, entries);
        if loaded.since_snapshot < shortest || loaded.version == 0 {
            return;
        }
        let due = snapshot_interval(snapshots.every, entries, key, snapshots.spread);
        if loaded.since_snapshot < due {
            return;
        }
        loaded.since_snapshot = 0;
        let bytes = match (snapshots.encode)(&snapshots.codec, &loaded.state, loaded.version) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(key, %error, "encoding a snapshot failed");
                return;
            }
        };
        let (kv, key, seq) = (snapshots.kv.clone(), key.to_owned(), loaded.version);
        tokio::spawn(async move {
            match kv.put(&key, bytes.into()).await {
                Ok(_) => tracing::debug!(key, seq, "snapshot written"),
                Err(error) => tracing::warn!(key, seq, %error, "writing a snapshot failed"),
            }
        });
    }

    async fn publish(
        &self,
        subject: &str,
        loaded: &mut Loaded<A>,
        events: &[Event],
    ) -> Result<PublishOutcome, ApiError> {
        for event in events {
            let encoded = encode(event);
            let message = PublishMessage::build()
                .payload(encoded.payload.clone().into())
                .headers(publish_headers(&encoded, &dedupe_id(event, loaded.version)))
                .expected_last_subject_sequence(loaded.version);
            let started = std::time::Instant::now();
            let ack = match self.js.send_publish(subject.to_owned(), message).await {
                Ok(future) => future.await,
                Err(e) => Err(e),
            };
            metrics::histogram!(metrics_names::PUBLISH_SECONDS)
                .record(started.elapsed().as_secs_f64());
            match ack {
                Ok(ack) if ack.duplicate => {
                    metrics::counter!(metrics_names::PUBLISH_CONFLICTS, "reason" => "duplicate")
                        .increment(1);
                    return Ok(PublishOutcome::Duplicate);
                }
                Ok(ack) => {
                    loaded.state.apply_at(event, ack.sequence);
                    loaded.version = ack.sequence;
                    loaded.since_snapshot += 1;
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    metrics::counter!(metrics_names::PUBLISH_CONFLICTS, "reason" => "stale")
                        .increment(1);
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

    /// Runs `command` on aggregate `id`. Returns once JetStream has acknowledged every event,
    /// with the position of the aggregate's state.
    pub async fn execute(
        &self,
        app: &AppId,
        id: &str,
        command: &A::Command,
    ) -> Result<u64, ApiError> {
        Ok(self.execute_then(app, id, command, |_| ()).await?.pos)
    }

    /// Runs `command` on aggregate `id`, then answers with `reply` on the state its events
    /// produced (or, for a no-op, the current state it was decided on). Returns once JetStream
    /// has acknowledged every event.
    pub async fn execute_then<R>(
        &self,
        app: &AppId,
        id: &str,
        command: &A::Command,
        reply: impl FnOnce(&A) -> R,
    ) -> Result<Recorded<R>, ApiError> {
        let subject = subjects::event(app, A::KIND, id);
        let key = snapshot::key(A::KIND, app, id);

        let slot = self.slot(&subject).await;
        let mut loaded = slot.loaded.lock().await;
        // A decision that writes nothing (a refusal, a no-op) is never checked by JetStream,
        // so it must not rest on a cached state another instance may have moved past.
        let mut verified = false;
        if !loaded.fresh {
            Box::pin(self.catch_up(&key, &subject, &mut loaded)).await?;
            verified = true;
        }
        for attempt in 0..MAX_ATTEMPTS {
            let decision = loaded.state.decide(command);
            let writes = matches!(&decision, Ok(events) if !events.is_empty());
            if !writes && !verified {
                Box::pin(self.catch_up(&key, &subject, &mut loaded)).await?;
                verified = true;
                continue;
            }
            let events = decision?;
            if events.is_empty() {
                return Ok(answer(&loaded, reply));
            }
            match self.publish(&subject, &mut loaded, &events).await? {
                PublishOutcome::Done => {
                    let entries = (self.entries)(&loaded.state);
                    self.snapshot_if_due(&key, &mut loaded, entries);
                    self.cache.reweigh(&subject, &slot, entries).await;
                    return Ok(answer(&loaded, reply));
                }
                PublishOutcome::Stale => {
                    backoff(attempt).await;
                    Box::pin(self.catch_up(&key, &subject, &mut loaded)).await?;
                    verified = true;
                }
                PublishOutcome::Duplicate => {
                    let seen = loaded.version;
                    Box::pin(self.catch_up(&key, &subject, &mut loaded)).await?;
                    verified = true;
                    if loaded.version == seen {
                        // The original is folded in already and the aggregate decided the same
                        // again: it no longer remembers it (a send retried past the idempotency
                        // horizon within JetStream's duplicate window). Deciding again would
                        // only repeat this.
                        return Err(ApiError::new(
                            ErrorCode::Conflict,
                            "this repeats a request recorded moments ago that is past the \
                             idempotency horizon: try again in a few minutes, or with a new \
                             client_msg_id",
                        ));
                    }
                }
            }
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            "too many concurrent writers, try again",
        ))
    }

    /// Reads aggregate `id`'s events from stream sequence `from` on, through an ordered
    /// consumer (one request), handing each to `visit` until it answers `Break` or the subject's
    /// last event (when the read began) is read. Not under the subject's lock: for facts that
    /// never change once recorded.
    pub async fn scan<B>(
        &self,
        app: &AppId,
        id: &str,
        from: u64,
        mut visit: impl FnMut(&Event) -> std::ops::ControlFlow<B>,
    ) -> Result<Option<B>, ApiError> {
        let subject = subjects::event(app, A::KIND, id);
        let last = match self.stream.direct_get_last_for_subject(&subject).await {
            Ok(message) => message.sequence,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => return Ok(None),
            Err(e) => return Err(ApiError::unavailable("reading aggregate", e)),
        };
        if from > last {
            return Ok(None);
        }
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                filter_subject: subject.clone(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(|e| ApiError::unavailable("reading aggregate", e))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| ApiError::unavailable("reading aggregate", e))?;
        loop {
            let message = match messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => return Err(ApiError::unavailable("reading aggregate", e)),
                None => return Err(ApiError::unavailable("reading aggregate", "stream ended")),
            };
            let seq = message
                .info()
                .map_err(|e| ApiError::unavailable("reading aggregate", e))?
                .stream_sequence;
            let envelope =
                Envelope::decode(seq, &subject, message.headers.as_ref(), &message.payload)
                    .map_err(|e| {
                        tracing::error!(subject, seq, error = %e, "unreadable event in aggregate");
                        ApiError::new(ErrorCode::Internal, "aggregate holds an unreadable event")
                    })?;
            if let std::ops::ControlFlow::Break(found) = visit(&envelope.event) {
                return Ok(Some(found));
            }
            if seq >= last {
                return Ok(None);
            }
        }
    }

    /// Reads from the state; `fresh` forces a catch-up with the subject first.
    pub async fn read<R>(
        &self,
        app: &AppId,
        id: &str,
        fresh: bool,
        read: impl FnOnce(&A) -> R,
    ) -> Result<R, ApiError> {
        let subject = subjects::event(app, A::KIND, id);
        let slot = self.slot(&subject).await;
        let mut loaded = slot.loaded.lock().await;
        if fresh || !loaded.fresh {
            let key = snapshot::key(A::KIND, app, id);
            let entries = self.catch_up(&key, &subject, &mut loaded).await?;
            self.cache.reweigh(&subject, &slot, entries).await;
        }
        Ok(read(&loaded.state))
    }
}

#[cfg(test)]
mod tests;
