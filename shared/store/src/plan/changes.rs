//! What a planned batch changes: the final value of every row it writes, per table, and the
//! checkpoint. Adapters map each field to their tables and nothing else. The maps hash with
//! FxHash: fast on short string keys, and with a fixed seed, so a batch's changes come out in
//! the same order every time (ordered maps cost the replay a tenth of its time in string
//! comparisons).

use crate::annotations::{PinRow, ReactionMark, ReactionRow};
use crate::broadcasts::BroadcastRow;
use crate::device_row::{DeviceReadRow, DeviceRow};
use crate::model::{
    Conversation, GroupRow, MemberRow, PushRow, Relation, SettingsRow, TimelineMessage,
    UserGroupRow, UserRow,
};
use crate::plan::keys::{BroadcastKey, TagKey};
use crate::plan::keys::{
    ConvKey, DeviceKey, GroupKey, HiddenKey, MemberKey, PinKey, ReactionKey, ReactionMarkKey,
    RelationKey, TimelineKey, UserGroupKey, UserKey,
};
use crate::write::Delivery;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeSet;

/// A user's inbox head: the newest `seq`, and the stream sequence of the event that wrote it
/// (deliveries at or below it are already applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub cursor: u64,
}

/// A user row's new value and the change-feed entries it leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct UserChange {
    pub row: UserRow,
    /// Every other cursor the user's change-feed entry held, before or during the batch: the
    /// feed keeps one entry per user, at `row.cursor`, so these are deleted.
    pub stale_cursors: BTreeSet<u64>,
}

/// A member row's new value (`None` removes it) and the stream sequence of its last change.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberChange {
    pub cursor: u64,
    pub row: Option<MemberRow>,
}

/// Every row one batch writes, and the checkpoint that covers them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// The last stream sequence the batch covers: the projection's new checkpoint.
    pub through_seq: u64,
    /// New inbox rows, in delivery order.
    pub entries: Vec<Delivery>,
    /// Inbox heads moved by the new entries.
    pub heads: FxHashMap<UserKey, Head>,
    /// Timeline rows (one per message).
    pub timeline: FxHashMap<TimelineKey, TimelineMessage>,
    /// Conversation rows advanced or marked read.
    pub convs: FxHashMap<ConvKey, Conversation>,
    /// Messages users hid from their own view (rows with no value).
    pub hidden: FxHashSet<HiddenKey>,
    /// Users' removal marks per conversation, (app, user, conv) -> up_to: one for every
    /// conversation where the user removed anything, the clear mark (0: only hidden messages),
    /// so a reader learns from one read where a user removed nothing.
    pub cleared: FxHashMap<ConvKey, u64>,
    /// User rows changed, with the change-feed entries they leave.
    pub users: FxHashMap<UserKey, UserChange>,
    /// Relation rows patched.
    pub relations: FxHashMap<RelationKey, Relation>,
    /// Group rows written.
    pub groups: FxHashMap<GroupKey, GroupRow>,
    /// Member rows written or removed.
    pub members: FxHashMap<MemberKey, MemberChange>,
    /// Rows of users' group lists written (a left group keeps one, without a role).
    pub user_groups: FxHashMap<UserGroupKey, UserGroupRow>,
    /// Reaction rows set (`Some`) or deleted.
    pub reactions: FxHashMap<ReactionKey, Option<ReactionRow>>,
    /// Reaction marks moved.
    pub reaction_marks: FxHashMap<ReactionMarkKey, ReactionMark>,
    /// Pin rows set (`Some`) or deleted.
    pub pins: FxHashMap<PinKey, Option<PinRow>>,
    /// Users' settings rows written, (app, user, conv) -> row.
    pub settings: FxHashMap<ConvKey, SettingsRow>,
    /// Users' device rows written, (app, user, device) -> row.
    pub devices: FxHashMap<DeviceKey, DeviceRow>,
    /// The read marker each device last moved, (app, user, device) -> row.
    pub device_reads: FxHashMap<DeviceKey, DeviceReadRow>,
    /// Users' push settings rows written, (app, user) -> row.
    pub push: FxHashMap<UserKey, PushRow>,
    /// Users' audiences joined (`Some(since)`) or left, (app, user, tag) -> since. Every
    /// adapter keeps them twice: per user, and per tag (but `EVERYONE`) for listing.
    pub tags: FxHashMap<TagKey, Option<u64>>,
    /// Broadcasts stored, (app, bseq) -> row.
    pub broadcasts: FxHashMap<BroadcastKey, BroadcastRow>,
}

impl Changes {
    /// The inbox entries written, in order, for live push.
    pub fn into_deliveries(self) -> Vec<Delivery> {
        self.entries
    }
}
