//! The public feed record, version 1: what an internal event means to an integrator, as JSON.
//! A pure translation (`record`), so replaying the events stream yields the same records.
//! Its shape is fixed by `schemas/feed/v1/`; a change that is not an added field is a `v2`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tidings_domain::event::{GroupChange, PairChange};
use tidings_domain::{AppId, Event};

/// The version of the record format, also the subject's `v1` token.
pub const VERSION: u32 = 1;

/// The feed's kinds, one subject each (`tid.feed.v1.<app>.<kind>`).
pub mod kind {
    /// Messages sent, including system messages.
    pub const MESSAGE: &str = "message";
    /// Messages recalled.
    pub const RECALL: &str = "recall";
    /// Messages edited.
    pub const EDIT: &str = "edit";
    /// Friend requests, friendships and blocks between two users.
    pub const RELATION: &str = "relation";
    /// Groups: lifecycle, profile, members, roles, announcements, mutes.
    pub const GROUP: &str = "group";
    /// Users: registered, profile changed, deactivated.
    pub const USER: &str = "user";
}

/// Every kind, in the order the documentation lists them.
pub const KINDS: [&str; 6] = [
    kind::MESSAGE,
    kind::RECALL,
    kind::EDIT,
    kind::RELATION,
    kind::GROUP,
    kind::USER,
];

/// One feed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record format's version (1).
    pub v: u32,
    /// The source event's position in Tidings' event log: unique per record, increasing in
    /// the order things happened; the record's identity for deduplication.
    pub event_seq: u64,
    pub app: String,
    /// The subject's last token (see [`kind`]).
    pub kind: String,
    /// What happened (`message_sent`, `group_members_added`, ...).
    #[serde(rename = "type")]
    pub record_type: String,
    /// When it happened, ms since the Unix epoch (server time).
    pub ts: i64,
    /// The type's fields.
    pub data: Value,
}

fn make(
    event_seq: u64,
    app: &AppId,
    kind: &str,
    record_type: &str,
    ts: i64,
    data: Value,
) -> Record {
    Record {
        v: VERSION,
        event_seq,
        app: app.to_string(),
        kind: kind.to_owned(),
        record_type: record_type.to_owned(),
        ts,
        data,
    }
}

fn group_data(change: &GroupChange) -> Value {
    match change {
        GroupChange::Created {
            name,
            avatar_url,
            intro,
            join_policy,
            members,
        } => json!({"name": name, "avatar_url": avatar_url, "intro": intro,
                    "join_policy": join_policy, "members": members}),
        GroupChange::Updated {
            name,
            avatar_url,
            intro,
            join_policy,
        } => json!({"name": name, "avatar_url": avatar_url, "intro": intro,
                    "join_policy": join_policy}),
        GroupChange::Dismissed => json!({}),
        GroupChange::OwnerTransferred { to } => json!({ "to": to }),
        GroupChange::AdminSet { user, admin } => json!({"user": user, "admin": admin}),
        GroupChange::MembersAdded { users } => json!({ "users": users }),
        GroupChange::MemberRemoved { user, kicked } => json!({"user": user, "kicked": kicked}),
        GroupChange::JoinRequested { note } => json!({ "note": note }),
        GroupChange::JoinDecided { user, approved } => {
            json!({"user": user, "approved": approved})
        }
        GroupChange::Announced { text } => json!({ "text": text }),
        GroupChange::MemberMuted { user, muted } => json!({"user": user, "muted": muted}),
        GroupChange::MutedAll { muted } => json!({ "muted": muted }),
    }
}

/// The record an event at `event_seq` makes, if integrators hear of it. Reads, hides, clears,
/// conversation settings, reactions, pins, token revocations and app changes make none (they
/// are a user's own view, or the operator's).
pub fn record(event_seq: u64, event: &Event) -> Option<Record> {
    let t = event.event_type();
    let r = match event {
        Event::MessageSent(m) => make(
            event_seq,
            &m.app,
            kind::MESSAGE,
            t,
            m.ts,
            json!({
                "conv": m.conv, "conv_seq": m.conv_seq, "msg_id": m.msg_id, "from": m.from,
                "to": m.to, "client_msg_id": m.client_msg_id, "body": m.body,
                "mentions": m.mentions, "mention_all": m.mention_all,
                "reply_to": m.reply_to, "forward_of": m.forward_of,
            }),
        ),
        Event::SystemMessageSent(m) => make(
            event_seq,
            &m.app,
            kind::MESSAGE,
            t,
            m.ts,
            json!({"msg_id": m.msg_id, "to": m.to, "body": m.body}),
        ),
        Event::MessageRecalled(r) => make(
            event_seq,
            &r.app,
            kind::RECALL,
            t,
            r.ts,
            json!({"conv": r.conv, "conv_seq": r.conv_seq, "msg_id": r.msg_id, "by": r.by}),
        ),
        Event::MessageEdited(e) => make(
            event_seq,
            &e.app,
            kind::EDIT,
            t,
            e.ts,
            json!({"conv": e.conv, "conv_seq": e.conv_seq, "msg_id": e.msg_id, "by": e.by,
                   "body": e.body, "edit_seq": e.edit_seq}),
        ),
        Event::PairChanged(p) => {
            let note = match &p.change {
                PairChange::FriendRequested { note } => note.clone(),
                _ => None,
            };
            make(
                event_seq,
                &p.app,
                kind::RELATION,
                t,
                p.ts,
                json!({"conv": p.conv, "actor": p.actor, "other": p.other, "note": note}),
            )
        }
        Event::GroupChanged(g) => {
            let mut data = group_data(&g.change);
            data["group"] = json!(g.group);
            data["conv"] = json!(g.conv);
            data["actor"] = json!(g.actor);
            make(event_seq, &g.app, kind::GROUP, t, g.ts, data)
        }
        Event::UserRegistered(p) | Event::UserProfileUpdated(p) => make(
            event_seq,
            &p.app,
            kind::USER,
            t,
            p.ts,
            json!({"user": p.user, "name": p.name, "avatar_url": p.avatar_url,
                   "extra": p.extra, "version": p.version}),
        ),
        Event::UserDeactivated(d) => make(
            event_seq,
            &d.app,
            kind::USER,
            t,
            d.ts,
            json!({ "user": d.user }),
        ),
        Event::UserTokensRevoked(_)
        | Event::ConversationRead(_)
        | Event::MessageHidden(_)
        | Event::ConversationCleared(_)
        | Event::ConversationSettingsChanged(_)
        | Event::AppChanged(_)
        | Event::ReactionAdded(_)
        | Event::ReactionRemoved(_)
        | Event::MessagePinned(_)
        | Event::MessageUnpinned(_)
        | Event::DeviceRegistered(_)
        | Event::DeviceSignedOut(_)
        | Event::PushSettingsChanged(_)
        | Event::UserTagsChanged(_) => return None,
        // Not in feed v1 yet (docs/protocol.md, Event feed): customer-service traffic and
        // broadcasts.
        Event::ServiceRosterChanged(_)
        | Event::ServiceSessionChanged(_)
        | Event::ServiceMessageSent(_)
        | Event::BroadcastSent(_) => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests;
