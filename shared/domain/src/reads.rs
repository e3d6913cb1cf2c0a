//! The `reads` aggregate: how far one user has read each of their conversations. Its own
//! subject per user, so frequent read markers never contend with message sends.

use crate::aggregate::{Aggregate, Snapshotted};
use crate::event::{ConversationRead, Event};
use crate::{AppId, ConvId, DomainError, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A user's read positions, folded from their reads subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadState {
    read: HashMap<ConvId, u64>,
}

impl ReadState {
    /// How far `conv` is read, 0 when never.
    pub fn read_seq(&self, conv: &ConvId) -> u64 {
        self.read.get(conv).copied().unwrap_or(0)
    }
}

/// Marks `conv` read up to `conv_seq`, which must exist. Moving backwards is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkRead {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub conv_seq: u64,
    /// The conversation's newest `conv_seq`, read from its aggregate beforehand.
    pub last_conv_seq: u64,
    pub ts: i64,
}

impl Aggregate for ReadState {
    const KIND: &'static str = "reads";
    type Command = MarkRead;

    fn decide(&self, cmd: &MarkRead) -> Result<Vec<Event>, DomainError> {
        if cmd.conv_seq == 0 || cmd.conv_seq > cmd.last_conv_seq {
            return Err(DomainError::Invalid(format!(
                "conv_seq must be 1-{} for {}",
                cmd.last_conv_seq, cmd.conv
            )));
        }
        if cmd.conv_seq <= self.read_seq(&cmd.conv) {
            return Ok(Vec::new());
        }
        Ok(vec![Event::ConversationRead(ConversationRead {
            app: cmd.app.clone(),
            user: cmd.user.clone(),
            conv: cmd.conv.clone(),
            conv_seq: cmd.conv_seq,
            ts: cmd.ts,
        })])
    }

    fn apply(&mut self, event: &Event) {
        if let Event::ConversationRead(r) = event {
            let seq = self.read.entry(r.conv.clone()).or_default();
            *seq = (*seq).max(r.conv_seq);
        }
    }
}

impl Snapshotted for ReadState {
    const SNAPSHOT_FORMAT: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_move_forward_within_the_conversation() {
        let conv = ConvId::parse("d~u~v").unwrap();
        let mark = |conv_seq| MarkRead {
            app: AppId::parse("a").unwrap(),
            user: UserId::parse("u").unwrap(),
            conv: conv.clone(),
            conv_seq,
            last_conv_seq: 3,
            ts: 1,
        };
        let mut state = ReadState::default();
        assert!(state.decide(&mark(4)).is_err());
        assert!(state.decide(&mark(0)).is_err());
        for e in state.decide(&mark(2)).unwrap() {
            state.apply(&e);
        }
        assert_eq!(state.read_seq(&conv), 2);
        assert!(state.decide(&mark(1)).unwrap().is_empty());
        assert_eq!(state.decide(&mark(3)).unwrap().len(), 1);
    }
}
