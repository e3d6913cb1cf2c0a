//! Reactions and pins: the target message is found by `msg_id` with the facts lookup (from
//! the event log, outside the subject's lock), then the conversation decides.

use super::{Commands, now_millis, observed};
use crate::aggregate::Recorded;
use crate::error::ApiError;
use serde::Serialize;
use tidings_domain::conv::{Actor, ConvCommand, PinMessage, ReactToMessage, check_reaction_key};
use tidings_domain::{AppId, ConvId, MessageId, UserId};

/// The answer to a reaction request: what was asked, recorded. Whether it changed the
/// message's reactions (a repeat does not) shows in history and entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reacted {
    pub conv: ConvId,
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub key: String,
    pub added: bool,
}

/// The answer to a pin or unpin: whether the message is pinned now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinState {
    pub conv: ConvId,
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub pinned: bool,
}

impl Commands {
    /// Adds (`add`) or removes `user`'s reaction `key` on a message.
    pub async fn react(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        msg_id: &MessageId,
        key: String,
        add: bool,
    ) -> Result<Recorded<Reacted>, ApiError> {
        observed("react", async {
            self.require_active(app, user).await?;
            let allowed = self.0.apps.reaction_keys(app);
            // Bad input is refused before any lookup; the decision checks it again.
            check_reaction_key(&key, &allowed)?;
            let target = self.facts(app, conv, msg_id).await?;
            let answer = Reacted {
                conv: conv.clone(),
                msg_id: msg_id.clone(),
                conv_seq: target.conv_seq,
                key: key.clone(),
                added: add,
            };
            let command = ConvCommand::React(ReactToMessage {
                app: app.clone(),
                conv: conv.clone(),
                target,
                user: user.clone(),
                key,
                add,
                ts: now_millis(),
                allowed: allowed.to_vec(),
            });
            let pos = self.0.convs.execute(app, conv.as_str(), &command).await?;
            Ok(Recorded { value: answer, pos })
        })
        .await
    }

    /// Pins (`pin`) or unpins a message, as a participant or as the app server
    /// ([`Actor::App`]).
    pub async fn pin(
        &self,
        app: &AppId,
        by: Actor,
        conv: &ConvId,
        msg_id: &MessageId,
        pin: bool,
    ) -> Result<Recorded<PinState>, ApiError> {
        observed("pin", async {
            if let Actor::User(user) = &by {
                self.require_active(app, user).await?;
            }
            let target = self.facts(app, conv, msg_id).await?;
            let conv_seq = target.conv_seq;
            let command = ConvCommand::Pin(PinMessage {
                app: app.clone(),
                conv: conv.clone(),
                target,
                by,
                pin,
                ts: now_millis(),
                max_pins: self.0.apps.max_pins(app),
            });
            let recorded = self
                .0
                .convs
                .execute_then(app, conv.as_str(), &command, |state| {
                    state.is_pinned(conv_seq)
                })
                .await?;
            Ok(recorded.map(|pinned| PinState {
                conv: conv.clone(),
                msg_id: msg_id.clone(),
                conv_seq,
                pinned,
            }))
        })
        .await
    }
}
