//! Rows of the read models, shaped as clients receive them.

use serde::{Deserialize, Serialize};
use tidings_domain::event::{MessageSent, UserProfile};
use tidings_domain::{Body, ConvId, GroupId, MessageId, Recipient, UserId};

/// One entry of a user's inbox: the `entry` frame without its `t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub ts: i64,
    #[serde(flatten)]
    pub item: EntryItem,
}

/// What an inbox entry is about, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryItem {
    Message(MessageView),
    FriendRequest(RelationNotice),
    FriendAccepted(RelationNotice),
    FriendRejected(RelationNotice),
    FriendRequestCanceled(RelationNotice),
    FriendRemoved(RelationNotice),
    FriendAdded(RelationNotice),
    UserBlocked(RelationNotice),
    UserUnblocked(RelationNotice),
}

/// A relationship change as an inbox entry: `from` acted, `to` is the other user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationNotice {
    pub from: UserId,
    pub to: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A message as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    pub from: UserId,
    pub to: Recipient,
    pub body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<UserId>>,
}

impl From<&MessageSent> for MessageView {
    fn from(m: &MessageSent) -> Self {
        MessageView {
            conv: m.conv.clone(),
            conv_seq: m.conv_seq,
            msg_id: m.msg_id.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            body: m.body.clone(),
            mentions: None,
        }
    }
}

/// A message in a conversation's timeline (history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineMessage {
    pub ts: i64,
    #[serde(flatten)]
    pub message: MessageView,
}

/// One row of a user's conversation list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub conv: ConvId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupId>,
    /// `conv_seq` of the newest message.
    pub last_seq: u64,
    /// `conv_seq` up to which this user has read.
    pub read_seq: u64,
    pub unread: u64,
    pub last_ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<MessageView>,
}

/// A user's profile row, with what tokens and sync need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub profile: UserProfile,
    pub deactivated: bool,
    /// Tokens with an older epoch are revoked.
    pub token_epoch: u64,
    /// Stream sequence of the row's last change: the `users:changed` cursor.
    pub cursor: u64,
}

/// Which way a pending friend request points, seen from the row's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The other user asked the owner.
    In,
    /// The owner asked the other user.
    Out,
}

/// A user's relationship with one other user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    pub user: UserId,
    pub friend: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the owner blocks this user.
    pub blocked: bool,
    /// When the row last changed (ms).
    pub ts: i64,
    /// Stream sequence of the row's last change: the `relations:changed` cursor.
    pub cursor: u64,
}

/// A change to a relation row; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationPatch {
    pub friend: Option<bool>,
    /// `Some(None)` clears a pending request.
    pub request: Option<Option<(Direction, Option<String>)>>,
    pub blocked: Option<bool>,
}
