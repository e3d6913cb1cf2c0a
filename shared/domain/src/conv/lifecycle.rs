//! Recall and edit: decisions about a message already recorded, taken on the conversation's
//! sequence so they are ordered with its sends, group changes and each other.
//!
//! The command carries the target's facts, looked up by the caller (see `facts`); the
//! decision checks them against the state (`conv_seq <= last_conv_seq`) and the message's
//! note. Recall rules: the sender within the app's recall window (0: no limit); in a group,
//! the owner and admins recall messages of members whose role is lower than theirs, at any
//! time; the app server recalls any message. Recalling a recalled message records nothing and
//! answers as the first recall did. Edit rules: the sender only, text only, within the app's
//! edit window (0: no limit), not once recalled (`not_found`); `expected_edit_seq`, when
//! given, must be the message's current `edit_seq` or the edit is a `conflict`.

use super::ConvState;
use super::facts::MessageFacts;
use crate::event::{Event, MessageEdited, MessageRecalled};
use crate::group::Role;
use crate::{AppId, Body, BodyKind, BodyLimits, ConvId, DomainError, UserId};

/// Who acts on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A participant (through a client, or the app server acting for them).
    User(UserId),
    /// The app server itself, moderating.
    App,
}

/// Recall a message.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallMessage {
    pub app: AppId,
    pub conv: ConvId,
    pub target: MessageFacts,
    pub by: Actor,
    pub ts: i64,
    /// The app's window for senders, in seconds (0: no limit).
    pub window_secs: u64,
}

/// Replace a text message's body.
#[derive(Debug, Clone, PartialEq)]
pub struct EditMessage {
    pub app: AppId,
    pub conv: ConvId,
    pub target: MessageFacts,
    pub by: UserId,
    pub body: Body,
    /// The `edit_seq` the editor saw; another one means someone edited since (`conflict`).
    pub expected_edit_seq: Option<u64>,
    pub ts: i64,
    /// The app's window, in seconds (0: no limit).
    pub window_secs: u64,
    pub limits: BodyLimits,
}

fn not_found() -> DomainError {
    DomainError::NotFound("message".into())
}

/// Whether `ts` is later than `window_secs` after `sent` (never, for a window of 0).
fn past(window_secs: u64, sent: i64, ts: i64) -> bool {
    let window_ms = i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    window_secs > 0 && ts.saturating_sub(sent) > window_ms
}

/// The message must be one of this conversation's, and the conversation still open.
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

pub(super) fn decide_recall(
    state: &ConvState,
    cmd: &RecallMessage,
) -> Result<Vec<Event>, DomainError> {
    check_target(state, &cmd.conv, &cmd.target)?;
    if state.note(cmd.target.conv_seq).recalled.is_some() {
        return Ok(Vec::new());
    }
    let by = match &cmd.by {
        Actor::App => None,
        Actor::User(user) => {
            may_recall(state, cmd, user)?;
            Some(user.clone())
        }
    };
    Ok(vec![Event::MessageRecalled(MessageRecalled {
        app: cmd.app.clone(),
        conv: cmd.conv.clone(),
        conv_seq: cmd.target.conv_seq,
        msg_id: cmd.target.msg_id.clone(),
        by,
        ts: cmd.ts,
    })])
}

fn may_recall(state: &ConvState, cmd: &RecallMessage, user: &UserId) -> Result<(), DomainError> {
    let in_group = cmd.conv.group_id().is_some();
    let role = state.group.role(user);
    if in_group && role.is_none() {
        return Err(DomainError::NotMember(
            "you are not a member of this group".into(),
        ));
    }
    if !in_group && !cmd.conv.is_direct_member(user) {
        return Err(not_found());
    }
    if user == &cmd.target.from {
        if past(cmd.window_secs, cmd.target.ts, cmd.ts) {
            return Err(DomainError::Forbidden(format!(
                "the recall window ({} s) has passed",
                cmd.window_secs
            )));
        }
        return Ok(());
    }
    // The sender's role now: one who left ranks below every member.
    let sender = state.group.role(&cmd.target.from);
    match role {
        Some(role) if in_group && role >= Role::Admin && sender < Some(role) => Ok(()),
        _ => Err(DomainError::Forbidden(
            "only the sender, or a group's owner or admin for members of a lower role, can \
             recall this message"
                .into(),
        )),
    }
}

pub(super) fn decide_edit(state: &ConvState, cmd: &EditMessage) -> Result<Vec<Event>, DomainError> {
    check_target(state, &cmd.conv, &cmd.target)?;
    let note = state.note(cmd.target.conv_seq);
    if note.recalled.is_some() {
        return Err(not_found());
    }
    if cmd.by != cmd.target.from {
        return Err(DomainError::Forbidden(
            "only the sender can edit a message".into(),
        ));
    }
    if cmd.conv.group_id().is_some() {
        state.group.may_send(&cmd.by)?;
    }
    if cmd.target.kind != BodyKind::Text || cmd.body.kind() != BodyKind::Text {
        return Err(DomainError::Invalid(
            "only text messages can be edited, into text".into(),
        ));
    }
    if past(cmd.window_secs, cmd.target.ts, cmd.ts) {
        return Err(DomainError::Forbidden(format!(
            "the edit window ({} s) has passed",
            cmd.window_secs
        )));
    }
    if let Some(expected) = cmd.expected_edit_seq
        && expected != note.edit_seq
    {
        return Err(DomainError::Conflict(format!(
            "the message is at edit_seq {}, not {expected}",
            note.edit_seq
        )));
    }
    cmd.body.validate(cmd.limits)?;
    Ok(vec![Event::MessageEdited(MessageEdited {
        app: cmd.app.clone(),
        conv: cmd.conv.clone(),
        conv_seq: cmd.target.conv_seq,
        msg_id: cmd.target.msg_id.clone(),
        by: cmd.by.clone(),
        body: cmd.body.clone(),
        edit_seq: note.edit_seq + 1,
        ts: cmd.ts,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{ConvCommand, MessagingPolicy, SendMessage};
    use crate::group::{ChangeGroup, GroupCommand};
    use crate::membership::JoinPolicy;
    use crate::{Aggregate, ClientMsgId, GroupId, MessageId, Recipient};

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn app() -> AppId {
        AppId::parse("app").unwrap()
    }

    fn run(state: &mut ConvState, command: &ConvCommand) -> Result<Vec<Event>, DomainError> {
        let events = state.decide(command)?;
        for (i, e) in events.iter().enumerate() {
            state.apply_at(e, 100 + i as u64);
        }
        Ok(events)
    }

    /// Sends `body` from `from` to `to` at `ts`; the new message's facts.
    fn send(state: &mut ConvState, from: &str, to: Recipient, body: Body, ts: i64) -> MessageFacts {
        let n = state.last_conv_seq + 1;
        let command = ConvCommand::Send(SendMessage {
            app: app(),
            from: u(from),
            to,
            client_msg_id: ClientMsgId::parse(format!("c{n}")).unwrap(),
            body,
            mentions: Vec::new(),
            mention_all: false,
            reply_to: None,
            forward_of: None,
            msg_id: MessageId::parse(format!("0190a6e4-8c1e-7c3a-9f00-{n:012x}")).unwrap(),
            ts,
            limits: BodyLimits::default(),
            policy: MessagingPolicy::Open,
        });
        run(state, &command).unwrap();
        state.recent_facts_at(n).unwrap().clone()
    }

    fn text(s: &str) -> Body {
        Body::Text { text: s.into() }
    }

    fn direct() -> (ConvState, ConvId) {
        (ConvState::default(), ConvId::direct(&u("alice"), &u("bob")))
    }

    fn recall(conv: &ConvId, target: &MessageFacts, by: Actor, ts: i64) -> ConvCommand {
        ConvCommand::Recall(RecallMessage {
            app: app(),
            conv: conv.clone(),
            target: target.clone(),
            by,
            ts,
            window_secs: 120,
        })
    }

    fn edit(
        conv: &ConvId,
        target: &MessageFacts,
        by: &str,
        body: Body,
        expected: Option<u64>,
        ts: i64,
    ) -> ConvCommand {
        ConvCommand::Edit(EditMessage {
            app: app(),
            conv: conv.clone(),
            target: target.clone(),
            by: u(by),
            body,
            expected_edit_seq: expected,
            ts,
            window_secs: 86_400,
            limits: BodyLimits::default(),
        })
    }

    #[test]
    fn the_sender_recalls_within_the_window_once() {
        let (mut state, conv) = direct();
        let m = send(
            &mut state,
            "alice",
            Recipient::User(u("bob")),
            text("hi"),
            1_000,
        );
        let by_bob = recall(&conv, &m, Actor::User(u("bob")), 2_000);
        assert!(matches!(
            state.decide(&by_bob),
            Err(DomainError::Forbidden(_))
        ));
        let late = recall(&conv, &m, Actor::User(u("alice")), 1_000 + 120_001);
        assert!(matches!(
            state.decide(&late),
            Err(DomainError::Forbidden(_))
        ));
        let events = run(
            &mut state,
            &recall(&conv, &m, Actor::User(u("alice")), 121_000),
        )
        .unwrap();
        assert!(matches!(&events[..], [Event::MessageRecalled(r)] if r.by == Some(u("alice"))));
        assert_eq!(state.note(1).recalled.unwrap().ts, 121_000);
        assert_eq!(
            run(&mut state, &recall(&conv, &m, Actor::App, 130_000)),
            Ok(vec![]),
            "a no-op"
        );
        assert_eq!(
            state.note(1).recalled.unwrap().by,
            Some(u("alice")),
            "the first recall is kept"
        );
    }

    #[test]
    fn recalls_and_edits_survive_a_snapshot() {
        let (mut state, conv) = direct();
        let to_bob = || Recipient::User(u("bob"));
        let first = send(&mut state, "alice", to_bob(), text("a"), 1_000);
        let second = send(&mut state, "alice", to_bob(), text("b"), 1_100);
        send(&mut state, "alice", to_bob(), text("c"), 1_200);
        let alice = Actor::User(u("alice"));
        run(&mut state, &recall(&conv, &first, alice, 2_000)).unwrap();
        run(
            &mut state,
            &edit(&conv, &second, "alice", text("B"), None, 2_100),
        )
        .unwrap();
        // Positional MessagePack, as the api's snapshots encode states: a note with a recall,
        // one with an edit, and none at all for the third message.
        let bytes = rmp_serde::to_vec(&state).unwrap();
        let restored: ConvState = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(restored, state);
        assert!(restored.note(1).recalled.is_some());
        assert_eq!(restored.note(2).edit_seq, 1);
    }

    #[test]
    fn a_window_of_zero_has_no_limit_and_the_app_recalls_anything() {
        let (mut state, conv) = direct();
        let m = send(
            &mut state,
            "alice",
            Recipient::User(u("bob")),
            text("hi"),
            1_000,
        );
        let mut command = recall(&conv, &m, Actor::User(u("alice")), i64::MAX / 2);
        if let ConvCommand::Recall(r) = &mut command {
            r.window_secs = 0;
        }
        assert!(state.decide(&command).is_ok());
        let events = run(&mut state, &recall(&conv, &m, Actor::App, i64::MAX / 2)).unwrap();
        assert!(matches!(&events[..], [Event::MessageRecalled(r)] if r.by.is_none()));
    }

    #[test]
    fn unknown_messages_are_not_found() {
        let (mut state, conv) = direct();
        let m = send(
            &mut state,
            "alice",
            Recipient::User(u("bob")),
            text("hi"),
            1_000,
        );
        let ahead = MessageFacts { conv_seq: 2, ..m };
        assert_eq!(
            state.decide(&recall(&conv, &ahead, Actor::App, 1_000)),
            Err(DomainError::NotFound("message".into()))
        );
    }

    #[test]
    fn owners_and_admins_recall_lower_roles_at_any_time() {
        let group = GroupId::parse("g").unwrap();
        let conv = ConvId::group(&group);
        let mut state = ConvState::default();
        let change = |actor: &str, command| {
            ConvCommand::Group(ChangeGroup {
                app: app(),
                group: group.clone(),
                actor: u(actor),
                command,
                member_cap: 100,
                ts: 1,
            })
        };
        run(
            &mut state,
            &change(
                "olga",
                GroupCommand::Create {
                    name: "g".into(),
                    avatar_url: None,
                    intro: None,
                    join_policy: JoinPolicy::Open,
                    members: vec![u("adam"), u("mia"), u("max")],
                },
            ),
        )
        .unwrap();
        assert_eq!(
            crate::Snapshotted::snapshot_weight(&state),
            4,
            "the roster weighs: the owner and three members"
        );
        run(
            &mut state,
            &change(
                "olga",
                GroupCommand::SetAdmin {
                    user: u("adam"),
                    admin: true,
                },
            ),
        )
        .unwrap();
        let to = Recipient::Group(group.clone());
        let by_mia = send(&mut state, "mia", to.clone(), text("m"), 1_000);
        let by_adam = send(&mut state, "adam", to.clone(), text("a"), 1_000);
        let by_olga = send(&mut state, "olga", to, text("o"), 1_000);
        let later = 10_000_000;
        let user = |s: &str| Actor::User(u(s));
        assert!(matches!(
            state.decide(&recall(&conv, &by_mia, user("max"), later)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(
            state
                .decide(&recall(&conv, &by_mia, user("adam"), later))
                .is_ok()
        );
        assert!(matches!(
            state.decide(&recall(&conv, &by_olga, user("adam"), later)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(
            state
                .decide(&recall(&conv, &by_adam, user("olga"), later))
                .is_ok()
        );
        assert!(matches!(
            state.decide(&recall(&conv, &by_mia, user("stranger"), later)),
            Err(DomainError::NotMember(_))
        ));
    }

    #[test]
    fn edits_are_versioned_and_checked() {
        let (mut state, conv) = direct();
        let m = send(
            &mut state,
            "alice",
            Recipient::User(u("bob")),
            text("hi"),
            1_000,
        );
        assert!(matches!(
            state.decide(&edit(&conv, &m, "bob", text("x"), None, 2_000)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            state.decide(&edit(
                &conv,
                &m,
                "alice",
                Body::Custom {
                    data: serde_json::json!(1)
                },
                None,
                2_000
            )),
            Err(DomainError::Invalid(_))
        ));
        assert!(matches!(
            state.decide(&edit(
                &conv,
                &m,
                "alice",
                text("x"),
                None,
                1_000 + 86_400_001
            )),
            Err(DomainError::Forbidden(_))
        ));
        run(
            &mut state,
            &edit(&conv, &m, "alice", text("v1"), Some(0), 2_000),
        )
        .unwrap();
        let events = run(
            &mut state,
            &edit(&conv, &m, "alice", text("v2"), None, 3_000),
        )
        .unwrap();
        assert!(matches!(&events[..], [Event::MessageEdited(e)] if e.edit_seq == 2));
        assert_eq!(
            (state.note(1).edit_seq, state.note(1).edited_at),
            (2, 3_000)
        );
        assert!(matches!(
            state.decide(&edit(&conv, &m, "alice", text("v3"), Some(1), 4_000)),
            Err(DomainError::Conflict(_))
        ));
        run(&mut state, &recall(&conv, &m, Actor::App, 5_000)).unwrap();
        assert_eq!(
            state.decide(&edit(&conv, &m, "alice", text("v3"), None, 6_000)),
            Err(DomainError::NotFound("message".into()))
        );
        let custom = send(
            &mut state,
            "alice",
            Recipient::User(u("bob")),
            Body::Custom {
                data: serde_json::json!(1),
            },
            7_000,
        );
        assert!(matches!(
            state.decide(&edit(&conv, &custom, "alice", text("x"), None, 7_000)),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn marks_index_every_256th_message_and_survive_a_snapshot() {
        let (mut state, _) = direct();
        for i in 0..600 {
            send(
                &mut state,
                "alice",
                Recipient::User(u("bob")),
                text("x"),
                1_000 + i,
            );
        }
        assert_eq!(
            state.scan_from_conv_seq(300),
            100,
            "the mark of 257, at the stream seq it was applied at"
        );
        // Positional MessagePack, as the api's snapshots encode states.
        let bytes = rmp_serde::to_vec(&state).unwrap();
        let restored: ConvState = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(restored, state);
    }
}
