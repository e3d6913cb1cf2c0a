//! The storage ports: one trait per read-model family. Every adapter implements all of them
//! and passes the same conformance suite (`tests/it/conformance.rs`).

use crate::annotations::{PinRow, ReactionRow};
use crate::broadcasts::BroadcastStore;
use crate::device_row::{DeviceReadRow, DeviceRow};
use crate::digest::{self, LogicalRow, Table};
use crate::error::StoreError;
use crate::history::{self, HistoryOrder, HistoryPage, HistoryQuery, SeqRange};
use crate::model::{
    Conversation, Entry, GroupRow, MemberRow, PushRow, Relation, SettingsRow, TimelineMessage,
    UserGroupRow, UserRow,
};
use crate::plan::{Changes, Loaded, RowCache, RowKeys, plan};
use crate::write::{Delivery, Write};
use std::future::Future;
use tidings_domain::{AppId, ConvId, GroupId, UserId};

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Per-user inboxes.
pub trait InboxStore: Send + Sync {
    /// Entries with `seq > after`, ascending, at most `limit`.
    fn inbox_after(
        &self,
        app: &AppId,
        user: &UserId,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Entry>>> + Send;

    /// The user's newest inbox `seq`, 0 when empty.
    fn inbox_last_seq(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Conversation lists and timelines.
pub trait ConversationStore: Send + Sync {
    /// Every conversation of a user, most recent first.
    fn conversations(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<Conversation>>> + Send;

    /// Every settings row of a user (their settings per conversation), in no order.
    fn conv_settings(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<SettingsRow>>> + Send;

    /// One conversation row of a user, `None` when the user is not in it.
    fn conversation(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> impl Future<Output = StoreResult<Option<Conversation>>> + Send;

    /// Messages with `conv_seq < before` (all when `None`), newest first, at most `limit`.
    fn messages_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        before: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<TimelineMessage>>> + Send;

    /// Messages with `conv_seq > after`, oldest first, at most `limit`.
    fn messages_after(
        &self,
        app: &AppId,
        conv: &ConvId,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<TimelineMessage>>> + Send;

    /// The message with the highest `conv_seq` at or below `conv_seq`, `None` when there is
    /// none. The time search reads one per step; an adapter overrides it when it has a
    /// cheaper read than a one-row `messages_before`.
    fn message_at_or_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        conv_seq: u64,
    ) -> impl Future<Output = StoreResult<Option<TimelineMessage>>> + Send {
        async move {
            let page = self
                .messages_before(app, conv, Some(conv_seq.saturating_add(1)), 1)
                .await?;
            Ok(page.into_iter().next())
        }
    }

    /// Levels of the time search decided per round (`history::first_at_least`): 1 reads
    /// the fewest rows, more save round trips where each read is one (ScyllaDB).
    const SEARCH_LEVELS: u32 = 1;

    /// The `conv_seq` run that `[since, until)` covers (see `history`): one read for the
    /// newest message, then the two bounds' searches concurrently, none for an absent bound.
    fn time_range(
        &self,
        app: &AppId,
        conv: &ConvId,
        since: Option<i64>,
        until: Option<i64>,
    ) -> impl Future<Output = StoreResult<SeqRange>> + Send {
        async move {
            if since.is_none() && until.is_none() {
                return Ok(SeqRange {
                    from: 1,
                    to: u64::MAX,
                });
            }
            let newest = self
                .messages_before(app, conv, None, 1)
                .await?
                .first()
                .map_or(0, |m| m.message.conv_seq);
            // A missing row (a conv_seq whose event was purged from the stream, or not yet
            // written) takes the time of the message before it, so holes never move a bound.
            let key = |p: u64| async move {
                let found = self.message_at_or_before(app, conv, p).await?;
                StoreResult::Ok(found.map(|m| m.ts))
            };
            let bound = |ts: Option<i64>, open: u64| async move {
                match ts {
                    Some(ts) => history::first_at_least(newest, ts, Self::SEARCH_LEVELS, key).await,
                    None => Ok(open),
                }
            };
            let (from, to) =
                futures_util::future::try_join(bound(since, 1), bound(until, u64::MAX)).await?;
            Ok(SeqRange { from, to })
        }
    }

    /// One page of a conversation's history by time, order and cursor (`history`). `next`
    /// is the cursor of the following page, `None` when this page reaches the range's end.
    fn history(
        &self,
        app: &AppId,
        conv: &ConvId,
        query: HistoryQuery,
    ) -> impl Future<Output = StoreResult<HistoryPage>> + Send {
        async move {
            let range = self.time_range(app, conv, query.since, query.until).await?;
            self.page_in(app, conv, range, query.order, query.cursor, query.limit)
                .await
        }
    }

    /// One page of the messages of `range`, from `cursor` (exclusive) in `order`, at most
    /// `limit`; `next` as in `history`.
    fn page_in(
        &self,
        app: &AppId,
        conv: &ConvId,
        range: SeqRange,
        order: HistoryOrder,
        cursor: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<HistoryPage>> + Send {
        async move {
            // One row more than the page shows whether another page follows.
            let want = limit.saturating_add(1);
            let mut messages = match order {
                HistoryOrder::Newest => {
                    let top = cursor.unwrap_or(u64::MAX).min(range.to);
                    if top <= range.from || limit == 0 {
                        Vec::new()
                    } else {
                        let before = (top != u64::MAX).then_some(top);
                        let mut rows = self.messages_before(app, conv, before, want).await?;
                        rows.retain(|m| m.message.conv_seq >= range.from);
                        rows
                    }
                }
                HistoryOrder::Oldest => {
                    let after = cursor.unwrap_or(0).max(range.from - 1);
                    if after.saturating_add(1) >= range.to || limit == 0 {
                        Vec::new()
                    } else {
                        let mut rows = self.messages_after(app, conv, after, want).await?;
                        rows.retain(|m| m.message.conv_seq < range.to);
                        rows
                    }
                }
            };
            let next = if messages.len() > limit {
                messages.truncate(limit);
                messages.last().map(|m| m.message.conv_seq)
            } else {
                None
            };
            Ok(HistoryPage { messages, next })
        }
    }
}

/// What each user removed from their own view: messages hidden, conversations cleared up to a
/// `conv_seq`. `visibility` filters reads with them.
pub trait HiddenStore: Send + Sync {
    /// `user`'s removal mark in `conv`: `None` when they removed nothing there, else up to
    /// which `conv_seq` they cleared it (0: they only hid messages).
    fn removal_mark(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> impl Future<Output = StoreResult<Option<u64>>> + Send;

    /// Every conversation where `user` removed anything, with its mark (`removal_mark`).
    fn removal_marks(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<(ConvId, u64)>>> + Send;

    /// The `conv_seq`s of `conv` that `user` hid, within `from..=to`, ascending.
    fn hidden_between(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        from: u64,
        to: u64,
    ) -> impl Future<Output = StoreResult<Vec<u64>>> + Send;
}

/// User profiles.
pub trait UserStore: Send + Sync {
    /// A user's row, `None` when unknown.
    fn user(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Option<UserRow>>> + Send;

    /// Rows of the app changed after `cursor`, oldest change first, at most `limit`.
    fn users_changed(
        &self,
        app: &AppId,
        cursor: u64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<UserRow>>> + Send;
}

/// Friends, requests and blocks, per user.
pub trait RelationStore: Send + Sync {
    /// Every relation row of `user` (including rows that are now empty, for sync).
    fn relations(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<Relation>>> + Send;
}

/// Groups, their members, and each user's groups.
pub trait GroupStore: Send + Sync {
    /// A group's row, `None` when it never existed.
    fn group(
        &self,
        app: &AppId,
        group: &GroupId,
    ) -> impl Future<Output = StoreResult<Option<GroupRow>>> + Send;

    /// One member of a group, `None` when `user` is not a member.
    fn member(
        &self,
        app: &AppId,
        group: &GroupId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Option<MemberRow>>> + Send;

    /// Members ordered by user id, after `after` (from the start when `None`), at most `limit`.
    fn members(
        &self,
        app: &AppId,
        group: &GroupId,
        after: Option<&UserId>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<MemberRow>>> + Send;

    /// Every group row of a user, including groups left (for sync).
    fn user_groups(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<UserGroupRow>>> + Send;
}

/// A user's devices: the registry (derived from events) and the positions clients report with
/// `ack` (not derived from events).
pub trait DeviceStore: Send + Sync {
    /// Every registered device of `user`, ordered by device.
    fn devices(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<DeviceRow>>> + Send;

    /// The read marker each device of `user` last moved, ordered by device.
    fn device_reads(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<DeviceReadRow>>> + Send;

    /// Records that `device` holds every entry up to `seq` (never moves backwards).
    fn ack_device(
        &self,
        app: &AppId,
        user: &UserId,
        device: &str,
        seq: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The last `seq` a device acknowledged, 0 when none.
    fn device_ack(
        &self,
        app: &AppId,
        user: &UserId,
        device: &str,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Every device of `user` that acknowledged, with its last `seq`, ordered by device.
    fn device_acks(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<(String, u64)>>> + Send;

    /// A user's push settings row, `None` when they never set any.
    fn push_settings(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Option<PushRow>>> + Send;
}

/// What a projection runner needs: its checkpoint, and a batch apply that is safe to repeat.
/// An adapter supplies `load`, `commit` and `scan`; the fold from writes to rows
/// (`plan::plan`) and the digest (`digest::compute`) are the same for every adapter.
pub trait ProjectionStore: Send + Sync {
    /// Whether `commit` writes the rows and the checkpoint atomically. When it does not, a
    /// batch can be repeated over rows already ahead of the checkpoint, so a projection must
    /// not decide from its own rows read back (the projector folds group rosters from the
    /// stream instead).
    const ATOMIC_APPLY: bool = true;

    /// The last stream sequence applied by `projection`, 0 when none.
    fn checkpoint(&self, projection: &str) -> impl Future<Output = StoreResult<u64>> + Send;

    /// The rows a batch rewrites, as stored.
    fn load(&self, keys: &RowKeys<'_>) -> impl Future<Output = StoreResult<Loaded>> + Send;

    /// Writes `changes` and sets `projection`'s checkpoint to `changes.through_seq`: all or
    /// nothing where `ATOMIC_APPLY`, otherwise the checkpoint only after every row it covers.
    fn commit(
        &self,
        projection: &str,
        changes: &Changes,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Every event-derived row of `table`, in any order.
    fn scan(
        &self,
        table: Table,
        visit: &mut (dyn FnMut(LogicalRow) + Send),
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Applies `writes` and sets `projection`'s checkpoint to `through_seq`. Returns the inbox
    /// entries written, in order, for live push. Calls that write the same rows must not
    /// overlap (inbox numbering reads the head it then writes): a projection has one writer,
    /// and partitions write disjoint rows.
    fn apply(
        &self,
        projection: &str,
        through_seq: u64,
        writes: Vec<Write>,
    ) -> impl Future<Output = StoreResult<Vec<Delivery>>> + Send {
        async move {
            let mut uncached = RowCache::new(0);
            self.apply_cached(&mut uncached, projection, through_seq, writes)
                .await
        }
    }

    /// `apply`, reading from `cache` the rows earlier batches of the same writer read or
    /// wrote, and keeping this batch's there once it is committed. After a failed or abandoned
    /// commit the cache starts over. The cache's owner must be its rows' only writer
    /// (`plan::cache`).
    fn apply_cached(
        &self,
        cache: &mut RowCache,
        projection: &str,
        through_seq: u64,
        writes: Vec<Write>,
    ) -> impl Future<Output = StoreResult<Vec<Delivery>>> + Send {
        async move {
            let keys = RowKeys::of(&writes);
            let (mut loaded, missing) = cache.split(&keys);
            loaded.extend(self.load(&missing).await?);
            drop((keys, missing));
            let mut changes = plan(&loaded, through_seq, writes);
            cache.begin_commit();
            self.commit(projection, &changes).await?;
            cache.absorb(loaded, &mut changes);
            Ok(changes.into_deliveries())
        }
    }

    /// A digest of every event-derived row (not device positions), equal for equal state
    /// whatever the adapter.
    fn digest(&self) -> impl Future<Output = StoreResult<String>> + Send {
        digest::compute(self)
    }
}

/// Reactions and pins, read beside history.
pub trait AnnotationStore: Send + Sync {
    /// Every reaction row of `conv`'s messages from `from` to `to` (`conv_seq`s, inclusive),
    /// in `conv_seq` order.
    fn reactions(
        &self,
        app: &AppId,
        conv: &ConvId,
        from: u64,
        to: u64,
    ) -> impl Future<Output = StoreResult<Vec<ReactionRow>>> + Send;

    /// `conv`'s pinned messages, in `conv_seq` order.
    fn pins(
        &self,
        app: &AppId,
        conv: &ConvId,
    ) -> impl Future<Output = StoreResult<Vec<PinRow>>> + Send;
}

/// Every port at once: what the services are generic over.
pub trait ReadModels:
    InboxStore
    + ConversationStore
    + HiddenStore
    + UserStore
    + RelationStore
    + GroupStore
    + DeviceStore
    + AnnotationStore
    + ProjectionStore
    + BroadcastStore
    + Clone
    + 'static
{
}

impl<T> ReadModels for T where
    T: InboxStore
        + ConversationStore
        + HiddenStore
        + UserStore
        + RelationStore
        + GroupStore
        + DeviceStore
        + AnnotationStore
        + ProjectionStore
        + BroadcastStore
        + Clone
        + 'static
{
}
