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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{ConvCommand, MessagingPolicy, SendMessage};
    use crate::event::MessageRecalled;
    use crate::group::{ChangeGroup, GroupCommand};
    use crate::membership::JoinPolicy;
    use crate::{Aggregate, Body, BodyLimits, ClientMsgId, GroupId, MessageId, Recipient};

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn app() -> AppId {
        AppId::parse("app").unwrap()
    }

    fn run(state: &mut ConvState, command: &ConvCommand) -> Result<Vec<Event>, DomainError> {
        let events = state.decide(command)?;
        for e in &events {
            state.apply_at(e, 1);
        }
        Ok(events)
    }

    fn send(state: &mut ConvState, from: &str, to: Recipient) -> MessageFacts {
        let n = state.last_conv_seq + 1;
        let command = ConvCommand::Send(SendMessage {
            app: app(),
            from: u(from),
            to,
            client_msg_id: ClientMsgId::parse(format!("c{n}")).unwrap(),
            body: Body::Text { text: "hi".into() },
            mentions: Vec::new(),
            mention_all: false,
            reply_to: None,
            forward_of: None,
            msg_id: MessageId::parse(format!("0190a6e4-8c1e-7c3a-9f00-{n:012x}")).unwrap(),
            ts: 1_000,
            limits: BodyLimits::default(),
            policy: MessagingPolicy::Open,
        });
        run(state, &command).unwrap();
        state.recent_facts_at(n).unwrap().clone()
    }

    fn react(
        conv: &ConvId,
        target: &MessageFacts,
        user: &str,
        key: &str,
        add: bool,
    ) -> ConvCommand {
        ConvCommand::React(ReactToMessage {
            app: app(),
            conv: conv.clone(),
            target: target.clone(),
            user: u(user),
            key: key.into(),
            add,
            ts: 2_000,
            allowed: Vec::new(),
        })
    }

    fn pin(conv: &ConvId, target: &MessageFacts, by: Actor, pin: bool) -> ConvCommand {
        ConvCommand::Pin(PinMessage {
            app: app(),
            conv: conv.clone(),
            target: target.clone(),
            by,
            pin,
            ts: 2_000,
            max_pins: 2,
        })
    }

    fn recall(state: &mut ConvState, conv: &ConvId, target: &MessageFacts) {
        state.apply(&Event::MessageRecalled(MessageRecalled {
            app: app(),
            conv: conv.clone(),
            conv_seq: target.conv_seq,
            msg_id: target.msg_id.clone(),
            by: None,
            ts: 3_000,
        }));
    }

    #[test]
    fn every_reaction_request_is_recorded_when_the_key_and_the_user_may() {
        let mut state = ConvState::default();
        let conv = ConvId::direct(&u("alice"), &u("bob"));
        let m = send(&mut state, "alice", Recipient::User(u("bob")));
        for _ in 0..2 {
            let events = run(&mut state, &react(&conv, &m, "bob", "👍", true)).unwrap();
            assert!(
                matches!(&events[..], [Event::ReactionAdded(r)] if r.sender == u("alice")),
                "a repeat is recorded too: the read model makes it a no-op"
            );
        }
        assert!(matches!(
            state.decide(&react(&conv, &m, "bob", "👍", false)).unwrap()[..],
            [Event::ReactionRemoved(_)]
        ));
        for key in ["", &"x".repeat(33), "a\nb"] {
            assert!(matches!(
                state.decide(&react(&conv, &m, "bob", key, true)),
                Err(DomainError::Invalid(_))
            ));
        }
        let mut listed = react(&conv, &m, "bob", "🙃", true);
        if let ConvCommand::React(r) = &mut listed {
            r.allowed = vec!["👍".into()];
        }
        assert!(matches!(
            state.decide(&listed),
            Err(DomainError::Invalid(_))
        ));
        assert_eq!(
            state.decide(&react(&conv, &m, "eve", "👍", true)),
            Err(DomainError::NotFound("conversation".into()))
        );
        recall(&mut state, &conv, &m);
        assert_eq!(
            state.decide(&react(&conv, &m, "bob", "👍", true)),
            Err(DomainError::NotFound("message".into()))
        );
    }

    #[test]
    fn pins_follow_roles_and_the_cap_and_a_repeat_records_nothing() {
        let group = GroupId::parse("g").unwrap();
        let conv = ConvId::group(&group);
        let mut state = ConvState::default();
        let create = ConvCommand::Group(ChangeGroup {
            app: app(),
            group: group.clone(),
            actor: u("olga"),
            command: GroupCommand::Create {
                name: "g".into(),
                avatar_url: None,
                intro: None,
                join_policy: JoinPolicy::Open,
                members: vec![u("mia")],
            },
            member_cap: 10,
            ts: 1,
        });
        run(&mut state, &create).unwrap();
        let to = Recipient::Group(group);
        let m: Vec<MessageFacts> = (0..3)
            .map(|_| send(&mut state, "mia", to.clone()))
            .collect();
        let olga = || Actor::User(u("olga"));
        assert!(matches!(
            state.decide(&pin(&conv, &m[0], Actor::User(u("mia")), true)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            state.decide(&pin(&conv, &m[0], Actor::User(u("zed")), true)),
            Err(DomainError::NotMember(_))
        ));
        run(&mut state, &pin(&conv, &m[0], olga(), true)).unwrap();
        assert_eq!(
            run(&mut state, &pin(&conv, &m[0], olga(), true)),
            Ok(vec![])
        );
        run(&mut state, &pin(&conv, &m[1], Actor::App, true)).unwrap();
        assert!(matches!(
            state.decide(&pin(&conv, &m[2], olga(), true)),
            Err(DomainError::Conflict(_))
        ));
        // A recalled message cannot be pinned, but its pin can go.
        recall(&mut state, &conv, &m[0]);
        let events = run(&mut state, &pin(&conv, &m[0], olga(), false)).unwrap();
        assert!(matches!(&events[..], [Event::MessageUnpinned(p)] if p.by == Some(u("olga"))));
        assert_eq!(
            run(&mut state, &pin(&conv, &m[0], olga(), false)),
            Ok(vec![])
        );
        assert_eq!(
            state.decide(&pin(&conv, &m[0], olga(), true)),
            Err(DomainError::NotFound("message".into()))
        );
        assert_eq!(state.pins().iter().copied().collect::<Vec<_>>(), [2]);
    }
}
