//! `tidings replay`: rebuild the read models from stream sequence 1 into an empty store of any
//! kind, through the projector's own fold (`tidings_projector::Projection`) and the store's
//! own apply, then print the store's digest.

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};
use tidings_events::{Envelope, subjects};
use tidings_projector::{PROJECTION, Partition, Projection};
use tidings_store::plan::RowCache;
use tidings_store::{ReadModels, Write};

/// Events applied per store write during a replay.
const BATCH: usize = 2048;

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub events: u64,
    pub unreadable: u64,
    pub through_seq: u64,
    pub digest: String,
    /// How long the rebuild took, from the first read of the stream to the last write applied.
    pub rebuild: Duration,
    /// How long the digest of the rebuilt read models took.
    pub digest_time: Duration,
}

/// Replays every event up to the stream's last sequence (at start) into `store`, which must
/// hold no projection yet.
pub async fn replay<S: ReadModels>(
    client: &async_nats::Client,
    store: S,
    large_group: usize,
    row_cache: usize,
    show_progress: bool,
) -> anyhow::Result<Report> {
    anyhow::ensure!(
        store.checkpoint(PROJECTION).await? == 0,
        "the target store already holds a projection: replay needs an empty one"
    );
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(subjects::EVENTS_STREAM).await?;
    let last = stream.info().await?.state.last_sequence;
    let bar = if show_progress {
        ProgressBar::new(last).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
                .expect("valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let mut report = Report {
        events: 0,
        unreadable: 0,
        through_seq: 0,
        digest: String::new(),
        rebuild: Duration::ZERO,
        digest_time: Duration::ZERO,
    };
    let started = Instant::now();
    if last > 0 {
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                filter_subject: subjects::ALL_EVENTS.into(),
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        let mut projection = Projection::new(stream.clone(), Partition::WHOLE, large_group);
        let mut envelopes = Vec::new();
        // The folded position: the last event of the batch before the one being read.
        let mut folded = 0;
        // Store writes run in their own task, a batch behind the reading and folding: the two
        // overlap instead of taking turns. Groups first seen in a batch still being written
        // are already in the projection's directory, so a batch never needs that one's rows.
        let (batches, mut pending) = tokio::sync::mpsc::channel::<(u64, Vec<Write>)>(2);
        let writer = {
            let (store, bar) = (store.clone(), bar.clone());
            let mut rows = RowCache::new(row_cache);
            tokio::spawn(async move {
                while let Some((seq, writes)) = pending.recv().await {
                    store
                        .apply_cached(&mut rows, PROJECTION, seq, writes)
                        .await?;
                    bar.set_position(seq);
                }
                anyhow::Ok(())
            })
        };
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| anyhow::anyhow!("reading the stream: {e}"))?;
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("message metadata: {e}"))?
                .stream_sequence;
            match Envelope::decode(
                seq,
                &message.subject,
                message.headers.as_ref(),
                &message.payload,
            ) {
                Ok(envelope) => envelopes.push(envelope),
                Err(error) => {
                    tracing::warn!(seq, %error, "unreadable event skipped (the live projector dead-letters it)");
                    report.unreadable += 1;
                }
            }
            report.events += 1;
            report.through_seq = seq;
            if envelopes.len() >= BATCH || seq >= last {
                let writes = projection.writes(&store, folded, &mut envelopes).await?;
                folded = seq;
                if batches.send((seq, writes)).await.is_err() {
                    break; // The writer failed: its error is returned below.
                }
            }
            if seq >= last {
                break;
            }
        }
        drop(batches);
        writer.await??;
    }
    bar.finish_and_clear();
    report.rebuild = started.elapsed();
    let digest_started = Instant::now();
    report.digest = store.digest().await?;
    report.digest_time = digest_started.elapsed();
    Ok(report)
}
