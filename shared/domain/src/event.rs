//! The current domain events. Wire versions live in `tidings-events` and upgrade into these.

use crate::{AppId, Body, ClientMsgId, ConvId, MessageId, Recipient, UserId};
use serde::{Deserialize, Serialize};

/// Something that happened, in the past tense. Every variant has a stable type name.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    UserRegistered(UserProfile),
    UserProfileUpdated(UserProfile),
    MessageSent(MessageSent),
}

impl Event {
    /// The stable type name carried in the `Tidings-Event-Type` header.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::UserRegistered(_) => "user_registered",
            Event::UserProfileUpdated(_) => "user_profile_updated",
            Event::MessageSent(_) => "message_sent",
        }
    }

    /// The aggregate whose subject this event belongs to: (kind, id).
    pub fn aggregate(&self) -> (&'static str, &str) {
        match self {
            Event::UserRegistered(p) | Event::UserProfileUpdated(p) => ("user", p.user.as_str()),
            Event::MessageSent(m) => ("conv", m.conv.as_str()),
        }
    }
}

/// A user's profile as of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub app: AppId,
    pub user: UserId,
    pub name: String,
    pub avatar_url: Option<String>,
    pub extra: Option<serde_json::Value>,
    /// Increases by one with every profile change, starting at 1.
    pub version: u64,
    pub ts: i64,
}

/// A message recorded in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageSent {
    pub app: AppId,
    pub conv: ConvId,
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub from: UserId,
    pub to: Recipient,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
    /// Milliseconds since the Unix epoch, server time at decision.
    pub ts: i64,
}
