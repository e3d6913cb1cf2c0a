//! Rows of the read models, shaped as clients receive them.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tidings_domain::event::{ConvSettings, ForwardRef, MessageSent, UserProfile};
use tidings_domain::group::{JoinPolicy, Role};
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
    Message(Arc<MessageView>),
    FriendRequest(RelationNotice),
    FriendAccepted(RelationNotice),
    FriendRejected(RelationNotice),
    FriendRequestCanceled(RelationNotice),
    FriendRemoved(RelationNotice),
    FriendAdded(RelationNotice),
    UserBlocked(RelationNotice),
    UserUnblocked(RelationNotice),
    GroupCreated(GroupNotice),
    GroupUpdated(GroupNotice),
    GroupDismissed(GroupNotice),
    GroupOwnerTransferred(GroupNotice),
    GroupAdminSet(GroupNotice),
    GroupMemberAdded(GroupNotice),
    GroupMemberRemoved(GroupNotice),
    GroupJoinRequested(GroupNotice),
    GroupJoinDecided(GroupNotice),
    GroupAnnouncement(GroupNotice),
    GroupMemberMuted(GroupNotice),
    GroupMutedAll(GroupNotice),
    /// Read diffusion: the group's timeline reached `conv_seq`; fetch it from the history API.
    GroupAdvanced(GroupAdvance),
    /// `user` has read `conv` up to `conv_seq` (to the reader's devices, and the peer of a
    /// direct conversation as a read receipt).
    Read(ReadReceipt),
    /// A message from the app itself.
    System(SystemNotice),
    /// A message was recalled: drop its body (to every participant).
    Recalled(RecallNotice),
    /// A message was edited: show this body (to every participant).
    Edited(EditNotice),
    /// The user hid a message from their own view (to their own devices only).
    Hidden(HiddenNotice),
    /// The user cleared a conversation from their own view up to `up_to` (to their own
    /// devices only).
    Cleared(ClearedNotice),
    /// The user's settings for a conversation, all of them after a change (to their own
    /// devices only).
    Settings(SettingsNotice),
    /// Read back in place of an entry about a message the user removed from their own view,
    /// so that the inbox's `seq` stays gapless; never stored.
    Removed(HiddenNotice),
    /// `user` added or removed a reaction on a message.
    Reaction(ReactionNotice),
    /// A message was pinned to its conversation.
    Pinned(PinNotice),
    /// A message was unpinned.
    Unpinned(PinNotice),
    /// A customer's session with a service changed hands (to the business side only).
    ServiceSession(ServiceNotice),
}

impl EntryItem {
    /// The message an entry carries or announces, `(conv, conv_seq)`: what a user who hid
    /// that message, or cleared its conversation past it, no longer sees.
    pub fn message_ref(&self) -> Option<(&ConvId, u64)> {
        match self {
            EntryItem::Message(m) => Some((&m.conv, m.conv_seq)),
            EntryItem::GroupAdvanced(a) => Some((&a.conv, a.conv_seq)),
            EntryItem::Recalled(r) => Some((&r.conv, r.conv_seq)),
            EntryItem::Edited(e) => Some((&e.conv, e.conv_seq)),
            EntryItem::Reaction(r) => Some((&r.conv, r.conv_seq)),
            _ => None,
        }
    }
}

/// A service session change as an inbox entry: the service, the customer, the session and
/// what happened (`assigned`, `queued`, `taken`, `transferred`, `closed`, `requeued`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceNotice {
    pub conv: ConvId,
    pub service: UserId,
    pub customer: UserId,
    pub session: u64,
    pub change: String,
    /// The agent now serving (assigned, taken, transferred), or who served (closed, requeued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<UserId>,
    /// The agent a transfer came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<UserId>,
    /// A transfer's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where a queued customer waits (1: next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// A message the user hid, as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HiddenNotice {
    pub conv: ConvId,
    pub conv_seq: u64,
}

/// A conversation the user cleared, as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClearedNotice {
    pub conv: ConvId,
    pub up_to: u64,
}

/// A user's settings for a conversation, as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsNotice {
    pub conv: ConvId,
    #[serde(flatten)]
    pub settings: ConvSettings,
}

/// A reaction change as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionNotice {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    pub user: UserId,
    pub key: String,
    pub added: bool,
}

/// A pin or unpin as an inbox entry; `by` is absent for the app server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinNotice {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
}

/// A recall as an inbox entry; `by` is absent when the app server recalled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecallNotice {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
}

/// An edit as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditNotice {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    pub body: Body,
    pub edit_seq: u64,
}

/// Who recalled a message (absent: the app server) and when (ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recalled {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
    pub ts: i64,
}

/// A system message as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemNotice {
    pub msg_id: MessageId,
    pub body: Body,
}

/// A read marker as an inbox entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadReceipt {
    pub conv: ConvId,
    pub user: UserId,
    pub conv_seq: u64,
}

/// A group change as an inbox entry: `by` acted; the other fields depend on the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupNotice {
    pub group: GroupId,
    pub by: UserId,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl GroupNotice {
    /// A notice with only the group and the actor set.
    pub fn new(group: GroupId, by: UserId) -> Self {
        GroupNotice {
            group,
            by,
            users: Vec::new(),
            user: None,
            flag: None,
            name: None,
            note: None,
            text: None,
        }
    }
}

/// A large group's new messages, without their content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAdvance {
    pub group: GroupId,
    pub conv: ConvId,
    pub conv_seq: u64,
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
    /// The latest body; absent once recalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mention_all: bool,
    /// Set once the message is recalled (its body is then gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled: Option<Recalled>,
    /// How many times the body was edited (absent: never).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub edit_seq: u64,
    /// When the body was last edited (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// The message of this conversation it answers (boxed: most messages answer none, and
    /// every entry is as large as its largest kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<ReplyView>>,
    /// Where it was first sent, for a forwarded copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_of: Option<Box<ForwardRef>>,
    /// In a service conversation, the agent who handled it: shown to the business side only
    /// (the gateway removes it for the customer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<UserId>,
    /// In a service conversation, the customer's session it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
}

/// The message a reply answers. The rows keep only which message it is; reads fill in how it
/// looks now (`quote` or `recalled`), so a later edit or recall of the original shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyView {
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub from: UserId,
    /// The start of the original's text (at most [`QUOTE_CHARS`] characters), or of its kind
    /// for other bodies (`[custom]`, `[file]`, `[image]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// The original was recalled: there is nothing to quote.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
}

/// The longest quote of a replied-to message, in characters.
pub const QUOTE_CHARS: usize = 100;

impl ReplyView {
    /// Fills in how the original looks now: a quote of its body, or `recalled`.
    pub fn resolve(&mut self, original: &MessageView) {
        self.recalled = original.recalled.is_some();
        self.quote = original.body.as_ref().map(|body| match body {
            Body::Text { text } => text.chars().take(QUOTE_CHARS).collect(),
            other => format!("[{}]", other.kind().as_str()),
        });
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl MessageView {
    /// A message as sent, with nothing added to it: no mentions, reply, forward, recall or
    /// edit, and no service session (what fixtures and benchmarks build their rows from).
    pub fn sent(
        conv: ConvId,
        conv_seq: u64,
        msg_id: MessageId,
        from: UserId,
        to: Recipient,
        body: Body,
    ) -> Self {
        MessageView {
            conv,
            conv_seq,
            msg_id,
            from,
            to,
            body: Some(body),
            mentions: Vec::new(),
            mention_all: false,
            recalled: None,
            edit_seq: 0,
            edited_at: None,
            reply_to: None,
            forward_of: None,
            agent: None,
            session: None,
        }
    }
}

impl From<MessageSent> for MessageView {
    /// The event's own strings move into the view (the projector folds events by value).
    fn from(m: MessageSent) -> Self {
        MessageView {
            conv: m.conv,
            conv_seq: m.conv_seq,
            msg_id: m.msg_id,
            from: m.from,
            to: m.to,
            body: Some(m.body),
            mentions: m.mentions,
            mention_all: m.mention_all,
            recalled: None,
            reply_to: m.reply_to.map(|r| {
                Box::new(ReplyView {
                    msg_id: r.msg_id,
                    conv_seq: r.conv_seq,
                    from: r.from,
                    quote: None,
                    recalled: false,
                })
            }),
            forward_of: m.forward_of.map(Box::new),
            edit_seq: 0,
            edited_at: None,
            agent: None,
            session: None,
        }
    }
}

/// A message in a conversation's timeline (history). Read in one pass (`timeline_decode`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineMessage {
    pub ts: i64,
    /// Shared with the deliveries of the batch that wrote it (the projector writes a message
    /// to its timeline and to every inbox from one view).
    #[serde(flatten)]
    pub message: Arc<MessageView>,
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
    /// The newest message, joined from the timeline on read (never stored in the row); absent
    /// while the timeline row is not written yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Arc<MessageView>>,
    /// Stored only: the row follows its conversation's timeline (`Conversation::may_follow`).
    /// A message moves its sender's row alone, so `last_seq`, `last_ts` and `unread` of a
    /// following row are as of its last write, and a read takes them from the timeline's
    /// newest message (`rows::follow`, which clears the flag: it never goes out). A member's
    /// leave freezes the row at the group's last message before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follows: bool,
}

impl Conversation {
    /// Whether `user`'s row follows its timeline once written by a message: a group member's,
    /// either user's of a direct conversation, and the customer's and the service account's
    /// of a service conversation (both see its every message). An agent's row does not: a
    /// session changes hands, and an agent's row stops at the last message they handled.
    pub fn may_follow(&self, user: &str) -> bool {
        self.group.is_some()
            || self.conv.is_direct()
            || self
                .conv
                .service_parts()
                .is_some_and(|(service, customer)| {
                    service.as_str() == user || customer.as_str() == user
                })
    }
}

/// A user's settings for one conversation, with the stream sequence of their last change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsRow {
    pub conv: ConvId,
    pub settings: ConvSettings,
    pub cursor: u64,
}

/// A user's push settings (registrations per device, do-not-disturb), with the stream sequence
/// of their last change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRow {
    pub settings: tidings_domain::push::PushSettings,
    pub cursor: u64,
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

/// How a group's messages reach its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Diffusion {
    /// Every member's inbox holds each message.
    Write,
    /// Messages live in the group timeline; inboxes get `group_advanced` entries.
    Read,
}

/// A group's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    pub group: GroupId,
    pub conv: ConvId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    pub join_policy: JoinPolicy,
    pub owner: UserId,
    pub member_count: usize,
    pub muted_all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    pub dismissed: bool,
    pub diffusion: Diffusion,
    pub created_at: i64,
    /// Stream sequence of the row's last change.
    pub cursor: u64,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRow {
    pub user: UserId,
    pub role: Role,
    pub muted: bool,
    pub joined_at: i64,
}

/// One group of a user; `role: None` means the user left or was removed (kept for sync).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserGroupRow {
    pub group: GroupId,
    pub role: Option<Role>,
    /// Stream sequence of the membership's last change.
    pub cursor: u64,
}
