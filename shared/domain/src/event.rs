//! The current domain events. Wire versions live in `tidings-events` and upgrade into these.

use crate::group::JoinPolicy;
use crate::{AppId, Body, ClientMsgId, ConvId, GroupId, MessageId, Recipient, UserId};
use serde::{Deserialize, Serialize};

/// Something that happened, in the past tense. Every variant has a stable type name.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    UserRegistered(UserProfile),
    UserProfileUpdated(UserProfile),
    UserDeactivated(UserDeactivated),
    UserTokensRevoked(UserTokensRevoked),
    MessageSent(MessageSent),
    PairChanged(PairChanged),
    GroupChanged(GroupChanged),
    ConversationRead(ConversationRead),
    SystemMessageSent(SystemMessageSent),
}

impl Event {
    /// The stable type name carried in the `Tidings-Event-Type` header.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::UserRegistered(_) => "user_registered",
            Event::UserProfileUpdated(_) => "user_profile_updated",
            Event::UserDeactivated(_) => "user_deactivated",
            Event::UserTokensRevoked(_) => "user_tokens_revoked",
            Event::MessageSent(_) => "message_sent",
            Event::PairChanged(p) => p.change.event_type(),
            Event::GroupChanged(g) => g.change.event_type(),
            Event::ConversationRead(_) => "conversation_read",
            Event::SystemMessageSent(_) => "system_message_sent",
        }
    }

    /// The aggregate whose subject this event belongs to: (kind, id).
    pub fn aggregate(&self) -> (&'static str, &str) {
        match self {
            Event::UserRegistered(p) | Event::UserProfileUpdated(p) => ("user", p.user.as_str()),
            Event::UserDeactivated(d) => ("user", d.user.as_str()),
            Event::UserTokensRevoked(r) => ("user", r.user.as_str()),
            Event::MessageSent(m) => ("conv", m.conv.as_str()),
            Event::PairChanged(p) => ("conv", p.conv.as_str()),
            Event::GroupChanged(g) => ("conv", g.conv.as_str()),
            Event::ConversationRead(r) => ("reads", r.user.as_str()),
            Event::SystemMessageSent(m) => ("system", m.msg_id.as_str()),
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
    /// Group members mentioned.
    pub mentions: Vec<UserId>,
    /// `@all`.
    pub mention_all: bool,
    /// Milliseconds since the Unix epoch, server time at decision.
    pub ts: i64,
}

/// A user can no longer sign in, send or be messaged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDeactivated {
    pub app: AppId,
    pub user: UserId,
    pub ts: i64,
}

/// Every token minted before `epoch` is revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserTokensRevoked {
    pub app: AppId,
    pub user: UserId,
    pub epoch: u64,
    pub ts: i64,
}

/// What changed between two users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairChange {
    FriendRequested { note: Option<String> },
    FriendAccepted,
    FriendRejected,
    FriendRequestCanceled,
    FriendRemoved,
    FriendAdded,
    Blocked,
    Unblocked,
}

impl PairChange {
    /// The stable event type name of this change.
    pub fn event_type(&self) -> &'static str {
        match self {
            PairChange::FriendRequested { .. } => "friend_requested",
            PairChange::FriendAccepted => "friend_request_accepted",
            PairChange::FriendRejected => "friend_request_rejected",
            PairChange::FriendRequestCanceled => "friend_request_canceled",
            PairChange::FriendRemoved => "friend_removed",
            PairChange::FriendAdded => "friend_added",
            PairChange::Blocked => "user_blocked",
            PairChange::Unblocked => "user_unblocked",
        }
    }
}

/// `actor` changed their relationship with `other`, recorded on the pair's direct conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairChanged {
    pub app: AppId,
    pub conv: ConvId,
    pub actor: UserId,
    pub other: UserId,
    pub change: PairChange,
    pub ts: i64,
}

/// What changed in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupChange {
    Created {
        name: String,
        avatar_url: Option<String>,
        intro: Option<String>,
        join_policy: JoinPolicy,
        /// Initial members besides the creator (the owner).
        members: Vec<UserId>,
    },
    /// The group's profile as it now is.
    Updated {
        name: String,
        avatar_url: Option<String>,
        intro: Option<String>,
        join_policy: JoinPolicy,
    },
    Dismissed,
    OwnerTransferred {
        to: UserId,
    },
    AdminSet {
        user: UserId,
        admin: bool,
    },
    MembersAdded {
        users: Vec<UserId>,
    },
    MemberRemoved {
        user: UserId,
        kicked: bool,
    },
    JoinRequested {
        note: Option<String>,
    },
    JoinDecided {
        user: UserId,
        approved: bool,
    },
    Announced {
        text: String,
    },
    MemberMuted {
        user: UserId,
        muted: bool,
    },
    MutedAll {
        muted: bool,
    },
}

impl GroupChange {
    /// The stable event type name of this change.
    pub fn event_type(&self) -> &'static str {
        match self {
            GroupChange::Created { .. } => "group_created",
            GroupChange::Updated { .. } => "group_updated",
            GroupChange::Dismissed => "group_dismissed",
            GroupChange::OwnerTransferred { .. } => "group_owner_transferred",
            GroupChange::AdminSet { .. } => "group_admin_set",
            GroupChange::MembersAdded { .. } => "group_members_added",
            GroupChange::MemberRemoved { .. } => "group_member_removed",
            GroupChange::JoinRequested { .. } => "group_join_requested",
            GroupChange::JoinDecided { .. } => "group_join_decided",
            GroupChange::Announced { .. } => "group_announced",
            GroupChange::MemberMuted { .. } => "group_member_muted",
            GroupChange::MutedAll { .. } => "group_muted_all",
        }
    }
}

/// `actor` changed a group, recorded on the group conversation's subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupChanged {
    pub app: AppId,
    pub group: GroupId,
    pub conv: ConvId,
    pub actor: UserId,
    pub change: GroupChange,
    pub ts: i64,
}

/// `user` has read `conv` up to `conv_seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRead {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub ts: i64,
}

/// The app server sent a system message to some users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMessageSent {
    pub app: AppId,
    pub msg_id: MessageId,
    /// The recipients, each an active user when sent.
    pub to: Vec<UserId>,
    pub body: Body,
    pub ts: i64,
}
