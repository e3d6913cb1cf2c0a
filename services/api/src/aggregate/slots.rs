//! The aggregate cache, bounded by what its states hold rather than by their number: each
//! cached aggregate weighs one unit, plus one per [`ENTRIES_PER_UNIT`] entries its state holds
//! (`Snapshotted::snapshot_weight`: a conversation's idempotency record, message facts and
//! marks, a group's roster). A busy conversation (~2,600 entries; ~0.5 MB in memory by an
//! estimate from the entries' fields) then counts as ~160 small aggregates, so
//! `aggregate_cache` bounds the memory, not only the count.
//!
//! moka weighs an entry when it is inserted, while a state grows after it: a slot is weighed
//! again (inserted anew) each time its state has doubled since it was last weighed, a handful
//! of times in a conversation's life.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::Mutex;

/// A state's entries per cache unit, beyond the aggregate's own unit.
pub const ENTRIES_PER_UNIT: u64 = 16;

/// What a state of `entries` entries weighs in the cache.
pub fn units(entries: u64) -> u32 {
    u32::try_from(1 + entries / ENTRIES_PER_UNIT).unwrap_or(u32::MAX)
}

/// One cached aggregate: its state under the subject's lock, and its last weight.
pub struct Slot<T> {
    pub loaded: Mutex<T>,
    weighed: AtomicU32,
}

/// The cache of one aggregate kind's slots.
pub struct Slots<T> {
    cache: moka::future::Cache<String, Arc<Slot<T>>>,
}

impl<T: Send + Sync + 'static> Slots<T> {
    /// A cache holding up to `capacity` units.
    pub fn new(capacity: u64) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(capacity)
            .weigher(|_subject: &String, slot: &Arc<Slot<T>>| slot.weighed.load(Ordering::Relaxed))
            .build();
        Self { cache }
    }

    /// The subject's slot, made with `empty` when it is not cached.
    pub async fn get_or(&self, subject: &str, empty: impl FnOnce() -> T) -> Arc<Slot<T>> {
        self.cache
            .get_with_by_ref(subject, async {
                Arc::new(Slot {
                    loaded: Mutex::new(empty()),
                    weighed: AtomicU32::new(units(0)),
                })
            })
            .await
    }

    /// Records that `slot`'s state now holds `entries`, and has the cache weigh it again when
    /// that is twice what it was weighed at. A slot the cache no longer holds (evicted while
    /// a command used it) is not brought back.
    pub async fn reweigh(&self, subject: &str, slot: &Arc<Slot<T>>, entries: u64) {
        let units = units(entries);
        if units < slot.weighed.load(Ordering::Relaxed).saturating_mul(2) {
            return;
        }
        slot.weighed.store(units, Ordering::Relaxed);
        let held = self.cache.get(subject).await;
        if held.is_some_and(|held| Arc::ptr_eq(&held, slot)) {
            self.cache.insert(subject.to_owned(), slot.clone()).await;
        }
    }

    /// The units the cache holds, once its pending work is done.
    #[cfg(test)]
    pub async fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }
}
