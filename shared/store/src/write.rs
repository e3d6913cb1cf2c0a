//! What a projection asks the store to do, and what the store reports back.

use crate::annotations::PinRow;
use crate::broadcasts::BroadcastRow;
use crate::device_row::{DeviceReadRow, DeviceRow};
use crate::model::{
    Entry, EntryItem, GroupRow, MemberRow, MessageView, PushRow, ReactionNotice, RelationPatch,
    SettingsRow,
};
use std::sync::Arc;
use tidings_domain::event::UserProfile;
use tidings_domain::{AppId, Body, ConvId, GroupId, UserId};

/// One change to the read models. Every write is safe to repeat: applying writes again from an
/// older checkpoint leaves the rows as they were.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Append an entry to a user's inbox; the store assigns the next gapless `seq`. `cursor` is
    /// the event's stream sequence. One event may deliver several entries to one user, always
    /// in one batch; a delivery whose cursor is not past the last cursor the user's inbox held
    /// before the batch was already applied (a batch repeated after a crash, or a new
    /// partition layout starting from an older checkpoint) and is skipped.
    Deliver {
        app: AppId,
        user: UserId,
        ts: i64,
        item: EntryItem,
        cursor: u64,
    },
    /// Record a message in its conversation's timeline at its `conv_seq`.
    Timeline {
        app: AppId,
        ts: i64,
        message: Arc<MessageView>,
    },
    /// Change a timeline row after its message was recalled or edited. A row not written yet
    /// is left alone (a message's events reach its timeline in order, so it never is).
    Annotate {
        app: AppId,
        conv: ConvId,
        conv_seq: u64,
        annotation: Annotation,
    },
    /// Move a user's conversation row forward to this message: written when it creates the
    /// row, when the user sent it, or when the row does not follow its timeline
    /// (`rows::advances`). Only the message's head is read (conversation, sequence, sender,
    /// recipient), so every participant's write shares one copy.
    ConversationMessage {
        app: AppId,
        user: UserId,
        ts: i64,
        message: Arc<MessageView>,
    },
    /// Freeze `user`'s following row of a group's conversation as they leave it, at `last`,
    /// the group's last message before the leave (`rows::leave`). No row, no write.
    ConversationLeft {
        app: AppId,
        user: UserId,
        conv: ConvId,
        last: Option<(i64, Arc<MessageView>)>,
    },
    /// Mark a user's conversation row read up to `conv_seq` (never backwards).
    ConversationRead {
        app: AppId,
        user: UserId,
        conv: ConvId,
        conv_seq: u64,
    },
    /// Hide message `conv_seq` of `conv` from `user`'s own view.
    Hide {
        app: AppId,
        user: UserId,
        conv: ConvId,
        conv_seq: u64,
    },
    /// Clear `conv` from `user`'s own view up to `up_to` (never backwards).
    Clear {
        app: AppId,
        user: UserId,
        conv: ConvId,
        up_to: u64,
    },
    /// Store a user's profile; `cursor` is the event's stream sequence.
    PutUser { profile: UserProfile, cursor: u64 },
    /// Change a user's status flags.
    UserStatus {
        app: AppId,
        user: UserId,
        deactivated: Option<bool>,
        token_epoch: Option<u64>,
        cursor: u64,
    },
    /// Change `user`'s relation row about `other`.
    Relation {
        app: AppId,
        user: UserId,
        other: UserId,
        patch: RelationPatch,
        ts: i64,
        cursor: u64,
    },
    /// Store a group's row.
    PutGroup { app: AppId, row: GroupRow },
    /// Add or change a member (and the user's group list).
    PutMember {
        app: AppId,
        group: GroupId,
        member: MemberRow,
        cursor: u64,
    },
    /// Set (`added`) or delete one user's reaction row on a message: the conversation's.
    Reaction {
        app: AppId,
        notice: ReactionNotice,
        ts: i64,
    },
    /// Tell `user` of a reaction change, only if it changes what they were last told (see
    /// `annotations`); `cursor` is the event's stream sequence.
    ReactionEntry {
        app: AppId,
        user: UserId,
        notice: ReactionNotice,
        ts: i64,
        cursor: u64,
    },
    /// Store a user's push settings (all of them, replacing the row).
    Push {
        app: AppId,
        user: UserId,
        row: PushRow,
    },
    /// Store a user's settings for a conversation (all of them, replacing the row).
    Settings {
        app: AppId,
        user: UserId,
        row: SettingsRow,
    },
    /// Store a user's device row (replacing it).
    Device {
        app: AppId,
        user: UserId,
        row: DeviceRow,
    },
    /// Store the read marker a device of a user last moved (replacing it).
    DeviceRead {
        app: AppId,
        user: UserId,
        row: DeviceReadRow,
    },
    /// Store (`Some`) or delete a conversation's pin of the message at `conv_seq`.
    Pin {
        app: AppId,
        conv: ConvId,
        conv_seq: u64,
        row: Option<PinRow>,
    },
    /// Remove a member (the user's group list keeps a row marked left).
    RemoveMember {
        app: AppId,
        group: GroupId,
        user: UserId,
        cursor: u64,
    },
    /// `user` joined audience `tag` (a tag, or `broadcasts::EVERYONE`) at stream sequence
    /// `since` (`Some`), or left it (`None`).
    Tag {
        app: AppId,
        user: UserId,
        tag: String,
        since: Option<u64>,
    },
    /// Store a broadcast in its app's broadcast timeline (once, whatever its audience).
    Broadcast { app: AppId, row: BroadcastRow },
}

/// What happened to a message after its send, as its timeline row records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Annotation {
    /// The body is gone; who and when are kept.
    Recalled { by: Option<UserId>, ts: i64 },
    /// The body is replaced (only by a newer `edit_seq`: a replayed edit changes nothing).
    Edited { body: Body, edit_seq: u64, ts: i64 },
}

/// An inbox entry that was just written, to be pushed live.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub app: AppId,
    pub user: UserId,
    pub entry: Entry,
    /// The stream sequence of the event that delivered it.
    pub cursor: u64,
}
