//! What a conversation remembers about its messages for recall, edit and what comes after them
//! (reactions, pins, replies): the immutable facts of its newest messages (`recent`), a sparse
//! index of where older ones sit in the events stream (`marks`), and the notes that change
//! (`notes`: recalled, edits).
//!
//! Messages are addressed by `msg_id` everywhere a client or app server names one. A message
//! among the newest [`RECENT_FACTS`] is found in `recent`; an older one is read from the
//! conversation's subject, starting at [`Marks::scan_from`] (the last mark older than the id's
//! UUIDv7 time) and reading forward to its `message_sent`: a message's `ts` is never less than
//! its id's time and `ts` does not decrease along `conv_seq`, so the target lies after that
//! mark, at most [`MARK_EVERY`] messages on unless clocks were skewed.

use crate::event::{MessageEdited, MessageRecalled, MessageSent};
use crate::{BodyKind, MessageId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How many of the newest messages' facts a conversation keeps.
pub const RECENT_FACTS: usize = 512;
/// A mark is kept for every this many messages (those with `conv_seq % MARK_EVERY == 1`).
pub const MARK_EVERY: u64 = 256;
/// How far past a message id's time (ms) a scan for it reads before giving up: the clock skew
/// between api instances that may have recorded messages before it.
pub const SCAN_SKEW_MS: i64 = 10 * 60 * 1000;

/// The facts of one message: fixed at its send, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFacts {
    pub conv_seq: u64,
    /// As 16 bytes: the facts live in snapshots.
    #[serde(with = "crate::ids::message_id_bytes")]
    pub msg_id: MessageId,
    pub from: UserId,
    pub ts: i64,
    pub kind: BodyKind,
}

impl From<&MessageSent> for MessageFacts {
    fn from(m: &MessageSent) -> Self {
        MessageFacts {
            conv_seq: m.conv_seq,
            msg_id: m.msg_id.clone(),
            from: m.from.clone(),
            ts: m.ts,
            kind: m.body.kind(),
        }
    }
}

/// What has happened to a message since its send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Who recalled it and when. Always written: snapshots are positional.
    #[serde(default)]
    pub recalled: Option<Recall>,
    /// How many times it was edited (0: never).
    #[serde(default)]
    pub edit_seq: u64,
    /// When it was last edited (ms; 0: never).
    #[serde(default)]
    pub edited_at: i64,
}

/// A recall as the note keeps it: `by` is `None` for the app server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recall {
    pub by: Option<UserId>,
    pub ts: i64,
}

/// Where one message's `message_sent` sits in the events stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub conv_seq: u64,
    pub stream_seq: u64,
    pub ts: i64,
}

/// Where to read a conversation's subject from to find a message that is not in `recent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanStart {
    /// The first stream sequence to read (1: the subject's start).
    pub stream_seq: u64,
    /// Stop once a message newer than this (ms) is read without finding the target.
    pub until_ts: i64,
}

/// The newest messages' facts, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recent(VecDeque<MessageFacts>);

impl Recent {
    pub(crate) fn push(&mut self, facts: MessageFacts) {
        if self.0.len() == RECENT_FACTS {
            self.0.pop_front();
        }
        self.0.push_back(facts);
    }

    /// The facts of `msg_id`, if it is among the newest messages.
    pub fn by_msg_id(&self, msg_id: &MessageId) -> Option<&MessageFacts> {
        // Newest first: the messages acted on are mostly the latest.
        self.0.iter().rev().find(|f| &f.msg_id == msg_id)
    }

    /// The facts of the message at `conv_seq`, if it is among the newest messages.
    pub fn by_conv_seq(&self, conv_seq: u64) -> Option<&MessageFacts> {
        let first = self.0.front()?.conv_seq;
        let at = conv_seq.checked_sub(first)?;
        self.0
            .get(usize::try_from(at).ok()?)
            .filter(|f| f.conv_seq == conv_seq)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// The sparse index of where messages sit in the events stream, by `conv_seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Marks(Vec<Mark>);

impl Marks {
    /// Records `message` at `stream_seq` if it is one of the marked messages.
    pub(crate) fn record(&mut self, message: &MessageSent, stream_seq: u64) {
        let newer = self.0.last().is_none_or(|m| m.conv_seq < message.conv_seq);
        if message.conv_seq % MARK_EVERY == 1 && stream_seq > 0 && newer {
            self.0.push(Mark {
                conv_seq: message.conv_seq,
                stream_seq,
                ts: message.ts,
            });
        }
    }

    /// Where to start reading for the message `msg_id`: at the last mark strictly older than
    /// the id's time (every message at or after it is later by `conv_seq`), else at the
    /// subject's start.
    pub fn scan_from(&self, msg_id: &MessageId) -> ScanStart {
        let born = msg_id.millis();
        let below = self.0.partition_point(|m| m.ts < born);
        ScanStart {
            stream_seq: below.checked_sub(1).map_or(1, |at| self.0[at].stream_seq),
            until_ts: born.saturating_add(SCAN_SKEW_MS),
        }
    }

    /// Where to start reading for the message at `conv_seq`: the mark at or below it.
    pub fn scan_from_conv_seq(&self, conv_seq: u64) -> u64 {
        let below = self.0.partition_point(|m| m.conv_seq <= conv_seq);
        below.checked_sub(1).map_or(1, |at| self.0[at].stream_seq)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// The notes of every message something happened to, by `conv_seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notes(BTreeMap<u64, Note>);

impl Notes {
    /// The note of the message at `conv_seq` (the default: nothing happened to it).
    pub fn get(&self, conv_seq: u64) -> Note {
        self.0.get(&conv_seq).cloned().unwrap_or_default()
    }

    pub(crate) fn recalled(&mut self, r: &MessageRecalled) {
        let note = self.0.entry(r.conv_seq).or_default();
        if note.recalled.is_none() {
            note.recalled = Some(Recall {
                by: r.by.clone(),
                ts: r.ts,
            });
        }
    }

    pub(crate) fn edited(&mut self, e: &MessageEdited) {
        let note = self.0.entry(e.conv_seq).or_default();
        if e.edit_seq > note.edit_seq {
            note.edit_seq = e.edit_seq;
            note.edited_at = e.ts;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(millis: i64, n: u64) -> MessageId {
        let hex = format!("{millis:012x}");
        MessageId::parse(format!("{}-{}-7000-8000-{n:012x}", &hex[..8], &hex[8..12])).unwrap()
    }

    fn facts(conv_seq: u64) -> MessageFacts {
        MessageFacts {
            conv_seq,
            msg_id: id(1_000 + conv_seq as i64, conv_seq),
            from: UserId::parse("alice").unwrap(),
            ts: 1_000 + conv_seq as i64,
            kind: BodyKind::Text,
        }
    }

    #[test]
    fn recent_keeps_the_newest_and_finds_them_both_ways() {
        let mut recent = Recent::default();
        for seq in 1..=(RECENT_FACTS as u64 + 10) {
            recent.push(facts(seq));
        }
        assert_eq!(recent.len(), RECENT_FACTS);
        assert_eq!(recent.by_conv_seq(10), None);
        assert_eq!(recent.by_conv_seq(11), Some(&facts(11)));
        assert_eq!(recent.by_msg_id(&facts(11).msg_id), Some(&facts(11)));
        assert_eq!(recent.by_msg_id(&facts(10).msg_id), None);
    }

    #[test]
    fn a_scan_starts_at_the_last_mark_older_than_the_id() {
        let marks = Marks(vec![
            Mark {
                conv_seq: 1,
                stream_seq: 10,
                ts: 100,
            },
            Mark {
                conv_seq: 257,
                stream_seq: 900,
                ts: 200,
            },
        ]);
        assert_eq!(marks.scan_from(&id(50, 1)).stream_seq, 1);
        assert_eq!(marks.scan_from(&id(100, 1)).stream_seq, 1, "same ms");
        assert_eq!(marks.scan_from(&id(150, 1)).stream_seq, 10);
        assert_eq!(marks.scan_from(&id(201, 1)).stream_seq, 900);
        assert_eq!(marks.scan_from(&id(201, 1)).until_ts, 201 + SCAN_SKEW_MS);
        assert_eq!(marks.scan_from_conv_seq(256), 10);
        assert_eq!(marks.scan_from_conv_seq(257), 900);
    }
}
