//! Reactions and pins: annotations of a message already recorded, decided on the conversation's
//! sequence so a member who left cannot add them and they are ordered with recalls.
//!
//! Reactions are not kept per user here (a popular message of a large group would make the
//! state unbounded): the decision checks that the message exists and is not recalled, that the
//! user takes part, and that the key is allowed; "one per user per key" is the read model's
//! (a reaction row per (conv, conv_seq, key, user)). Pins are few and kept: at most the app's
//! cap per conversation; pinning a pinned message or unpinning one that is not records nothing.

use super::ConvState;
use super::facts::MessageFacts;
use super::lifecycle::Actor;
use crate::event::{Event, Pin, Reaction};
use crate::group::Role;
use crate::{AppId, ConvId, DomainError, UserId};

/// The longest reaction key, in bytes.
pub const MAX_REACTION_KEY_BYTES: usize = 32;

/// Add or remove `user`'s reaction `key` on a message.
#[derive(Debug, Clone, PartialEq)]
pub struct ReactToMessage {
    pub app: AppId,
    pub conv: ConvId,
    pub target: MessageFacts,
    pub user: UserId,
    pub key: String,
    /// `true` adds, `false` removes.
    pub add: bool,
    pub ts: i64,
    /// The app's allowed keys (empty: any key of 1-32 bytes).
    pub allowed: Vec<String>,
}

/// Pin or unpin a message.
#[derive(Debug, Clone, PartialEq)]
pub struct PinMessage {
    pub app: AppId,
    pub conv: ConvId,
    pub target: MessageFacts,
    pub by: Actor,
    /// `true` pins, `false` unpins.
    pub pin: bool,
    pub ts: i64,
    /// The app's cap on pins per conversation.
    pub max_pins: usize,
}

fn not_found() -> DomainError {
    DomainError::NotFound("message".into())
}

/// The message must be one of this conversation's, and the conversation open.
fn check_target(
    state: &ConvState,
    conv: &ConvId,
    target: &MessageFacts,
) -> Result<(), DomainError> {
    if target.conv_seq == 0 || target.conv_seq > state.last_conv_seq {
        return Err(not_found());
    }
    if let Some(group) = conv.group_id()
        && !state.group.is_live()
    {
        return Err(DomainError::NotFound(format!("group {group}")));
    }
    Ok(())
}

/// Reactions and new pins need a message that is not recalled.
fn check_not_recalled(state: &ConvState, target: &MessageFacts) -> Result<(), DomainError> {
    match state.note(target.conv_seq).recalled {
        Some(_) => Err(not_found()),
        None => Ok(()),
    }
}

/// A direct conversation's users and a group's current members take part.
fn check_participant(state: &ConvState, conv: &ConvId, user: &UserId) -> Result<(), DomainError> {
    if conv.group_id().is_some() {
        if state.group.role(user).is_none() {
            return Err(DomainError::NotMember(
                "you are not a member of this group".into(),
            ));
        }
    } else if !conv.is_direct_member(user) {
        return Err(DomainError::NotFound("conversation".into()));
    }
    Ok(())
}

/// Whether `key` may be a reaction: 1-32 bytes, no control characters, and in `allowed` when
/// the app has a list.
pub fn check_reaction_key(key: &str, allowed: &[String]) -> Result<(), DomainError> {
    if key.is_empty() || key.len() > MAX_REACTION_KEY_BYTES || key.chars().any(char::is_control) {
        return Err(DomainError::Invalid(format!(
            "a reaction key is 1-{MAX_REACTION_KEY_BYTES} bytes without control characters"
        )));
    }
    if !allowed.is_empty() && !allowed.iter().any(|k| k == key) {
        return Err(DomainError::Invalid(format!(
            "reaction {key:?} is not one of this app's reaction keys"
        )));
    }
    Ok(())
}

pub(super) fn decide_react(
    state: &ConvState,
    cmd: &ReactToMessage,
) -> Result<Vec<Event>, DomainError> {
    check_reaction_key(&cmd.key, &cmd.allowed)?;
    check_target(state, &cmd.conv, &cmd.target)?;
    check_not_recalled(state, &cmd.target)?;
    check_participant(state, &cmd.conv, &cmd.user)?;
    let reaction = Reaction {
        app: cmd.app.clone(),
        conv: cmd.conv.clone(),
        conv_seq: cmd.target.conv_seq,
        msg_id: cmd.target.msg_id.clone(),
        sender: cmd.target.from.clone(),
        user: cmd.user.clone(),
        key: cmd.key.clone(),
        ts: cmd.ts,
    };
    Ok(vec![if cmd.add {
        Event::ReactionAdded(reaction)
    } else {
        Event::ReactionRemoved(reaction)
    }])
}

pub(super) fn decide_pin(state: &ConvState, cmd: &PinMessage) -> Result<Vec<Event>, DomainError> {
    check_target(state, &cmd.conv, &cmd.target)?;
    let by = match &cmd.by {
        Actor::App => None,
        Actor::User(user) => {
            check_participant(state, &cmd.conv, user)?;
            if cmd.conv.group_id().is_some() && state.group.role(user) < Some(Role::Admin) {
                return Err(DomainError::Forbidden(
                    "only the group's owner and admins can pin messages".into(),
                ));
            }
            Some(user.clone())
        }
    };
    let pinned = state.is_pinned(cmd.target.conv_seq);
    if pinned == cmd.pin {
        return Ok(Vec::new());
    }
    // A recalled message can still be unpinned, so it never holds a place for good.
    if cmd.pin {
        check_not_recalled(state, &cmd.target)?;
    }
    if cmd.pin && state.pins().len() >= cmd.max_pins {
        return Err(DomainError::Conflict(format!(
            "a conversation has at most {} pinned messages: unpin one first",
            cmd.max_pins
        )));
    }
    let pin = Pin {
        app: cmd.app.clone(),
        conv: cmd.conv.clone(),
        conv_seq: cmd.target.conv_seq,
        msg_id: cmd.target.msg_id.clone(),
        by,
        ts: cmd.ts,
    };
    Ok(vec![if cmd.pin {
        Event::MessagePinned(pin)
    } else {
        Event::MessageUnpinned(pin)
    }])
}
