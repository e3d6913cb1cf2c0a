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
        // A file is readable by the participants of the conversation it was uploaded for; a
        // system message has no conversation to authorise its download against.
        if cmd.body.attachment().is_some() {
            return Err(DomainError::Invalid(
                "system messages carry text or custom bodies only".into(),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attachment, FileId};

    #[test]
    fn system_messages_carry_no_files() {
        let command = SendSystemMessage {
            app: AppId::parse("app").unwrap(),
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
            to: vec![UserId::parse("alice").unwrap()],
            body: Body::File(Box::new(Attachment {
                file_id: FileId::parse("019b7b1c-3a00-7000-8000-0000000000f1").unwrap(),
                name: "a.txt".into(),
                size: 1,
                mime: "text/plain".into(),
                width: None,
                height: None,
            })),
            ts: 1,
        };
        assert!(matches!(
            SystemState::default().decide(&command),
            Err(DomainError::Invalid(_))
        ));
    }
}
