//! The `system` aggregate: one system message per subject, keyed by its message id. There is
//! nothing to decide but whether it is already recorded.

use crate::aggregate::Aggregate;
use crate::event::{Event, SystemMessageSent};
use crate::{AppId, Body, DomainError, MessageId, UserId};

/// Whether the subject's message is recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemState {
    pub sent: bool,
}

/// Send a system message to users checked to be active by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSystemMessage {
    pub app: AppId,
    pub msg_id: MessageId,
    pub to: Vec<UserId>,
    pub body: Body,
    pub ts: i64,
}

impl Aggregate for SystemState {
    const KIND: &'static str = "system";
    type Command = SendSystemMessage;

    fn decide(&self, cmd: &SendSystemMessage) -> Result<Vec<Event>, DomainError> {
        // The id is fresh per request, so a recorded message is this command's own earlier
        // attempt (an ack lost in flight): recording it again would be a duplicate.
        if self.sent {
            return Ok(Vec::new());
        }
        Ok(vec![Event::SystemMessageSent(SystemMessageSent {
            app: cmd.app.clone(),
            msg_id: cmd.msg_id.clone(),
            to: cmd.to.clone(),
            body: cmd.body.clone(),
            ts: cmd.ts,
        })])
    }

    fn apply(&mut self, event: &Event) {
        if let Event::SystemMessageSent(_) = event {
            self.sent = true;
        }
    }
}
