//! What readiness needs from the projector: whether its partitions run, and how far the
//! projection is behind the events stream.

use crate::partition::Partition;
use crate::runner::PROJECTION;
use async_nats::jetstream;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tidings_events::subjects;
use tidings_store::ReadModels;

/// Whether a projector instance is running, shared with the process's readiness check. It
/// says what is down, not why: readiness answers anyone who asks, and the reasons are in the
/// log, where the failures are handled.
#[derive(Debug, Clone, Default)]
pub struct Status {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    running: bool,
    /// The instance cannot hold partitions (the lease bucket is unreachable).
    leases_down: bool,
    /// Partitions this instance runs that are not projecting.
    down: BTreeSet<u32>,
}

impl Status {
    fn update(&self, change: impl FnOnce(&mut Inner)) {
        change(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.update(|s| s.running = running);
    }

    pub(crate) fn set_leases_down(&self, down: bool) {
        self.update(|s| s.leases_down = down);
    }

    /// Marks `partition` as not projecting (starting, or failed and waiting to restart).
    pub(crate) fn partition_down(&self, partition: Partition) {
        self.update(|s| {
            s.down.insert(partition.index);
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
        if s.leases_down {
            return Some("the projector cannot reach its partition leases".to_owned());
        }
        s.down
            .first()
            .map(|index| format!("projector partition {index} is not running"))
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
    let mut checkpoints = Vec::new();
    for partition in Partition::all(partitions.max(1)) {
        checkpoints.push(store.checkpoint(&partition.projection()).await?);
    }
    Ok(lag_behind(last, whole, &checkpoints))
}

/// `last` minus the lowest of the partitions' `checkpoints`, where a partition at 0 counts as
/// being at `whole` (it starts there).
fn lag_behind(last: u64, whole: u64, checkpoints: &[u64]) -> u64 {
    let lowest = checkpoints
        .iter()
        .map(|&c| if c == 0 { whole } else { c })
        .min()
        .unwrap_or(whole);
    last.saturating_sub(lowest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_the_stream_ahead_of_the_slowest_partition() {
        // One projector over the whole stream: its checkpoint is the whole-stream one.
        assert_eq!(lag_behind(10, 7, &[7]), 3);
        assert_eq!(lag_behind(10, 10, &[10]), 0);
        // A partition that has not written yet starts from the whole-stream checkpoint.
        assert_eq!(lag_behind(10, 6, &[9, 0, 8]), 4);
        assert_eq!(lag_behind(10, 0, &[9, 0]), 10);
        // A checkpoint past the stream (a stream purged and recreated) is not negative lag.
        assert_eq!(lag_behind(5, 0, &[9]), 0);
    }

    #[test]
    fn status_names_what_is_down() {
        let status = Status::default();
        assert!(status.problem().unwrap().contains("not running"));
        status.set_running(true);
        assert_eq!(status.problem(), None);
        let p1 = Partition { index: 1, count: 4 };
        status.partition_down(p1);
        assert!(status.problem().unwrap().contains("partition 1"));
        status.partition_clear(p1);
        assert_eq!(status.problem(), None);
        status.set_leases_down(true);
        assert!(status.problem().unwrap().contains("leases"));
        status.set_leases_down(false);
        assert_eq!(status.problem(), None);
    }
}
