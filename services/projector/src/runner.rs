//! Runs the fold over the events stream: a durable pull consumer positioned from the store's
//! checkpoint, batches of whatever is available applied atomically with the checkpoint, an ack
//! after the write, then live pushes of the new inbox entries.

use crate::Config;
use crate::lease::Fence;
use crate::partition::Partition;
use crate::projection::Projection;
use anyhow::Context as _;
use async_nats::jetstream;
use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream as JsStream};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use std::time::Duration;
use tidings_domain::{AppId, UserId};
use tidings_events::definitions::{place_consumer, projector_consumer};
use tidings_events::{Envelope, headers, subjects};
use tidings_runtime::metrics as metrics_names;
use tidings_store::plan::RowCache;
use tidings_store::{ReadModels, Write};

/// The users whose rows `writes` change, once each.
fn changed_users(writes: &[Write]) -> Vec<(AppId, UserId)> {
    let mut users: Vec<(AppId, UserId)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::PutUser { profile, .. } => Some((profile.app.clone(), profile.user.clone())),
            Write::UserStatus { app, user, .. } => Some((app.clone(), user.clone())),
            // A signed-out device's sessions end on this notice when the api's was missed.
            Write::Device { app, user, .. } => Some((app.clone(), user.clone())),
            _ => None,
        })
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Seconds from a Unix time in nanoseconds (a stream message's storing) to now; 0 when the
/// clock reads earlier.
fn seconds_since(unix_nanos: i128) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    (now - unix_nanos).max(0) as f64 / 1e9
}

/// Idle one-second steps after which the projector checks the stream for a stall.
const STALL_CHECK_STEPS: u32 = 5;

/// The projection's name: its checkpoint key (partitions add a suffix) and dead-letter subject.
pub const PROJECTION: &str = "inbox";

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Applied this many new events (redeliveries already covered are not counted).
    Processed(usize),
    /// Nothing arrived within the wait.
    CaughtUp,
}

/// The projector over one store.
pub struct Projector<S> {
    store: S,
    client: async_nats::Client,
    js: jetstream::Context,
    stream: JsStream,
    messages: pull::Stream,
    checkpoint: u64,
    max_batch: usize,
    projection: Projection,
    partition: Partition,
    /// The checkpoint key: the projection name, with the partition's suffix.
    checkpoint_key: String,
    /// The partition's lease, checked before every write; `None` for the whole stream.
    fence: Option<Fence>,
    /// The checkpoint at the last stall check that found the stream ahead of it.
    behind_at: Option<u64>,
    /// The rows earlier batches read or wrote. It lives and dies with this projector: a lease
    /// that moves, or a failure, ends the projector and so the cache.
    rows: RowCache,
}

/// Creates the durable consumer afresh at `checkpoint + 1`. The store's checkpoint is the
/// truth, never the ack floor (`definitions::place_consumer`).
async fn position_consumer(
    stream: &JsStream,
    partition: Partition,
    checkpoint: u64,
) -> anyhow::Result<jetstream::consumer::PullConsumer> {
    let mut config = projector_consumer();
    let name = partition.consumer(config.durable_name.as_deref().expect("durable consumer"));
    config.durable_name = Some(name);
    Ok(place_consumer(stream, config, checkpoint).await?)
}

impl<S: ReadModels> Projector<S> {
    /// Positions the consumer from the store's checkpoint and opens the message stream. A
    /// partition without a checkpoint of its own starts from the whole-stream projection's:
    /// every write is safe to repeat, so any earlier start is correct, only slower.
    pub async fn start(
        store: S,
        client: async_nats::Client,
        config: &Config,
        partition: Partition,
        fence: Option<Fence>,
    ) -> anyhow::Result<Self> {
        let max_batch = config.max_batch;
        let js = jetstream::new(client.clone());
        let stream = js
            .get_stream(subjects::EVENTS_STREAM)
            .await
            .context("opening the events stream")?;
        let checkpoint_key = partition.projection();
        let mut checkpoint = store.checkpoint(&checkpoint_key).await?;
        if checkpoint == 0 && partition != Partition::WHOLE {
            checkpoint = store.checkpoint(PROJECTION).await?;
        }
        let consumer = position_consumer(&stream, partition, checkpoint).await?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(max_batch)
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await?;
        tracing::info!(
            checkpoint,
            partition = partition.index,
            of = partition.count,
            "projector started"
        );
        let projection = Projection::new(stream.clone(), partition, config.large_group);
        Ok(Self {
            store,
            client,
            js,
            stream,
            messages,
            checkpoint,
            max_batch,
            projection,
            partition,
            checkpoint_key,
            fence,
            behind_at: None,
            rows: RowCache::new(config.row_cache),
        })
    }

    /// Waits up to `wait` for events, then applies everything already received (up to the
    /// batch size) in one atomic write.
    pub async fn step(&mut self, wait: Duration) -> anyhow::Result<Step> {
        let first = match tokio::time::timeout(wait, self.messages.next()).await {
            Err(_) => return Ok(Step::CaughtUp),
            Ok(None) => anyhow::bail!("consumer stream ended"),
            Ok(Some(message)) => message.map_err(|e| anyhow::anyhow!("consumer: {e}"))?,
        };
        if let Ok(info) = first.info() {
            metrics::histogram!(metrics_names::PROJECTOR_RECEIVE_SECONDS)
                .record(seconds_since(info.published.unix_timestamp_nanos()));
        }
        let mut batch = vec![first];
        while batch.len() < self.max_batch {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(message))) => batch.push(message),
                Some(Some(Err(e))) => anyhow::bail!("consumer: {e}"),
                Some(None) | None => break,
            }
        }
        self.apply(batch).await
    }

    async fn apply(&mut self, batch: Vec<jetstream::Message>) -> anyhow::Result<Step> {
        let mut envelopes = Vec::with_capacity(batch.len());
        let mut through = self.checkpoint;
        let mut applied = 0;
        for message in &batch {
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("message metadata: {e}"))?
                .stream_sequence;
            if seq <= through {
                continue; // Redelivery of something the store already holds.
            }
            if seq > through + 1 {
                self.check_gap(through + 1, seq).await?;
            }
            match Envelope::decode(
                seq,
                &message.subject,
                message.headers.as_ref(),
                &message.payload,
            ) {
                Ok(envelope) => envelopes.push(envelope),
                Err(error) if self.partition.owns_subject(&message.subject) => {
                    self.dead_letter(message, seq, &error.to_string()).await?
                }
                Err(error) => {
                    tracing::debug!(seq, %error, "unreadable event (another partition parks it)")
                }
            }
            through = seq;
            applied += 1;
        }
        let folding = std::time::Instant::now();
        let writes = self
            .projection
            .writes(&self.store, self.checkpoint, &mut envelopes)
            .await?;
        metrics::histogram!(metrics_names::PROJECTOR_FOLD_SECONDS)
            .record(folding.elapsed().as_secs_f64());
        if through > self.checkpoint {
            if let Some(fence) = &self.fence {
                anyhow::ensure!(fence.holds(), "the partition's lease lapsed");
            }
            let changed_users = changed_users(&writes);
            let broadcasts = crate::broadcast_push::stored(&writes);
            let started = std::time::Instant::now();
            let deliveries = self
                .store
                .apply_cached(&mut self.rows, &self.checkpoint_key, through, writes)
                .await?;
            metrics::histogram!(metrics_names::STORE_COMMIT_SECONDS)
                .record(started.elapsed().as_secs_f64());
            self.checkpoint = through;
            crate::entry_push::publish(&self.client, deliveries).await;
            crate::broadcast_push::publish(&self.client, broadcasts).await;
            self.announce(changed_users).await;
        }
        metrics::histogram!(metrics_names::PROJECTOR_BATCH).record(batch.len() as f64);
        if let Some(info) = batch.last().and_then(|last| last.info().ok()) {
            let lag = metrics::gauge!(metrics_names::PROJECTOR_LAG, "projection" => self.checkpoint_key.clone());
            lag.set(info.pending as f64);
        }
        // Ack only after the write: a crash before it redelivers, and replay is harmless.
        if let Some(last) = batch.last() {
            last.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
        Ok(Step::Processed(applied))
    }

    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        seq: u64,
        reason: &str,
    ) -> anyhow::Result<()> {
        tracing::error!(seq, subject = %message.subject, reason, "unreadable event parked on the dead-letter stream");
        let mut h = message.headers.clone().unwrap_or_default();
        h.insert(headers::DEAD_LETTER_REASON, reason);
        h.insert(headers::DEAD_LETTER_SEQ, seq.to_string().as_str());
        h.insert(headers::DEAD_LETTER_SUBJECT, message.subject.as_str());
        self.js
            .publish_with_headers(
                subjects::dead_letter_event(PROJECTION),
                h,
                message.payload.clone(),
            )
            .await?
            .await?;
        metrics::counter!(metrics_names::DEAD_LETTERS, "source" => "projector").increment(1);
        Ok(())
    }

    /// Fails when the stream holds an event in `from..to` that the consumer skipped. After a
    /// NATS node dies, events delivered through it are lost in flight while the consumer has
    /// counted them as delivered; acknowledging a later event (the ack policy is `all`) would
    /// then acknowledge them unseen, so the projection restarts from its checkpoint instead.
    /// Missing events deleted from the stream are a legitimate gap. Only the gap's ends are
    /// probed (events lost in flight are a run, and a purge may leave millions missing).
    async fn check_gap(&self, from: u64, to: u64) -> anyhow::Result<()> {
        for seq in [from, to - 1] {
            match self.stream.get_raw_message(seq).await {
                Ok(_) => anyhow::bail!(
                    "the consumer skipped event {seq} (delivered {to} after {})",
                    from - 1
                ),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
                Err(e) => return Err(anyhow::anyhow!("checking a gap at {seq}: {e}")),
            }
        }
        Ok(())
    }

    /// Tells caches of user rows (gateways) which rows changed.
    async fn announce(&self, users: Vec<(AppId, UserId)>) {
        for (app, user) in users {
            if let Err(error) = self
                .client
                .publish(subjects::user_changed(&app, &user), Bytes::new())
                .await
            {
                tracing::warn!(%error, "user change notice failed");
            }
        }
    }

    /// Fails when the stream has held events past the checkpoint for a whole check interval
    /// although none arrived: a pull consumer can stall silently when its leader moves to
    /// another node, and a restart repositions it from the checkpoint. One look is not enough:
    /// an event published just before it is in the stream but not yet delivered.
    async fn check_not_stalled(&mut self) -> anyhow::Result<()> {
        let last = self.stream.info().await?.state.last_sequence;
        if last <= self.checkpoint {
            self.behind_at = None;
            return Ok(());
        }
        anyhow::ensure!(
            self.behind_at != Some(self.checkpoint),
            "consumer stalled: the stream is at {last}, the projection still at {}",
            self.checkpoint
        );
        self.behind_at = Some(self.checkpoint);
        Ok(())
    }

    /// Runs until `shutdown` resolves.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        let mut idle_steps = 0;
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                step = self.step(Duration::from_secs(1)) => match step? {
                    Step::Processed(applied) if applied > 0 => idle_steps = 0,
                    // Nothing new, or only redeliveries of what the store already holds.
                    Step::Processed(_) | Step::CaughtUp => {
                        idle_steps += 1;
                        if idle_steps >= STALL_CHECK_STEPS {
                            idle_steps = 0;
                            self.check_not_stalled().await?;
                        }
                    }
                },
            }
        }
    }
}
