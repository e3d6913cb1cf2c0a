//! The current domain events. Wire versions live in `tidings-events` and upgrade into these.

use crate::app::AppSettings;
use crate::login::Platform;
use crate::membership::JoinPolicy;
use crate::{
    AppId, Body, ClientMsgId, ConvId, DeviceId, GroupId, MessageId, Recipient, Tag, UserId,
};
use serde::{Deserialize, Serialize};

/// The stable type name of every event, carried in the `Tidings-Event-Type` header. Each name is
/// written here only: `event_type` below and the registry in `tidings-events` refer to these.
/// A published name never changes.
pub mod types {
    /// [`Event::UserRegistered`](super::Event::UserRegistered).
    pub const USER_REGISTERED: &str = "user_registered";
    /// [`Event::UserProfileUpdated`](super::Event::UserProfileUpdated).
    pub const USER_PROFILE_UPDATED: &str = "user_profile_updated";
    /// [`Event::UserDeactivated`](super::Event::UserDeactivated).
    pub const USER_DEACTIVATED: &str = "user_deactivated";
    /// [`Event::UserTokensRevoked`](super::Event::UserTokensRevoked).
    pub const USER_TOKENS_REVOKED: &str = "user_tokens_revoked";
    /// [`Event::MessageSent`](super::Event::MessageSent).
    pub const MESSAGE_SENT: &str = "message_sent";
    /// [`Event::SystemMessageSent`](super::Event::SystemMessageSent).
    pub const SYSTEM_MESSAGE_SENT: &str = "system_message_sent";
    /// [`Event::ConversationRead`](super::Event::ConversationRead).
    pub const CONVERSATION_READ: &str = "conversation_read";
    /// [`Event::MessageHidden`](super::Event::MessageHidden).
    pub const MESSAGE_HIDDEN: &str = "message_hidden";
    /// [`Event::ConversationCleared`](super::Event::ConversationCleared).
    pub const CONVERSATION_CLEARED: &str = "conversation_cleared";
    /// [`Event::ConversationSettingsChanged`](super::Event::ConversationSettingsChanged).
    pub const CONVERSATION_SETTINGS_CHANGED: &str = "conversation_settings_changed";
    /// [`Event::MessageRecalled`](super::Event::MessageRecalled).
    pub const MESSAGE_RECALLED: &str = "message_recalled";
    /// [`Event::MessageEdited`](super::Event::MessageEdited).
    pub const MESSAGE_EDITED: &str = "message_edited";
    /// [`Event::ReactionAdded`](super::Event::ReactionAdded).
    pub const REACTION_ADDED: &str = "reaction_added";
    /// [`Event::ReactionRemoved`](super::Event::ReactionRemoved).
    pub const REACTION_REMOVED: &str = "reaction_removed";
    /// [`Event::MessagePinned`](super::Event::MessagePinned).
    pub const MESSAGE_PINNED: &str = "message_pinned";
    /// [`Event::MessageUnpinned`](super::Event::MessageUnpinned).
    pub const MESSAGE_UNPINNED: &str = "message_unpinned";
    /// [`Event::PushSettingsChanged`](super::Event::PushSettingsChanged).
    pub const PUSH_SETTINGS_CHANGED: &str = "push_settings_changed";

    /// [`PairChange::FriendRequested`](super::PairChange::FriendRequested).
    pub const FRIEND_REQUESTED: &str = "friend_requested";
    /// [`PairChange::FriendAccepted`](super::PairChange::FriendAccepted).
    pub const FRIEND_REQUEST_ACCEPTED: &str = "friend_request_accepted";
    /// [`PairChange::FriendRejected`](super::PairChange::FriendRejected).
    pub const FRIEND_REQUEST_REJECTED: &str = "friend_request_rejected";
    /// [`PairChange::FriendRequestCanceled`](super::PairChange::FriendRequestCanceled).
    pub const FRIEND_REQUEST_CANCELED: &str = "friend_request_canceled";
    /// [`PairChange::FriendRemoved`](super::PairChange::FriendRemoved).
    pub const FRIEND_REMOVED: &str = "friend_removed";
    /// [`PairChange::FriendAdded`](super::PairChange::FriendAdded).
    pub const FRIEND_ADDED: &str = "friend_added";
    /// [`PairChange::Blocked`](super::PairChange::Blocked).
    pub const USER_BLOCKED: &str = "user_blocked";
    /// [`PairChange::Unblocked`](super::PairChange::Unblocked).
    pub const USER_UNBLOCKED: &str = "user_unblocked";

    /// [`GroupChange::Created`](super::GroupChange::Created).
    pub const GROUP_CREATED: &str = "group_created";
    /// [`GroupChange::Updated`](super::GroupChange::Updated).
    pub const GROUP_UPDATED: &str = "group_updated";
    /// [`GroupChange::Dismissed`](super::GroupChange::Dismissed).
    pub const GROUP_DISMISSED: &str = "group_dismissed";
    /// [`GroupChange::OwnerTransferred`](super::GroupChange::OwnerTransferred).
    pub const GROUP_OWNER_TRANSFERRED: &str = "group_owner_transferred";
    /// [`GroupChange::AdminSet`](super::GroupChange::AdminSet).
    pub const GROUP_ADMIN_SET: &str = "group_admin_set";
    /// [`GroupChange::MembersAdded`](super::GroupChange::MembersAdded).
    pub const GROUP_MEMBERS_ADDED: &str = "group_members_added";
    /// [`GroupChange::MemberRemoved`](super::GroupChange::MemberRemoved).
    pub const GROUP_MEMBER_REMOVED: &str = "group_member_removed";
    /// [`GroupChange::JoinRequested`](super::GroupChange::JoinRequested).
    pub const GROUP_JOIN_REQUESTED: &str = "group_join_requested";
    /// [`GroupChange::JoinDecided`](super::GroupChange::JoinDecided).
    pub const GROUP_JOIN_DECIDED: &str = "group_join_decided";
    /// [`GroupChange::Announced`](super::GroupChange::Announced).
    pub const GROUP_ANNOUNCED: &str = "group_announced";
    /// [`GroupChange::MemberMuted`](super::GroupChange::MemberMuted).
    pub const GROUP_MEMBER_MUTED: &str = "group_member_muted";
    /// [`GroupChange::MutedAll`](super::GroupChange::MutedAll).
    pub const GROUP_MUTED_ALL: &str = "group_muted_all";

    /// [`AppChange::Created`](super::AppChange::Created).
    pub const APP_CREATED: &str = "app_created";
    /// [`AppChange::SecretRotated`](super::AppChange::SecretRotated).
    pub const APP_SECRET_ROTATED: &str = "app_secret_rotated";
    /// [`AppChange::SettingsChanged`](super::AppChange::SettingsChanged).
    pub const APP_SETTINGS_CHANGED: &str = "app_settings_changed";
    /// [`AppChange::Disabled`](super::AppChange::Disabled).
    pub const APP_DISABLED: &str = "app_disabled";

    /// [`Event::DeviceRegistered`](super::Event::DeviceRegistered).
    pub const DEVICE_REGISTERED: &str = "device_registered";
    /// [`Event::DeviceSignedOut`](super::Event::DeviceSignedOut).
    pub const DEVICE_SIGNED_OUT: &str = "device_signed_out";
    /// [`Event::ServiceRosterChanged`](super::Event::ServiceRosterChanged).
    pub const SERVICE_ROSTER_CHANGED: &str = "service_roster_changed";
    /// [`Event::ServiceSessionChanged`](super::Event::ServiceSessionChanged).
    pub const SERVICE_SESSION_CHANGED: &str = "service_session_changed";
    /// [`Event::ServiceMessageSent`](super::Event::ServiceMessageSent).
    pub const SERVICE_MESSAGE_SENT: &str = "service_message_sent";
    /// [`Event::UserTagsChanged`](super::Event::UserTagsChanged).
    pub const USER_TAGS_CHANGED: &str = "user_tags_changed";
    /// [`Event::BroadcastSent`](super::Event::BroadcastSent).
    pub const BROADCAST_SENT: &str = "broadcast_sent";
}

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
    MessageHidden(MessageHidden),
    ConversationCleared(ConversationCleared),
    ConversationSettingsChanged(ConversationSettingsChanged),
    SystemMessageSent(SystemMessageSent),
    AppChanged(AppChanged),
    MessageRecalled(MessageRecalled),
    MessageEdited(MessageEdited),
    ReactionAdded(Reaction),
    ReactionRemoved(Reaction),
    MessagePinned(Pin),
    MessageUnpinned(Pin),
    DeviceRegistered(DeviceChange),
    DeviceSignedOut(DeviceChange),
    ServiceRosterChanged(crate::service::RosterChanged),
    ServiceSessionChanged(crate::service::SessionChanged),
    ServiceMessageSent(crate::service::ServiceMessageSent),
    PushSettingsChanged(PushSettingsChanged),
    UserTagsChanged(UserTagsChanged),
    BroadcastSent(BroadcastSent),
}

impl Event {
    /// The stable type name carried in the `Tidings-Event-Type` header.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::UserRegistered(_) => types::USER_REGISTERED,
            Event::UserProfileUpdated(_) => types::USER_PROFILE_UPDATED,
            Event::UserDeactivated(_) => types::USER_DEACTIVATED,
            Event::UserTokensRevoked(_) => types::USER_TOKENS_REVOKED,
            Event::MessageSent(_) => types::MESSAGE_SENT,
            Event::PairChanged(p) => p.change.event_type(),
            Event::GroupChanged(g) => g.change.event_type(),
            Event::ConversationRead(_) => types::CONVERSATION_READ,
            Event::MessageHidden(_) => types::MESSAGE_HIDDEN,
            Event::ConversationCleared(_) => types::CONVERSATION_CLEARED,
            Event::ConversationSettingsChanged(_) => types::CONVERSATION_SETTINGS_CHANGED,
            Event::SystemMessageSent(_) => types::SYSTEM_MESSAGE_SENT,
            Event::AppChanged(a) => a.change.event_type(),
            Event::MessageRecalled(_) => types::MESSAGE_RECALLED,
            Event::MessageEdited(_) => types::MESSAGE_EDITED,
            Event::ReactionAdded(_) => types::REACTION_ADDED,
            Event::ReactionRemoved(_) => types::REACTION_REMOVED,
            Event::MessagePinned(_) => types::MESSAGE_PINNED,
            Event::MessageUnpinned(_) => types::MESSAGE_UNPINNED,
            Event::DeviceRegistered(_) => types::DEVICE_REGISTERED,
            Event::DeviceSignedOut(_) => types::DEVICE_SIGNED_OUT,
            Event::ServiceRosterChanged(_) => types::SERVICE_ROSTER_CHANGED,
            Event::ServiceSessionChanged(_) => types::SERVICE_SESSION_CHANGED,
            Event::ServiceMessageSent(_) => types::SERVICE_MESSAGE_SENT,
            Event::PushSettingsChanged(_) => types::PUSH_SETTINGS_CHANGED,
            Event::UserTagsChanged(_) => types::USER_TAGS_CHANGED,
            Event::BroadcastSent(_) => types::BROADCAST_SENT,
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
            Event::MessageHidden(h) => ("reads", h.user.as_str()),
            Event::ConversationCleared(c) => ("reads", c.user.as_str()),
            Event::ConversationSettingsChanged(c) => ("settings", c.user.as_str()),
            Event::SystemMessageSent(m) => ("system", m.msg_id.as_str()),
            Event::AppChanged(a) => ("app", a.app.as_str()),
            Event::MessageRecalled(r) => ("conv", r.conv.as_str()),
            Event::MessageEdited(e) => ("conv", e.conv.as_str()),
            Event::ReactionAdded(r) | Event::ReactionRemoved(r) => ("conv", r.conv.as_str()),
            Event::MessagePinned(p) | Event::MessageUnpinned(p) => ("conv", p.conv.as_str()),
            Event::DeviceRegistered(d) | Event::DeviceSignedOut(d) => ("user", d.user.as_str()),
            Event::ServiceRosterChanged(r) => ("service", r.service.as_str()),
            Event::ServiceSessionChanged(s) => ("service", s.service.as_str()),
            Event::ServiceMessageSent(m) => ("service", m.service.as_str()),
            Event::PushSettingsChanged(p) => ("user", p.user.as_str()),
            Event::UserTagsChanged(t) => ("user", t.user.as_str()),
            Event::BroadcastSent(b) => ("broadcast", b.app.as_str()),
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
    /// The message of the same conversation this one answers.
    pub reply_to: Option<ReplyRef>,
    /// Where this message was first sent, when it is a forwarded copy.
    pub forward_of: Option<ForwardRef>,
    /// Milliseconds since the Unix epoch, server time at decision.
    pub ts: i64,
}

/// The message a reply answers, in the same conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRef {
    pub msg_id: MessageId,
    pub conv_seq: u64,
    /// Its sender.
    pub from: UserId,
}

/// The original of a forwarded message: where and by whom it was first sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardRef {
    pub conv: ConvId,
    pub msg_id: MessageId,
    pub from: UserId,
    pub ts: i64,
}

/// A message was recalled: its body is gone from every read model, who recalled it and when
/// are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecalled {
    pub app: AppId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    /// The user who recalled it, or `None` for the app server (moderation).
    pub by: Option<UserId>,
    pub ts: i64,
}

/// A text message's sender replaced its body; `edit_seq` counts the message's edits from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEdited {
    pub app: AppId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    pub by: UserId,
    pub body: Body,
    pub edit_seq: u64,
    pub ts: i64,
}

/// A user added or removed a reaction (`key`, e.g. an emoji) on a message. The event is recorded
/// for every request; whether it changed the message's reactions (one per user per key) is
/// the read model's to say, so a repeat counts once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub app: AppId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    /// The message's sender (who hears of reactions in read-diffusion groups).
    pub sender: UserId,
    pub user: UserId,
    pub key: String,
    pub ts: i64,
}

/// A message was pinned to, or unpinned from, its conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    pub app: AppId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    /// The user who pinned or unpinned it, or `None` for the app server.
    pub by: Option<UserId>,
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

/// One of a user's devices, as registered (its first hello, or its first after a sign-out) or
/// signed out (tokens issued up to `ts`, in milliseconds, no longer open sessions as it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceChange {
    pub app: AppId,
    pub user: UserId,
    pub device: DeviceId,
    pub platform: Platform,
    pub ts: i64,
}

/// What changed in an app (a tenant managed at runtime).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppChange {
    Created {
        secret: String,
        settings: AppSettings,
    },
    /// The secret was replaced; the previous one signs until `previous_valid_until` (ms).
    SecretRotated {
        secret: String,
        previous_valid_until: i64,
    },
    /// The settings as they now are (all of them, not a difference).
    SettingsChanged {
        settings: AppSettings,
    },
    Disabled,
}

impl AppChange {
    /// The stable event type name of this change.
    pub fn event_type(&self) -> &'static str {
        match self {
            AppChange::Created { .. } => types::APP_CREATED,
            AppChange::SecretRotated { .. } => types::APP_SECRET_ROTATED,
            AppChange::SettingsChanged { .. } => types::APP_SETTINGS_CHANGED,
            AppChange::Disabled => types::APP_DISABLED,
        }
    }
}

/// An app changed, recorded on the app's own subject (`tid.evt.<app>.app.<app>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppChanged {
    pub app: AppId,
    pub change: AppChange,
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
            PairChange::FriendRequested { .. } => types::FRIEND_REQUESTED,
            PairChange::FriendAccepted => types::FRIEND_REQUEST_ACCEPTED,
            PairChange::FriendRejected => types::FRIEND_REQUEST_REJECTED,
            PairChange::FriendRequestCanceled => types::FRIEND_REQUEST_CANCELED,
            PairChange::FriendRemoved => types::FRIEND_REMOVED,
            PairChange::FriendAdded => types::FRIEND_ADDED,
            PairChange::Blocked => types::USER_BLOCKED,
            PairChange::Unblocked => types::USER_UNBLOCKED,
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
            GroupChange::Created { .. } => types::GROUP_CREATED,
            GroupChange::Updated { .. } => types::GROUP_UPDATED,
            GroupChange::Dismissed => types::GROUP_DISMISSED,
            GroupChange::OwnerTransferred { .. } => types::GROUP_OWNER_TRANSFERRED,
            GroupChange::AdminSet { .. } => types::GROUP_ADMIN_SET,
            GroupChange::MembersAdded { .. } => types::GROUP_MEMBERS_ADDED,
            GroupChange::MemberRemoved { .. } => types::GROUP_MEMBER_REMOVED,
            GroupChange::JoinRequested { .. } => types::GROUP_JOIN_REQUESTED,
            GroupChange::JoinDecided { .. } => types::GROUP_JOIN_DECIDED,
            GroupChange::Announced { .. } => types::GROUP_ANNOUNCED,
            GroupChange::MemberMuted { .. } => types::GROUP_MEMBER_MUTED,
            GroupChange::MutedAll { .. } => types::GROUP_MUTED_ALL,
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
    /// The device that read, when one did (its per-device read position).
    pub device: Option<DeviceId>,
    pub ts: i64,
}

/// `user` hid the message `conv_seq` of `conv` from their own view (delete for me).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageHidden {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub ts: i64,
}

/// `user` cleared `conv` from their own view up to `up_to` (clear for me). Always above the
/// user's previous mark for the conversation: clearing only moves forward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationCleared {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub up_to: u64,
    pub ts: i64,
}

/// One user's settings for one conversation, as they follow the user across devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSettings {
    pub pinned: bool,
    /// Muted (do not disturb) until this time, unix ms; `i64::MAX` for ever; `None`: not muted.
    pub muted_until: Option<i64>,
    pub draft: Option<String>,
    pub marked_unread: bool,
    /// Hidden from the conversation list until a message newer than `hidden_up_to` arrives.
    pub hidden: bool,
    /// The conversation's newest `conv_seq` when it was hidden (0 when not hidden).
    pub hidden_up_to: u64,
}

/// `user` changed their settings for `conv`; `settings` is the whole of them after the change
/// (not the patch), so a device or a read model needs no earlier event to show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSettingsChanged {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub settings: ConvSettings,
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

/// `user` changed their push settings (a device's registration, or do-not-disturb);
/// `settings` is the whole of them after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushSettingsChanged {
    pub app: AppId,
    pub user: UserId,
    pub settings: crate::push::PushSettings,
    pub ts: i64,
}

/// The app server changed a user's tags: `added` were not held before, `removed` were. Never
/// both empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserTagsChanged {
    pub app: AppId,
    pub user: UserId,
    pub added: Vec<Tag>,
    pub removed: Vec<Tag>,
    pub ts: i64,
}

/// The app server broadcast a system message to every user of the app (`tag` absent) or to
/// the users holding `tag`. Recorded once, on the app's broadcast subject; `bseq` numbers the
/// app's broadcasts, gapless from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastSent {
    pub app: AppId,
    pub bseq: u64,
    pub msg_id: MessageId,
    pub tag: Option<Tag>,
    pub body: Body,
    pub ts: i64,
}
