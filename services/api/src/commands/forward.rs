//! Forwarding: a send that copies a message the sender can read, from any conversation, with
//! its origin. The original's body (its latest edit) is read from its conversation's subject,
//! as the facts lookup reads facts: never from a read model.

use super::Commands;
use crate::error::{ApiError, ErrorCode};
use serde::Deserialize;
use std::ops::ControlFlow;
use tidings_domain::event::ForwardRef;
use tidings_domain::{AppId, Body, ConvId, Event, MessageId, UserId};

/// The message a `send` forwards.
#[derive(Debug, Clone, Deserialize)]
pub struct ForwardRequest {
    pub conv: ConvId,
    pub msg_id: MessageId,
}

impl Commands {
    /// The body to send and the origin to record for a forward of `origin` by `from`.
    pub(super) async fn forwarded(
        &self,
        app: &AppId,
        from: &UserId,
        origin: &ForwardRequest,
    ) -> Result<(Body, ForwardRef), ApiError> {
        if !self.participant(app, from, &origin.conv).await? {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "you cannot read the conversation of the message to forward",
            ));
        }
        let gone = || ApiError::new(ErrorCode::NotFound, "the message to forward was not found");
        let target = self.facts(app, &origin.conv, &origin.msg_id).await?;
        let convs = &self.0.convs;
        let id = origin.conv.as_str();
        // Fresh: a recall made through another instance a moment ago must hold.
        let note = convs
            .read(app, id, true, |state| state.note(target.conv_seq))
            .await?;
        if note.recalled.is_some() {
            return Err(gone());
        }
        let from_seq = convs
            .read(app, id, false, |state| {
                state.scan_from_conv_seq(target.conv_seq)
            })
            .await?;
        // The body as sent, then each edit up to the latest the note counts.
        let mut body = None;
        let found = convs
            .scan(app, id, from_seq, |event| match event {
                Event::MessageSent(m) if m.conv_seq == target.conv_seq => {
                    body = Some(m.body.clone());
                    if note.edit_seq == 0 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
                Event::MessageEdited(e) if e.conv_seq == target.conv_seq => {
                    body = Some(e.body.clone());
                    if e.edit_seq >= note.edit_seq {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
                _ => ControlFlow::Continue(()),
            })
            .await?;
        let body = match (found, body) {
            (Some(()), Some(body)) => body,
            _ => return Err(gone()),
        };
        if body.attachment().is_some() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "files and images cannot be forwarded yet: upload the file to this conversation",
            ));
        }
        let origin = ForwardRef {
            conv: origin.conv.clone(),
            msg_id: target.msg_id,
            from: target.from,
            ts: target.ts,
        };
        Ok((body, origin))
    }
}
