//! The `broadcast` aggregate: one subject per app (`tid.evt.<app>.broadcast.<app>`) numbering
//! the app's broadcasts with a gapless `bseq`, as a conversation numbers its messages. A
//! broadcast is recorded once, whatever the size of its audience.

use crate::aggregate::Aggregate;
use crate::event::{BroadcastSent, Event};
use crate::{AppId, Body, DomainError, MessageId, Tag};
use std::collections::VecDeque;

/// How many recent broadcasts the state remembers by message id, to recognise a retried
/// decision (an acknowledgement lost in flight) and answer it with its `bseq`.
const REMEMBERED: usize = 256;

/// The app's broadcasts so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BroadcastState {
    /// The newest `bseq`, 0 before the first broadcast.
    pub last_bseq: u64,
    recent: VecDeque<(MessageId, u64)>,
}

impl BroadcastState {
    /// The `bseq` of a recent broadcast.
    pub fn bseq_of(&self, msg_id: &MessageId) -> Option<u64> {
        self.recent
            .iter()
            .find(|(id, _)| id == msg_id)
            .map(|(_, bseq)| *bseq)
    }
}

/// Broadcast `body` to every user of the app, or to the users holding `tag`.
#[derive(Debug, Clone, PartialEq)]
pub struct SendBroadcast {
    pub app: AppId,
    pub msg_id: MessageId,
    pub tag: Option<Tag>,
    pub body: Body,
    pub ts: i64,
}

impl Aggregate for BroadcastState {
    const KIND: &'static str = "broadcast";
    type Command = SendBroadcast;

    fn decide(&self, cmd: &SendBroadcast) -> Result<Vec<Event>, DomainError> {
        // The id is fresh per request: a recorded one is this command's own earlier attempt.
        if self.bseq_of(&cmd.msg_id).is_some() {
            return Ok(Vec::new());
        }
        // A file is readable by the participants of its conversation; a broadcast has none.
        if cmd.body.attachment().is_some() {
            return Err(DomainError::Invalid(
                "broadcasts carry text or custom bodies only".into(),
            ));
        }
        Ok(vec![Event::BroadcastSent(BroadcastSent {
            app: cmd.app.clone(),
            bseq: self.last_bseq + 1,
            msg_id: cmd.msg_id.clone(),
            tag: cmd.tag.clone(),
            body: cmd.body.clone(),
            ts: cmd.ts,
        })])
    }

    fn apply(&mut self, event: &Event) {
        if let Event::BroadcastSent(b) = event {
            self.last_bseq = b.bseq;
            self.recent.push_back((b.msg_id.clone(), b.bseq));
            if self.recent.len() > REMEMBERED {
                self.recent.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(id: &str) -> SendBroadcast {
        SendBroadcast {
            app: AppId::parse("app").unwrap(),
            msg_id: MessageId::parse(id).unwrap(),
            tag: None,
            body: Body::Text { text: "hi".into() },
            ts: 1,
        }
    }

    #[test]
    fn broadcasts_are_numbered_and_a_retry_records_nothing() {
        let mut state = BroadcastState::default();
        let first = send("019b7b1c-3a00-7000-8000-000000000001");
        let events = state.decide(&first).unwrap();
        assert!(matches!(&events[..], [Event::BroadcastSent(b)] if b.bseq == 1));
        events.iter().for_each(|e| state.apply(e));
        assert!(state.decide(&first).unwrap().is_empty());
        assert_eq!(state.bseq_of(&first.msg_id), Some(1));
        let second = send("019b7b1c-3a00-7000-8000-000000000002");
        let events = state.decide(&second).unwrap();
        assert!(matches!(&events[..], [Event::BroadcastSent(b)] if b.bseq == 2));
    }
}
