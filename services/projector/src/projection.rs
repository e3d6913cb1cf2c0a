//! The projection's fold over one batch, shared by the live projector (`runner`) and
//! `tidings replay`: the group rosters the batch needs, the pure per-event fold, and the
//! partition's share of the writes, applied by the store with the batch's checkpoint.

use crate::directory::Directory;
use crate::fold::project;
use crate::partition::Partition;
use crate::rosters;
use async_nats::jetstream::stream::Stream as JsStream;
use tidings_events::Envelope;
use tidings_store::{ReadModels, Write};

/// What a projection carries from one batch to the next.
pub struct Projection {
    directory: Directory,
    large_group: usize,
    partition: Partition,
    /// The events stream, for group rosters a partition cannot read from the store.
    stream: JsStream,
}

impl Projection {
    /// A projection of `partition`'s rows with an empty group directory.
    pub fn new(stream: JsStream, partition: Partition, large_group: usize) -> Self {
        Self {
            directory: Directory::default(),
            large_group,
            partition,
            stream,
        }
    }

    /// The writes of `envelopes`, the events after stream sequence `after` in stream order,
    /// that this partition applies. The envelopes are consumed (and `envelopes` left empty,
    /// its capacity kept for the next batch).
    pub async fn writes<S: ReadModels>(
        &mut self,
        store: &S,
        after: u64,
        envelopes: &mut Vec<Envelope>,
    ) -> anyhow::Result<Vec<Write>> {
        // The store's group rows are this projection's own only with one partition, and
        // current as of the checkpoint only when rows and checkpoint commit together.
        if self.partition == Partition::WHOLE && S::ATOMIC_APPLY {
            self.directory.preload(store, envelopes).await?;
        } else {
            rosters::preload_from_stream(
                &mut self.directory,
                &self.stream,
                after,
                envelopes,
                self.large_group,
            )
            .await?;
        }
        // One vector for the batch, sized for direct messages (a timeline row, and an entry
        // and a conversation row for each of two users); each event pushes its writes onto
        // it. Grown write by write from empty, a batch's thousands of writes (hundreds of
        // bytes each) would be copied at every doubling, each time into fresh pages.
        let mut writes = Vec::with_capacity(envelopes.len() * 5);
        for envelope in envelopes.drain(..) {
            project(envelope, &mut self.directory, self.large_group, &mut writes);
        }
        if self.partition != Partition::WHOLE {
            writes.retain(|write| self.partition.owns_write(write));
        }
        Ok(writes)
    }
}
