//! Reactions and pins as the read models keep them: one reaction row per (conv, conv_seq, key,
//! user), one pin row per pinned message, and per recipient of reaction entries a mark of what
//! they were last told, so an entry is written only when a reaction really changes.
//!
//! A reaction event is recorded for every request (the conversation does not hold reactions per
//! user), so "one per user per key, a repeat is a no-op" is kept here. The decision whether an
//! event changed anything must be taken where the entry is numbered, in the recipient's
//! partition, while the reaction row is the conversation's: so each recipient keeps a mark
//! (`ReactionMark`) of the last state they were told, and the planner delivers only when it
//! flips. Every partition folds the same events in stream order, so the marks, and the
//! entries, are the same in every layout and on replay.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tidings_domain::{ConvId, MessageId, UserId};

/// One user's reaction `key` on the message at `conv_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionRow {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub key: String,
    pub user: UserId,
    /// When it was added (ms).
    pub ts: i64,
}

/// What a recipient was last told of one user's reaction `key` on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionMark {
    pub added: bool,
    /// The stream sequence of the event that told them.
    pub cursor: u64,
}

impl ReactionMark {
    /// Whether an event at `cursor` that sets the reaction to `added` tells the recipient
    /// something new. An event whose cursor the mark already holds is a batch repeated over
    /// rows written ahead of their checkpoint (stores whose commit is not atomic): it is
    /// delivered again, and the inbox's own cursor check drops the copy if it was written.
    pub fn changes(mark: Option<ReactionMark>, added: bool, cursor: u64) -> bool {
        match mark {
            None => added,
            Some(m) => m.added != added || m.cursor == cursor,
        }
    }
}

/// A pinned message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRow {
    pub conv_seq: u64,
    pub msg_id: MessageId,
    /// Who pinned it; absent for the app server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
    pub ts: i64,
}

/// A message's reactions as a history row shows them to one reader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionSummary {
    /// How many users reacted with each key.
    pub counts: BTreeMap<String, u64>,
    /// The keys the reader reacted with.
    pub mine: Vec<String>,
}

/// Sums reaction rows into per-message summaries for `reader`.
pub fn summarize(rows: &[ReactionRow], reader: &UserId) -> BTreeMap<u64, ReactionSummary> {
    let mut out: BTreeMap<u64, ReactionSummary> = BTreeMap::new();
    for row in rows {
        let summary = out.entry(row.conv_seq).or_default();
        *summary.counts.entry(row.key.clone()).or_default() += 1;
        if &row.user == reader {
            summary.mine.push(row.key.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_changes_only_when_the_state_flips_or_the_event_repeats() {
        assert!(ReactionMark::changes(None, true, 5));
        assert!(!ReactionMark::changes(None, false, 5), "removing nothing");
        let added = Some(ReactionMark {
            added: true,
            cursor: 5,
        });
        assert!(!ReactionMark::changes(added, true, 6), "a second add");
        assert!(
            ReactionMark::changes(added, true, 5),
            "the same event again"
        );
        assert!(ReactionMark::changes(added, false, 7));
    }
}
