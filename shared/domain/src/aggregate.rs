//! The one shape every aggregate has: a state folded from its subject's events (`apply`) and a
//! pure `decide` that turns a command into the events to record, or refuses it.
//!
//! A command's answer is not returned by `decide`. It is a query of the state after the
//! decided events are applied: a send is answered with the receipt the state now holds for its
//! (sender, client_msg_id), whether this decision recorded it or an earlier one did (a retry
//! decides no events); a group change with the group as it now is. So `decide` stays
//! `command -> events`, a retry and a first attempt share one path, and the caller (the api's
//! repository) decides, publishes and answers under one lock on one state.
//!
//! `decide` borrows its command: after a write conflict the repository catches up with the
//! subject and decides the same command again, on the newer state.
//!
//! A command carries everything its decision needs that the aggregate's own events do not:
//! the ids and time chosen by the caller (the domain has no clock), the app's limits and
//! policies, and facts read from other aggregates beforehand.

use crate::{DomainError, Event};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A consistency boundary: one subject's events fold into its state, commands are decided on it.
pub trait Aggregate: Default {
    /// The aggregate kind, the third token of its subjects (`tid.evt.<app>.<kind>.<id>`).
    const KIND: &'static str;
    /// What may be asked of this aggregate.
    type Command;

    /// The events that carry out `command` on this state (none for a no-op), or why it is
    /// refused. Pure: no clock, no IO.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Event>, DomainError>;

    /// Folds one event of the aggregate's subject into the state. Must be deterministic: the
    /// same events in the same order always give the same state, whatever came before them
    /// in memory (a snapshot restored, a cache, a replay from the start).
    fn apply(&mut self, event: &Event);

    /// Folds one event that sits at `stream_seq` in the events stream. The repository calls
    /// this, never `apply`, when it folds a subject or publishes a decision, so an aggregate
    /// may index where its events are (the `conv` aggregate's marks, for looking up old
    /// messages in its subject). Same determinism as `apply`.
    fn apply_at(&mut self, event: &Event, stream_seq: u64) {
        let _ = stream_seq;
        self.apply(event);
    }
}

/// An aggregate whose state may be saved and restored instead of folded again from its first
/// event. A restored snapshot plus the events after it must give the state a full fold gives.
pub trait Snapshotted: Aggregate + Serialize + DeserializeOwned {
    /// The format of the serialized state. Bump it whenever the state's shape or the meaning of
    /// `apply` changes: snapshots of any other format are ignored (the subject is folded).
    const SNAPSHOT_FORMAT: u32;

    /// Roughly how many entries a snapshot of this state holds (0: small). Snapshots are
    /// written at most once per half that many events, so a large state (a busy
    /// conversation's idempotency record) costs a few entries' bytes per event to keep, and a
    /// cold load still reads O(recent) events.
    fn snapshot_weight(&self) -> u64 {
        0
    }
}
