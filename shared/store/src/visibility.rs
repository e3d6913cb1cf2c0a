//! What one user sees of the messages they removed from their own view ("delete for me": a
//! hidden message; "clear for me": a conversation cleared up to a `conv_seq`). The rows stay
//! where they are, shared with everyone else; these reads leave the user's removals out, for
//! that user only: catch-up pages of the inbox, history pages, and conversation rows (their
//! unread count and `last_message`).
//!
//! Inbox pages keep every `seq` (a removed message's entries read back as `removed`
//! placeholders). History pages leave removed messages out and never shorten a page into
//! looking like the end: a page is refilled from beyond what it left out, and its cursor
//! (`HistoryPage::next`) says how far it looked, so paging on skips nothing and repeats nothing.

use crate::history::{HistoryOrder, HistoryPage, HistoryQuery, SeqRange};
use crate::model::{Conversation, Entry, EntryItem, HiddenNotice};
use crate::ports::{ConversationStore, HiddenStore, InboxStore, StoreResult};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{BTreeSet, HashMap};
use tidings_domain::{AppId, ConvId, UserId};

/// Conversations whose removals are read at once (each read is a round trip on ScyllaDB).
const CONCURRENT_READS: usize = 16;

/// Most timeline reads one history page makes to refill what it left out; beyond them the
/// page is answered short, with `next` where it stopped.
const MAX_HISTORY_ROUNDS: usize = 16;

/// One user's removals in one conversation, as far as they were loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Removed {
    cleared: u64,
    hidden: BTreeSet<u64>,
}

impl Removed {
    fn hides(&self, conv_seq: u64) -> bool {
        conv_seq <= self.cleared || self.hidden.contains(&conv_seq)
    }
}

/// What `user` removed of `conv` among `low..=high`, given their removal mark there.
async fn removed_in<S: HiddenStore>(
    store: &S,
    app: &AppId,
    user: &UserId,
    conv: ConvId,
    cleared: u64,
    (low, high): (u64, u64),
) -> StoreResult<(ConvId, Removed)> {
    let hidden = if high > cleared {
        let from = low.max(cleared + 1);
        store.hidden_between(app, user, &conv, from, high).await?
    } else {
        Vec::new()
    };
    let removed = Removed {
        cleared,
        hidden: hidden.into_iter().collect(),
    };
    Ok((conv, removed))
}

/// A user's removals for the conversations a set of entries names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removals {
    convs: HashMap<ConvId, Removed>,
}

impl Removals {
    /// Loads what `user` removed among the messages `entries` carry: their removal marks
    /// (one read), then for each conversation the entries name that has one, the hidden
    /// `conv_seq`s between the lowest and highest the entries name.
    pub async fn of_entries<S: HiddenStore>(
        store: &S,
        app: &AppId,
        user: &UserId,
        entries: &[Entry],
    ) -> StoreResult<Self> {
        let mut spans: HashMap<&ConvId, (u64, u64)> = HashMap::new();
        for (conv, conv_seq) in entries.iter().filter_map(|e| e.item.message_ref()) {
            let span = spans.entry(conv).or_insert((conv_seq, conv_seq));
            *span = (span.0.min(conv_seq), span.1.max(conv_seq));
        }
        if spans.is_empty() {
            return Ok(Self::default());
        }
        // Only conversations with a removal mark have anything removed. Owned, so the reads'
        // futures borrow nothing of this frame's locals (a stream over borrowed items is not
        // `Send` for every lifetime, as handlers need).
        let marked: Vec<(ConvId, u64, (u64, u64))> = store
            .removal_marks(app, user)
            .await?
            .into_iter()
            .filter_map(|(conv, mark)| {
                let span = spans.get(&conv).copied()?;
                Some((conv, mark, span))
            })
            .collect();
        let convs = futures_util::stream::iter(marked)
            .map(|(conv, mark, span)| removed_in(store, app, user, conv, mark, span))
            .buffer_unordered(CONCURRENT_READS)
            .try_collect()
            .await?;
        Ok(Self { convs })
    }

    /// Whether the user removed the message `item` carries (entries that carry none stay).
    pub fn hides(&self, item: &EntryItem) -> bool {
        item.message_ref().is_some_and(|(conv, conv_seq)| {
            self.convs
                .get(conv)
                .is_some_and(|removed| removed.hides(conv_seq))
        })
    }
}

/// Up to `limit` entries of `user`'s inbox after `after`. An entry about a message the user
/// removed keeps its `seq` but is read back as a `removed` placeholder naming only the
/// message, so catch-up stays gapless ("every entry after N") while the message is gone.
pub async fn inbox_page<S: InboxStore + HiddenStore>(
    store: &S,
    app: &AppId,
    user: &UserId,
    after: u64,
    limit: usize,
) -> StoreResult<Vec<Entry>> {
    let mut entries = store.inbox_after(app, user, after, limit).await?;
    let removals = Removals::of_entries(store, app, user, &entries).await?;
    for entry in &mut entries {
        if removals.hides(&entry.item)
            && let Some((conv, conv_seq)) = entry.item.message_ref()
        {
            entry.item = EntryItem::Removed(HiddenNotice {
                conv: conv.clone(),
                conv_seq,
            });
        }
    }
    Ok(entries)
}

/// One page of `conv`'s history as `user` sees it: messages at or below their clear mark are
/// out of range, hidden ones are left out and the page refilled from beyond them. `next` is
/// `None` only when no message the user sees is left in the range.
pub async fn history<S: ConversationStore + HiddenStore>(
    store: &S,
    app: &AppId,
    user: &UserId,
    conv: &ConvId,
    query: HistoryQuery,
) -> StoreResult<HistoryPage> {
    let Some(cleared) = store.removal_mark(app, user, conv).await? else {
        // Nothing removed in this conversation: the page as everyone sees it.
        return store.history(app, conv, query).await;
    };
    let range = store
        .time_range(app, conv, query.since, query.until)
        .await?;
    let range = SeqRange {
        from: range.from.max(cleared.saturating_add(1)),
        to: range.to,
    };
    // One message more than the page shows tells whether another page follows.
    let target = query.limit.saturating_add(1);
    let mut messages = Vec::new();
    let mut cursor = query.cursor;
    let mut rounds = 0;
    let stopped_at = loop {
        let want = target - messages.len();
        let page = store
            .page_in(app, conv, range, query.order, cursor, want)
            .await?;
        let seqs = page.messages.iter().map(|m| m.message.conv_seq);
        if let (Some(low), Some(high)) = (seqs.clone().min(), seqs.max()) {
            let hidden: BTreeSet<u64> = store
                .hidden_between(app, user, conv, low, high)
                .await?
                .into_iter()
                .collect();
            messages.extend(
                page.messages
                    .into_iter()
                    .filter(|m| !hidden.contains(&m.message.conv_seq)),
            );
        }
        rounds += 1;
        match page.next {
            None => break None,
            Some(next) if messages.len() >= target || rounds >= MAX_HISTORY_ROUNDS => {
                break Some(next);
            }
            Some(next) => cursor = Some(next),
        }
    };
    let next = if messages.len() > query.limit {
        messages.truncate(query.limit);
        messages.last().map(|m| m.message.conv_seq)
    } else {
        // Short: the range's end, or the refill gave up where it stopped.
        stopped_at
    };
    Ok(HistoryPage { messages, next })
}

/// `row` as `user` sees it: `unread` counts only messages they did not remove, and
/// `last_message` is the newest message they still see (none when they removed all).
pub async fn conversation<S: ConversationStore + HiddenStore>(
    store: &S,
    app: &AppId,
    user: &UserId,
    row: Conversation,
) -> StoreResult<Conversation> {
    match store.removal_mark(app, user, &row.conv).await? {
        Some(mark) => with_removals(store, app, user, row, mark).await,
        None => Ok(row),
    }
}

/// `row` as a user whose removal mark in its conversation is `cleared` sees it.
async fn with_removals<S: ConversationStore + HiddenStore>(
    store: &S,
    app: &AppId,
    user: &UserId,
    mut row: Conversation,
    cleared: u64,
) -> StoreResult<Conversation> {
    // Unread messages are those above the read marker; the newest is checked too.
    let floor = row.read_seq.max(cleared);
    let low = floor.min(row.last_seq.saturating_sub(1)) + 1;
    let hidden = if row.last_seq >= low {
        store
            .hidden_between(app, user, &row.conv, low, row.last_seq)
            .await?
    } else {
        Vec::new()
    };
    let hidden_unread = hidden.iter().filter(|s| **s > floor).count() as u64;
    row.unread = row
        .last_seq
        .saturating_sub(floor)
        .saturating_sub(hidden_unread);
    if row.last_seq > 0 && (row.last_seq <= cleared || hidden.contains(&row.last_seq)) {
        let query = HistoryQuery {
            since: None,
            until: None,
            order: HistoryOrder::Newest,
            cursor: Some(row.last_seq),
            limit: 1,
        };
        let page = history(store, app, user, &row.conv, query).await?;
        row.last_message = page.messages.into_iter().next().map(|m| m.message);
    }
    Ok(row)
}

/// Every conversation row of `user`, as `conversation` shows each.
pub async fn conversations<S: ConversationStore + HiddenStore>(
    store: &S,
    app: &AppId,
    user: &UserId,
) -> StoreResult<Vec<Conversation>> {
    let rows = store.conversations(app, user).await?;
    let marks: HashMap<ConvId, u64> = store.removal_marks(app, user).await?.into_iter().collect();
    futures_util::stream::iter(rows)
        .map(|row| {
            let mark = marks.get(&row.conv).copied();
            async move {
                match mark {
                    Some(mark) => with_removals(store, app, user, row, mark).await,
                    None => Ok(row),
                }
            }
        })
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await
}
