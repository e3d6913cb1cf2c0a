//! The `conv` aggregate: the messages of one conversation. It assigns the gapless `conv_seq`
//! and remembers every (sender, client_msg_id) so a retry at any later time is answered with
//! the original receipt instead of a second message.

use crate::event::{Event, MessageSent};
use crate::group::GroupState;
use crate::pair::PairState;
use crate::{
    AppId, Body, BodyLimits, ClientMsgId, ConvId, DomainError, MessageId, Recipient, UserId,
};
use std::collections::HashMap;

/// What the sender is told about a recorded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub conv: ConvId,
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub ts: i64,
}

/// A conversation's state folded from its subject.
#[derive(Debug, Clone, Default)]
pub struct ConvState {
    pub last_conv_seq: u64,
    /// For a direct conversation, the relationship of its two users.
    pub pair: PairState,
    /// For a group conversation, the group.
    pub group: GroupState,
    sent: HashMap<(UserId, ClientMsgId), Receipt>,
}

impl ConvState {
    /// Applies one event of this conversation's subject.
    pub fn evolve(&mut self, event: &Event) {
        if let Event::PairChanged(p) = event {
            self.pair.evolve(p);
        }
        if let Event::GroupChanged(g) = event {
            self.group.evolve(g);
        }
        if let Event::MessageSent(m) = event {
            self.last_conv_seq = self.last_conv_seq.max(m.conv_seq);
            self.sent.insert(
                (m.from.clone(), m.client_msg_id.clone()),
                Receipt {
                    conv: m.conv.clone(),
                    msg_id: m.msg_id.clone(),
                    conv_seq: m.conv_seq,
                    ts: m.ts,
                },
            );
        }
    }
}

/// Send a message. `msg_id` and `ts` are chosen by the caller (the domain has no clock).
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessage {
    pub app: AppId,
    pub from: UserId,
    pub to: Recipient,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
    /// Group members mentioned (`@user`).
    pub mentions: Vec<UserId>,
    /// `@all` (admins and the owner only).
    pub mention_all: bool,
    pub msg_id: MessageId,
    pub ts: i64,
}

/// Who may message whom in an app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingPolicy {
    /// Anyone in the app may message anyone.
    #[default]
    Open,
    /// Direct messages need friendship.
    FriendsOnly,
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq)]
pub enum SendDecision {
    /// The same (sender, client_msg_id) was recorded before: answer with its receipt.
    Duplicate(Receipt),
    /// Record this new message.
    Record(MessageSent),
}

/// Decides a send against the conversation's state. Authorization that needs other
/// aggregates (recipient exists, membership, blocks) is checked by the caller first.
pub fn decide_send(
    state: &ConvState,
    cmd: SendMessage,
    limits: BodyLimits,
    policy: MessagingPolicy,
) -> Result<SendDecision, DomainError> {
    if let Some(receipt) = state
        .sent
        .get(&(cmd.from.clone(), cmd.client_msg_id.clone()))
    {
        return Ok(SendDecision::Duplicate(receipt.clone()));
    }
    if let Recipient::User(to) = &cmd.to
        && to != &cmd.from
    {
        if state.pair.blocks(to) {
            return Err(DomainError::Blocked(format!(
                "{to} does not accept messages from you"
            )));
        }
        if policy == MessagingPolicy::FriendsOnly && !state.pair.friends {
            return Err(DomainError::NotFriends(format!(
                "this app allows direct messages between friends only; {to} is not your friend"
            )));
        }
    }
    if let Recipient::Group(group) = &cmd.to {
        if !state.group.is_live() {
            return Err(DomainError::NotFound(format!("group {group}")));
        }
        state.group.may_send(&cmd.from)?;
        if cmd.mention_all && state.group.role(&cmd.from) < Some(crate::group::Role::Admin) {
            return Err(DomainError::Forbidden(
                "only the owner or an admin can mention all".into(),
            ));
        }
    } else if cmd.mention_all || !cmd.mentions.is_empty() {
        return Err(DomainError::Invalid(
            "mentions are for group messages".into(),
        ));
    }
    cmd.body.validate(limits)?;
    let conv = ConvId::between(&cmd.from, &cmd.to);
    Ok(SendDecision::Record(MessageSent {
        app: cmd.app,
        conv,
        msg_id: cmd.msg_id,
        conv_seq: state.last_conv_seq + 1,
        from: cmd.from,
        to: cmd.to,
        client_msg_id: cmd.client_msg_id,
        body: cmd.body,
        mentions: cmd.mentions,
        mention_all: cmd.mention_all,
        ts: cmd.ts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(cmid: &str, text: &str) -> SendMessage {
        SendMessage {
            app: AppId::parse("app").unwrap(),
            from: UserId::parse("alice").unwrap(),
            to: Recipient::User(UserId::parse("bob").unwrap()),
            client_msg_id: ClientMsgId::parse(cmid).unwrap(),
            body: Body::Text { text: text.into() },
            mentions: Vec::new(),
            mention_all: false,
            msg_id: MessageId::parse("0190a6e4-8c1e-7c3a-9f00-0123456789ab").unwrap(),
            ts: 7,
        }
    }

    fn record(state: &mut ConvState, cmd: SendMessage) -> MessageSent {
        match decide_send(state, cmd, BodyLimits::default(), MessagingPolicy::Open).unwrap() {
            SendDecision::Record(m) => {
                state.evolve(&Event::MessageSent(m.clone()));
                m
            }
            other => panic!("expected a new message, got {other:?}"),
        }
    }

    #[test]
    fn conv_seq_is_gapless() {
        let mut state = ConvState::default();
        assert_eq!(record(&mut state, send("a", "1")).conv_seq, 1);
        assert_eq!(record(&mut state, send("b", "2")).conv_seq, 2);
        assert_eq!(record(&mut state, send("c", "3")).conv_seq, 3);
    }

    #[test]
    fn a_retry_gets_the_original_receipt() {
        let mut state = ConvState::default();
        let first = record(&mut state, send("a", "1"));
        record(&mut state, send("b", "2"));
        match decide_send(
            &state,
            send("a", "changed"),
            BodyLimits::default(),
            MessagingPolicy::Open,
        )
        .unwrap()
        {
            SendDecision::Duplicate(r) => {
                assert_eq!(r.conv_seq, first.conv_seq);
                assert_eq!(r.msg_id, first.msg_id);
            }
            other => panic!("expected duplicate, got {other:?}"),
        }
    }

    #[test]
    fn oversize_body_is_refused() {
        let state = ConvState::default();
        let err = decide_send(
            &state,
            send("a", &"x".repeat(5000)),
            BodyLimits::default(),
            MessagingPolicy::Open,
        );
        assert!(matches!(err, Err(DomainError::InvalidBody(_))));
    }

    #[test]
    fn blocks_and_the_friends_only_policy_refuse_sends() {
        use crate::pair::{PairCommand, decide};
        let (app, alice, bob) = (
            AppId::parse("app").unwrap(),
            UserId::parse("alice").unwrap(),
            UserId::parse("bob").unwrap(),
        );
        let mut state = ConvState::default();
        let friends_only = MessagingPolicy::FriendsOnly;
        let limits = BodyLimits::default();
        assert!(matches!(
            decide_send(&state, send("a", "x"), limits, friends_only),
            Err(DomainError::NotFriends(_))
        ));
        for e in decide(&state.pair, &app, &alice, &bob, PairCommand::Add, 1).unwrap() {
            state.evolve(&e);
        }
        assert!(decide_send(&state, send("a", "x"), limits, friends_only).is_ok());
        for e in decide(&state.pair, &app, &bob, &alice, PairCommand::Block, 2).unwrap() {
            state.evolve(&e);
        }
        assert!(matches!(
            decide_send(&state, send("a", "x"), limits, MessagingPolicy::Open),
            Err(DomainError::Blocked(_))
        ));
    }
}
