//! Rows of the read models, shaped as clients receive them.

use serde::{Deserialize, Serialize};
use tidings_domain::event::MessageSent;
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
