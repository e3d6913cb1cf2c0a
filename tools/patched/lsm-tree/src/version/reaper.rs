//! Drops retired super versions on a background thread (Tidings patch, issue 18).
//!
//! A retired super version can hold the last reference to a sealed memtable (a skiplist of
//! tens of megabytes) or to tables whose files are deleted when they are dropped. Dropping
//! them where they are retired, under the tree's version-history write lock, blocks every
//! writer of that tree for as long as the frees and unlinks take (hundreds of milliseconds
//! were measured). Handing them to this thread keeps the lock short.

use super::super_version::SuperVersion;
use std::sync::{mpsc, OnceLock};

static REAPER: OnceLock<mpsc::Sender<SuperVersion>> = OnceLock::new();

/// Drops `version` on the reaper thread (or here, if the thread could not be started).
pub fn bury(version: SuperVersion) {
    let sender = REAPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SuperVersion>();
        // A failed spawn drops `rx` with the closure, so every send below fails and the
        // version is dropped in place, as upstream does.
        let _ = std::thread::Builder::new()
            .name("lsm-reaper".into())
            .spawn(move || {
                for version in rx {
                    drop(version);
                }
            });
        tx
    });
    if let Err(mpsc::SendError(version)) = sender.send(version) {
        drop(version);
    }
}
