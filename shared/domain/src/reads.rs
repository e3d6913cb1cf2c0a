//! The `reads` aggregate: one user's markers over their conversations: how far each is read,
//! and what the user removed from their own view (messages hidden, conversations cleared up to
//! a `conv_seq`). Its own subject per user, so these markers never contend with message sends,
//! and they change nobody else's view.

use crate::aggregate::{Aggregate, Snapshotted};
use crate::event::{ConversationCleared, ConversationRead, Event, MessageHidden};
use crate::{AppId, ConvId, DeviceId, DomainError, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// A user's read positions and removals, folded from their reads subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadState {
    read: HashMap<ConvId, u64>,
    /// Per conversation, everything up to this `conv_seq` is cleared.
    #[serde(default)]
    cleared: HashMap<ConvId, u64>,
    /// Per conversation, messages hidden above its cleared mark (a clear drops the ones below).
    #[serde(default)]
    hidden: HashMap<ConvId, BTreeSet<u64>>,
}

impl ReadState {
    /// How far `conv` is read, 0 when never.
    pub fn read_seq(&self, conv: &ConvId) -> u64 {
        self.read.get(conv).copied().unwrap_or(0)
    }

    /// Up to which `conv_seq` the user cleared `conv`, 0 when never.
    pub fn cleared_up_to(&self, conv: &ConvId) -> u64 {
        self.cleared.get(conv).copied().unwrap_or(0)
    }

    /// Whether the user no longer sees message `conv_seq` of `conv` (hidden, or cleared).
    pub fn removed(&self, conv: &ConvId, conv_seq: u64) -> bool {
        conv_seq <= self.cleared_up_to(conv)
            || self.hidden.get(conv).is_some_and(|h| h.contains(&conv_seq))
    }
}

/// What the facts of the conversation, read from its aggregate beforehand, say about a marker
/// at `conv_seq`: it must name a message that exists.
fn check_exists(conv: &ConvId, conv_seq: u64, last_conv_seq: u64) -> Result<(), DomainError> {
    if conv_seq == 0 || conv_seq > last_conv_seq {
        return Err(DomainError::Invalid(format!(
            "conv_seq must be 1-{last_conv_seq} for {conv}"
        )));
    }
    Ok(())
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
    /// The device reading, when the read came from one.
    pub device: Option<DeviceId>,
    pub ts: i64,
}

/// Hides message `conv_seq` of `conv` from the user's own view; it must exist. Hiding a
/// message already hidden or cleared is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HideMessage {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub conv_seq: u64,
    /// The conversation's newest `conv_seq`, read from its aggregate beforehand.
    pub last_conv_seq: u64,
    pub ts: i64,
}

/// Clears `conv` from the user's own view up to `up_to`, which must exist. A mark at or below
/// the current one is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearConversation {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub up_to: u64,
    /// The conversation's newest `conv_seq`, read from its aggregate beforehand.
    pub last_conv_seq: u64,
    pub ts: i64,
}

/// What may be asked of a user's markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadsCommand {
    Read(MarkRead),
    Hide(HideMessage),
    Clear(ClearConversation),
}

impl Aggregate for ReadState {
    const KIND: &'static str = "reads";
    type Command = ReadsCommand;

    fn decide(&self, cmd: &ReadsCommand) -> Result<Vec<Event>, DomainError> {
        match cmd {
            ReadsCommand::Read(cmd) => {
                check_exists(&cmd.conv, cmd.conv_seq, cmd.last_conv_seq)?;
                if cmd.conv_seq <= self.read_seq(&cmd.conv) {
                    return Ok(Vec::new());
                }
                Ok(vec![Event::ConversationRead(ConversationRead {
                    app: cmd.app.clone(),
                    user: cmd.user.clone(),
                    conv: cmd.conv.clone(),
                    conv_seq: cmd.conv_seq,
                    device: cmd.device.clone(),
                    ts: cmd.ts,
                })])
            }
            ReadsCommand::Hide(cmd) => {
                check_exists(&cmd.conv, cmd.conv_seq, cmd.last_conv_seq)?;
                if self.removed(&cmd.conv, cmd.conv_seq) {
                    return Ok(Vec::new());
                }
                Ok(vec![Event::MessageHidden(MessageHidden {
                    app: cmd.app.clone(),
                    user: cmd.user.clone(),
                    conv: cmd.conv.clone(),
                    conv_seq: cmd.conv_seq,
                    ts: cmd.ts,
                })])
            }
            ReadsCommand::Clear(cmd) => {
                check_exists(&cmd.conv, cmd.up_to, cmd.last_conv_seq)?;
                if cmd.up_to <= self.cleared_up_to(&cmd.conv) {
                    return Ok(Vec::new());
                }
                Ok(vec![Event::ConversationCleared(ConversationCleared {
                    app: cmd.app.clone(),
                    user: cmd.user.clone(),
                    conv: cmd.conv.clone(),
                    up_to: cmd.up_to,
                    ts: cmd.ts,
                })])
            }
        }
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::ConversationRead(r) => {
                let seq = self.read.entry(r.conv.clone()).or_default();
                *seq = (*seq).max(r.conv_seq);
            }
            Event::MessageHidden(h) if h.conv_seq > self.cleared_up_to(&h.conv) => {
                self.hidden
                    .entry(h.conv.clone())
                    .or_default()
                    .insert(h.conv_seq);
            }
            Event::ConversationCleared(c) => {
                let up_to = self.cleared.entry(c.conv.clone()).or_default();
                *up_to = (*up_to).max(c.up_to);
                let up_to = *up_to;
                if let Some(hidden) = self.hidden.get_mut(&c.conv) {
                    *hidden = hidden.split_off(&(up_to + 1));
                    if hidden.is_empty() {
                        self.hidden.remove(&c.conv);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Snapshotted for ReadState {
    /// 3: encoded positionally (no field names; the api's `snapshot` module).
    const SNAPSHOT_FORMAT: u32 = 3;

    fn snapshot_weight(&self) -> u64 {
        self.hidden.values().map(|h| h.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> ConvId {
        ConvId::parse("d~u~v").unwrap()
    }

    fn run(state: &mut ReadState, cmd: ReadsCommand) -> Result<usize, DomainError> {
        let events = state.decide(&cmd)?;
        for e in &events {
            state.apply(e);
        }
        Ok(events.len())
    }

    fn read(conv_seq: u64) -> ReadsCommand {
        ReadsCommand::Read(MarkRead {
            app: AppId::parse("a").unwrap(),
            user: UserId::parse("u").unwrap(),
            conv: conv(),
            conv_seq,
            last_conv_seq: 3,
            device: None,
            ts: 1,
        })
    }

    fn hide(conv_seq: u64) -> ReadsCommand {
        ReadsCommand::Hide(HideMessage {
            app: AppId::parse("a").unwrap(),
            user: UserId::parse("u").unwrap(),
            conv: conv(),
            conv_seq,
            last_conv_seq: 10,
            ts: 1,
        })
    }

    fn clear(up_to: u64) -> ReadsCommand {
        ReadsCommand::Clear(ClearConversation {
            app: AppId::parse("a").unwrap(),
            user: UserId::parse("u").unwrap(),
            conv: conv(),
            up_to,
            last_conv_seq: 10,
            ts: 1,
        })
    }

    #[test]
    fn reads_only_move_forward_within_the_conversation() {
        let mut state = ReadState::default();
        assert!(state.decide(&read(4)).is_err());
        assert!(state.decide(&read(0)).is_err());
        assert_eq!(run(&mut state, read(2)), Ok(1));
        assert_eq!(state.read_seq(&conv()), 2);
        assert_eq!(run(&mut state, read(1)), Ok(0));
        assert_eq!(run(&mut state, read(3)), Ok(1));
    }

    #[test]
    fn hiding_needs_an_existing_message_and_happens_once() {
        let mut state = ReadState::default();
        assert!(matches!(
            state.decide(&hide(11)),
            Err(DomainError::Invalid(_))
        ));
        assert!(state.decide(&hide(0)).is_err());
        assert_eq!(run(&mut state, hide(4)), Ok(1));
        assert!(state.removed(&conv(), 4));
        assert!(!state.removed(&conv(), 5));
        assert_eq!(run(&mut state, hide(4)), Ok(0), "hiding twice is a no-op");
    }

    #[test]
    fn clearing_is_monotonic_and_covers_what_was_hidden_below_it() {
        let mut state = ReadState::default();
        run(&mut state, hide(3)).unwrap();
        run(&mut state, hide(8)).unwrap();
        assert!(state.decide(&clear(11)).is_err());
        assert_eq!(run(&mut state, clear(5)), Ok(1));
        assert_eq!(state.cleared_up_to(&conv()), 5);
        assert_eq!(
            state.snapshot_weight(),
            1,
            "the hide below the mark is dropped"
        );
        assert!(state.removed(&conv(), 3) && state.removed(&conv(), 8));
        assert_eq!(run(&mut state, clear(4)), Ok(0), "a lower mark is a no-op");
        assert_eq!(run(&mut state, clear(5)), Ok(0));
        assert_eq!(run(&mut state, hide(2)), Ok(0), "already cleared");
        assert_eq!(run(&mut state, clear(9)), Ok(1));
        assert_eq!(state.snapshot_weight(), 0);
    }
}
