//! What a batch reads before it is planned: the keys of the rows its writes fold over, and
//! those rows as the store holds them.

use crate::annotations::ReactionMark;
use crate::model::{Conversation, ReactionNotice, Relation, TimelineMessage, UserRow};
use crate::plan::Head;
use crate::write::Write;
use rustc_hash::{FxHashMap, FxHashSet};
use tidings_domain::{AppId, ConvId, DeviceId, GroupId, UserId};

/// A user's row, inbox head or change-feed entry: (app, user).
pub type UserKey = (AppId, UserId);
/// A user's conversation row: (app, user, conv).
pub type ConvKey = (AppId, UserId, ConvId);
/// A user's device row: (app, user, device).
pub type DeviceKey = (AppId, UserId, DeviceId);
/// `user`'s relation row about another user: (app, user, other).
pub type RelationKey = (AppId, UserId, UserId);
/// A hidden message of a user: (app, user, conv, conv_seq).
pub type HiddenKey = (AppId, UserId, ConvId, u64);
/// A timeline row: (app, conv, conv_seq).
pub type TimelineKey = (AppId, ConvId, u64);
/// A group's row: (app, group).
pub type GroupKey = (AppId, GroupId);
/// A member row: (app, group, user).
pub type MemberKey = (AppId, GroupId, UserId);
/// A row of a user's group list: (app, user, group).
pub type UserGroupKey = (AppId, UserId, GroupId);
/// A reaction row: (app, conv, conv_seq, key, user).
pub type ReactionKey = (AppId, ConvId, u64, String, UserId);
/// What a recipient was told of a reaction: (app, recipient, conv, conv_seq, key, reactor).
pub type ReactionMarkKey = (AppId, UserId, ConvId, u64, String, UserId);
/// A pin row: (app, conv, conv_seq).
pub type PinKey = (AppId, ConvId, u64);
/// A user's audience row: (app, user, tag or `EVERYONE`).
pub type TagKey = (AppId, UserId, String);
/// A broadcast row: (app, bseq).
pub type BroadcastKey = (AppId, u64);

/// The rows a batch rewrites from their current value, borrowed from its writes. Every other
/// row a batch writes is keyed and valued by its writes alone.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RowKeys<'w> {
    /// Inbox heads, for numbering deliveries: (app, user).
    pub heads: FxHashSet<(&'w AppId, &'w UserId)>,
    /// Conversation rows, advanced by messages and read markers: (app, user, conv).
    pub convs: FxHashSet<(&'w AppId, &'w UserId, &'w ConvId)>,
    /// User rows, patched by status changes and moved in the change feed: (app, user).
    pub users: FxHashSet<(&'w AppId, &'w UserId)>,
    /// Relation rows, patched: (app, user, other).
    pub relations: FxHashSet<(&'w AppId, &'w UserId, &'w UserId)>,
    /// Removal marks, moved by clears and created by hides: (app, user, conv).
    pub cleared: FxHashSet<(&'w AppId, &'w UserId, &'w ConvId)>,
    /// Reaction marks, for telling recipients only of changes.
    pub reaction_marks: FxHashSet<ReactionMarkKey>,
    /// Timeline rows, annotated by recalls and edits: (app, conv, conv_seq).
    pub timeline: FxHashSet<(&'w AppId, &'w ConvId, u64)>,
}

impl<'w> RowKeys<'w> {
    /// The keys `writes` read.
    pub fn of(writes: &'w [Write]) -> Self {
        let mut keys = Self::default();
        for write in writes {
            match write {
                Write::Deliver { app, user, .. } => {
                    keys.heads.insert((app, user));
                }
                Write::ConversationMessage {
                    app, user, message, ..
                } => {
                    keys.convs.insert((app, user, &message.conv));
                }
                Write::ConversationRead {
                    app, user, conv, ..
                }
                | Write::ConversationLeft {
                    app, user, conv, ..
                } => {
                    keys.convs.insert((app, user, conv));
                }
                Write::PutUser { profile, .. } => {
                    keys.users.insert((&profile.app, &profile.user));
                }
                Write::UserStatus { app, user, .. } => {
                    keys.users.insert((app, user));
                }
                Write::Relation {
                    app, user, other, ..
                } => {
                    keys.relations.insert((app, user, other));
                }
                Write::Hide {
                    app, user, conv, ..
                }
                | Write::Clear {
                    app, user, conv, ..
                } => {
                    keys.cleared.insert((app, user, conv));
                }
                Write::ReactionEntry {
                    app, user, notice, ..
                } => {
                    keys.heads.insert((app, user));
                    keys.reaction_marks.insert(mark_key(app, user, notice));
                }
                Write::Annotate {
                    app,
                    conv,
                    conv_seq,
                    ..
                } => {
                    keys.timeline.insert((app, conv, *conv_seq));
                }
                Write::Timeline { .. }
                | Write::Reaction { .. }
                | Write::Pin { .. }
                | Write::Settings { .. }
                | Write::Device { .. }
                | Write::DeviceRead { .. }
                | Write::Push { .. }
                | Write::PutGroup { .. }
                | Write::PutMember { .. }
                | Write::RemoveMember { .. }
                | Write::Tag { .. }
                | Write::Broadcast { .. } => {}
            }
        }
        keys
    }
}

/// The rows of a `RowKeys` as stored; a key without a row is absent (an absent head is
/// an empty inbox).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Loaded {
    /// Inbox heads found.
    pub heads: FxHashMap<UserKey, Head>,
    /// Conversation rows found.
    pub convs: FxHashMap<ConvKey, Conversation>,
    /// User rows found.
    pub users: FxHashMap<UserKey, UserRow>,
    /// Relation rows found.
    pub relations: FxHashMap<RelationKey, Relation>,
    /// Removal marks found: (app, user, conv) -> up_to.
    pub cleared: FxHashMap<ConvKey, u64>,
    /// Timeline rows found.
    pub timeline: FxHashMap<TimelineKey, TimelineMessage>,
    /// Reaction marks found.
    pub reaction_marks: FxHashMap<ReactionMarkKey, ReactionMark>,
}

impl Loaded {
    /// Adds `other`'s rows (rows of other keys: the store's answer for what a cache lacked).
    pub fn extend(&mut self, other: Loaded) {
        self.heads.extend(other.heads);
        self.convs.extend(other.convs);
        self.users.extend(other.users);
        self.relations.extend(other.relations);
        self.cleared.extend(other.cleared);
        self.timeline.extend(other.timeline);
        self.reaction_marks.extend(other.reaction_marks);
    }
}

/// The mark of what `user` was told of `notice`'s reaction.
pub fn mark_key(app: &AppId, user: &UserId, notice: &ReactionNotice) -> ReactionMarkKey {
    (
        app.clone(),
        user.clone(),
        notice.conv.clone(),
        notice.conv_seq,
        notice.key.clone(),
        notice.user.clone(),
    )
}
