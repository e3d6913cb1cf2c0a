//! What readiness needs from the projector: whether its partitions run, and how far the
//! projection is behind the events stream.

use crate::partition::Partition;
use crate::runner::PROJECTION;
use async_nats::jetstream;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tidings_events::subjects;
use tidings_store::ReadModels;

/// Whether a projector instance is running, shared with the process's readiness check.
#[derive(Debug, Clone, Default)]
pub struct Status {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    running: bool,
    /// Why the instance cannot hold partitions (the lease bucket is unreachable).
    leases: Option<String>,
    /// Partitions this instance runs that are not projecting, with the reason.
    down: BTreeMap<u32, String>,
}

impl Status {
    fn update(&self, change: impl FnOnce(&mut Inner)) {
        change(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.update(|s| s.running = running);
    }

    pub(crate) fn set_leases(&self, problem: Option<String>) {
        self.update(|s| s.leases = problem);
    }

    /// Marks `partition` as not projecting, for `reason`.
    pub(crate) fn partition_down(&self, partition: Partition, reason: String) {
        self.update(|s| {
            s.down.insert(partition.index, reason);
        });
    }

    /// Marks `partition` as projecting, or as no longer this instance's.
    pub(crate) fn partition_clear(&self, partition: Partition) {
        self.update(|s| {
            s.down.remove(&partition.index);
        });
    }

    /// Why the projector is not working, if it is not.
    pub fn problem(&self) -> Option<String> {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !s.running {
            return Some("the projector is not running".to_owned());
        }
        if let Some(leases) = &s.leases {
            return Some(format!("the projector cannot take partitions: {leases}"));
        }
        s.down
            .iter()
            .next()
            .map(|(index, reason)| format!("projector partition {index} is down: {reason}"))
    }
}

/// How many events the projection is behind the events stream: the stream's last sequence
/// minus the lowest checkpoint of the `partitions` partitions (a partition that has not
/// written a checkpoint yet starts from the whole-stream one, as the projector does).
pub async fn lag<S: ReadModels>(
    store: &S,
    js: &jetstream::Context,
    partitions: u32,
) -> anyhow::Result<u64> {
    let last = js
        .get_stream(subjects::EVENTS_STREAM)
        .await?
        .cached_info()
        .state
        .last_sequence;
    let whole = store.checkpoint(PROJECTION).await?;
    let mut lowest = u64::MAX;
    for partition in Partition::all(partitions.max(1)) {
        let mut checkpoint = store.checkpoint(&partition.projection()).await?;
        if checkpoint == 0 {
            checkpoint = whole;
        }
        lowest = lowest.min(checkpoint);
    }
    Ok(last.saturating_sub(lowest))
}
