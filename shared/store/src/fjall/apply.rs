//! The embedded store's projection port: a batch's rows loaded with point reads, its planned
//! changes committed as one fjall batch with the checkpoint (a crash keeps both or neither),
//! and every table listed as logical rows for the digest.

use super::heads::HeadScan;
use super::{FjallStore, Tables, decode, encode, reaction_key, slow_commit};
use crate::annotations::{PinRow, ReactionMark, ReactionRow};
use crate::digest::{LogicalRow, Table};
use crate::error::StoreError;
use crate::inbox_row;
use crate::keys::{key, split};
use crate::model::Conversation;
use crate::plan::{Changes, Loaded, RowKeys};
use crate::ports::{ProjectionStore, StoreResult};
use fjall::{Keyspace, OwnedWriteBatch, PersistMode};
use std::ops::Bound;
use std::time::Instant;

impl Tables {
    /// The keyspace that holds `table`; none for inbox heads, which are the newest inbox rows
    /// (`heads`).
    pub(super) fn of(&self, table: Table) -> Option<&Keyspace> {
        Some(match table {
            Table::Inbox => &self.inbox,
            Table::InboxHead => return None,
            Table::Conversations => &self.conversations,
            Table::Timeline => &self.timeline,
            Table::Users => &self.users,
            Table::UsersByCursor => &self.users_by_cursor,
            Table::Relations => &self.relations,
            Table::Groups => &self.groups,
            Table::Members => &self.members,
            Table::UserGroups => &self.user_groups,
            Table::Hidden => &self.hidden,
            Table::Cleared => &self.cleared,
            Table::Reactions => &self.reactions,
            Table::ReactionMarks => &self.reaction_marks,
            Table::Pins => &self.pins,
            Table::Settings => &self.settings,
            Table::Devices => &self.user_devices,
            Table::DeviceReads => &self.device_reads,
            Table::Push => &self.push,
            Table::UserTags => &self.user_tags,
            Table::TagUsers => &self.tag_users,
            Table::Broadcasts => &self.broadcasts,
        })
    }
}

fn malformed(table: Table, k: &[u8]) -> StoreError {
    StoreError::Corrupt(format!("{} key {k:?}", table.name()))
}

/// A stored row as a logical row. The embedded store's keys are `keys::key` of each table's
/// logical key, so rows stored in their canonical form are hashed as they are.
fn logical(table: Table, k: &[u8], v: &[u8]) -> StoreResult<LogicalRow> {
    if table == Table::Inbox
        && let Some(array) = inbox_row::reference_array(v)
    {
        return Ok(LogicalRow::canonical_parts(
            k,
            &inbox_row::canonical_reference(array),
        ));
    }
    let as_stored = match table {
        Table::Timeline
        | Table::Users
        | Table::Relations
        | Table::Groups
        | Table::Members
        | Table::UserGroups
        | Table::Hidden
        | Table::Cleared
        | Table::Settings
        | Table::Devices
        | Table::DeviceReads
        | Table::Push
        | Table::UserTags
        | Table::TagUsers
        | Table::Broadcasts => true,
        Table::Inbox
        | Table::InboxHead
        | Table::Conversations
        | Table::UsersByCursor
        | Table::Reactions
        | Table::ReactionMarks
        | Table::Pins => false,
    };
    if table == Table::Reactions {
        // The row holds its own key but the app, which is the key's first component.
        let app = k.split(|b| *b == 0).next().unwrap_or_default();
        let app = std::str::from_utf8(app).map_err(|_| malformed(table, k))?;
        return Ok(LogicalRow::reaction(app, &decode::<ReactionRow>(v)?));
    }
    if as_stored {
        return Ok(LogicalRow::canonical(k, v));
    }
    let with_seq = matches!(
        table,
        Table::Inbox | Table::UsersByCursor | Table::ReactionMarks | Table::Pins
    );
    let Some((parts, seq)) = split(k, with_seq) else {
        return Err(malformed(table, k));
    };
    let seq = || seq.ok_or_else(|| malformed(table, k));
    Ok(match (table, parts.as_slice()) {
        (Table::Inbox, [app, user]) => LogicalRow::inbox(app, user, inbox_row::decode(v)?),
        (Table::Conversations, [app, user, _]) => {
            LogicalRow::conversation(app, user, decode::<Conversation>(v)?)
        }
        (Table::UsersByCursor, [app]) => {
            let user = std::str::from_utf8(v).map_err(|_| malformed(table, k))?;
            LogicalRow::user_change(app, seq()?, user)
        }
        (Table::ReactionMarks, [app, user, conv, rkey, reactor]) => {
            let (added, cursor) = decode::<(bool, u64)>(v)?;
            let mark = ReactionMark { added, cursor };
            LogicalRow::reaction_mark(app, user, conv, seq()?, rkey, reactor, mark)
        }
        (Table::Pins, [app, conv]) => LogicalRow::pin(app, conv, &decode::<PinRow>(v)?),
        _ => return Err(malformed(table, k)),
    })
}

/// Adds `rows` (distinct keys) to `batch` sorted by key. A memtable insert walks its skiplist
/// from the top; keys in order take the path the previous insert just walked, in cache,
/// instead of a fresh one through memory (issue 18: the inserts were the largest single cost
/// of a commit; in a microbenchmark of batches of 3,000 inbox rows of 100 users, sorted
/// batches took 0.65-0.87 of the time, sort included; with one row per user in a batch (10,000
/// users), no clear change).
fn insert_in_key_order(
    batch: &mut OwnedWriteBatch,
    keyspace: &Keyspace,
    rows: impl Iterator<Item = (Vec<u8>, Vec<u8>)>,
) {
    let mut rows: Vec<_> = rows.collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in rows {
        batch.insert(keyspace, k, v);
    }
}

/// A range of stored keys.
pub(super) type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Every key.
pub(super) const ALL_KEYS: KeyRange = (Bound::Unbounded, Bound::Unbounded);

impl FjallStore {
    /// The rows of `table` whose keys are in `range` as logical rows, in key order.
    pub(super) fn scan_rows(
        &self,
        table: Table,
        range: KeyRange,
        visit: &mut dyn FnMut(LogicalRow),
    ) -> StoreResult<()> {
        let Some(keyspace) = self.tables.of(table) else {
            return self.scan_heads(visit);
        };
        for guard in keyspace.range(range) {
            let (k, v) = guard.into_inner()?;
            visit(logical(table, &k, &v)?);
        }
        Ok(())
    }

    /// The inbox's rows in `range` as logical rows and, from the same pass, the head of every
    /// user whose rows `range` holds: it must not part a user's rows (`digest::inbox_user`).
    pub(super) fn scan_inbox(
        &self,
        range: KeyRange,
        rows: &mut dyn FnMut(LogicalRow),
        heads: &mut dyn FnMut(LogicalRow),
    ) -> StoreResult<()> {
        let mut scan = HeadScan::default();
        for guard in self.tables.inbox.range(range) {
            let (k, v) = guard.into_inner()?;
            rows(logical(Table::Inbox, &k, &v)?);
            scan.row(&k, &v, heads)?;
        }
        scan.finish(heads)
    }
}

impl ProjectionStore for FjallStore {
    async fn checkpoint(&self, projection: &str) -> StoreResult<u64> {
        self.get_seq(&self.tables.checkpoints, projection.as_bytes())
    }

    async fn load(&self, keys: &RowKeys<'_>) -> StoreResult<Loaded> {
        let t = &self.tables;
        let mut loaded = Loaded::default();
        for &(app, user) in &keys.heads {
            let head = self.head(app.as_str(), user.as_str())?;
            if head.seq > 0 {
                loaded.heads.insert((app.clone(), user.clone()), head);
            }
        }
        for &(app, user, conv) in &keys.convs {
            let stored = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
            if let Some(row) = self.get_row(&t.conversations, &stored)? {
                loaded
                    .convs
                    .insert((app.clone(), user.clone(), conv.clone()), row);
            }
        }
        for &(app, user) in &keys.users {
            let stored = key(&[app.as_str(), user.as_str()], None);
            if let Some(row) = self.get_row(&t.users, &stored)? {
                loaded.users.insert((app.clone(), user.clone()), row);
            }
        }
        for &(app, user, conv) in &keys.cleared {
            let stored = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
            if let Some(mark) = self.get_row(&t.cleared, &stored)? {
                loaded
                    .cleared
                    .insert((app.clone(), user.clone(), conv.clone()), mark);
            }
        }
        for &(app, user, other) in &keys.relations {
            let stored = key(&[app.as_str(), user.as_str(), other.as_str()], None);
            if let Some(row) = self.get_row(&t.relations, &stored)? {
                loaded
                    .relations
                    .insert((app.clone(), user.clone(), other.clone()), row);
            }
        }
        for k in &keys.reaction_marks {
            let (app, user, conv, conv_seq, rkey, reactor) = k;
            let parts = [
                app.as_str(),
                user.as_str(),
                conv.as_str(),
                rkey,
                reactor.as_str(),
            ];
            if let Some(v) = t.reaction_marks.get(key(&parts, Some(*conv_seq)))? {
                let (added, cursor) = decode::<(bool, u64)>(&v)?;
                loaded
                    .reaction_marks
                    .insert(k.clone(), ReactionMark { added, cursor });
            }
        }
        for &(app, conv, conv_seq) in &keys.timeline {
            let stored = key(&[app.as_str(), conv.as_str()], Some(conv_seq));
            if let Some(row) = self.get_row(&t.timeline, &stored)? {
                loaded
                    .timeline
                    .insert((app.clone(), conv.clone(), conv_seq), row);
            }
        }
        Ok(loaded)
    }

    async fn commit(&self, projection: &str, c: &Changes) -> StoreResult<()> {
        let t = &self.tables;
        // Sized for the rows nearly every batch writes: grown item by item, a batch of
        // thousands would be copied at every doubling, each time into fresh pages.
        let rows = c.entries.len() + c.timeline.len() + c.convs.len() + 1;
        // The durability `Database::batch` gives: the journal reaches the OS at commit, so a
        // killed process loses no batch it committed (and the projector then acknowledged).
        let mut batch = OwnedWriteBatch::with_capacity(self.db.clone(), rows)
            .durability(Some(PersistMode::Buffer));
        // The newest of a user's inbox rows is their head (`heads`): `c.heads` needs no rows.
        let inbox = c.entries.iter().map(|e| {
            let k = key(&[e.app.as_str(), e.user.as_str()], Some(e.entry.seq));
            (k, inbox_row::encode_cursored(&e.entry, e.cursor))
        });
        insert_in_key_order(&mut batch, &t.inbox, inbox);
        let timeline = c.timeline.iter().map(|((app, conv, conv_seq), row)| {
            let k = key(&[app.as_str(), conv.as_str()], Some(*conv_seq));
            (k, encode(row))
        });
        insert_in_key_order(&mut batch, &t.timeline, timeline);
        let convs = c.convs.iter().map(|((app, user, conv), row)| {
            let k = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
            (k, encode(row))
        });
        insert_in_key_order(&mut batch, &t.conversations, convs);
        for ((app, user), change) in &c.users {
            let a = app.as_str();
            for old in &change.stale_cursors {
                batch.remove(&t.users_by_cursor, key(&[a], Some(*old)));
            }
            let feed = key(&[a], Some(change.row.cursor));
            batch.insert(&t.users_by_cursor, feed, user.as_str().as_bytes());
            let k = key(&[a, user.as_str()], None);
            batch.insert(&t.users, k, encode(&change.row));
        }
        for ((app, user, other), row) in &c.relations {
            let k = key(&[app.as_str(), user.as_str(), other.as_str()], None);
            batch.insert(&t.relations, k, encode(row));
        }
        for ((app, group), row) in &c.groups {
            let k = key(&[app.as_str(), group.as_str()], None);
            batch.insert(&t.groups, k, encode(row));
        }
        for ((app, group, user), change) in &c.members {
            let k = key(&[app.as_str(), group.as_str(), user.as_str()], None);
            match &change.row {
                Some(row) => batch.insert(&t.members, k, encode(row)),
                None => batch.remove(&t.members, k),
            }
        }
        for ((app, user, group), row) in &c.user_groups {
            let k = key(&[app.as_str(), user.as_str(), group.as_str()], None);
            batch.insert(&t.user_groups, k, encode(row));
        }
        for (app, user, conv, conv_seq) in &c.hidden {
            let k = key(
                &[app.as_str(), user.as_str(), conv.as_str()],
                Some(*conv_seq),
            );
            batch.insert(&t.hidden, k, []);
        }
        for ((app, user, conv), up_to) in &c.cleared {
            let k = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
            batch.insert(&t.cleared, k, encode(up_to));
        }
        for ((app, conv, conv_seq, rkey, user), row) in &c.reactions {
            let k = reaction_key(app.as_str(), conv.as_str(), *conv_seq, rkey, user.as_str());
            match row {
                Some(row) => batch.insert(&t.reactions, k, encode(row)),
                None => batch.remove(&t.reactions, k),
            }
        }
        for ((app, user, conv, conv_seq, rkey, reactor), mark) in &c.reaction_marks {
            let parts = [
                app.as_str(),
                user.as_str(),
                conv.as_str(),
                rkey,
                reactor.as_str(),
            ];
            let k = key(&parts, Some(*conv_seq));
            batch.insert(&t.reaction_marks, k, encode(&(mark.added, mark.cursor)));
        }
        for ((app, conv, conv_seq), row) in &c.pins {
            let k = key(&[app.as_str(), conv.as_str()], Some(*conv_seq));
            match row {
                Some(row) => batch.insert(&t.pins, k, encode(row)),
                None => batch.remove(&t.pins, k),
            }
        }
        for ((app, user, conv), row) in &c.settings {
            let k = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
            batch.insert(&t.settings, k, encode(row));
        }
        for ((app, user, device), row) in &c.devices {
            let k = key(&[app.as_str(), user.as_str(), device.as_str()], None);
            batch.insert(&t.user_devices, k, encode(row));
        }
        for ((app, user, device), row) in &c.device_reads {
            let k = key(&[app.as_str(), user.as_str(), device.as_str()], None);
            batch.insert(&t.device_reads, k, encode(row));
        }
        for ((app, user), row) in &c.push {
            batch.insert(
                &t.push,
                key(&[app.as_str(), user.as_str()], None),
                encode(row),
            );
        }
        for ((app, user, tag), since) in &c.tags {
            let (a, u) = (app.as_str(), user.as_str());
            let mine = key(&[a, u, tag], None);
            // The per-tag index lists users by tag; everyone is every user, not listed.
            let listed = (tag != crate::broadcasts::EVERYONE).then(|| key(&[a, tag, u], None));
            match since {
                Some(since) => {
                    batch.insert(&t.user_tags, mine, encode(since));
                    if let Some(k) = listed {
                        batch.insert(&t.tag_users, k, encode(since));
                    }
                }
                None => {
                    batch.remove(&t.user_tags, mine);
                    if let Some(k) = listed {
                        batch.remove(&t.tag_users, k);
                    }
                }
            }
        }
        for ((app, bseq), row) in &c.broadcasts {
            let k = key(&[app.as_str()], Some(*bseq));
            batch.insert(&t.broadcasts, k, encode(row));
        }
        let through = c.through_seq.to_be_bytes();
        batch.insert(&t.checkpoints, projection.as_bytes(), through);
        let rows = batch.len();
        let started = Instant::now();
        batch.commit()?;
        slow_commit::observe(&self.db, &self.tables, started.elapsed(), rows);
        Ok(())
    }

    async fn scan(
        &self,
        table: Table,
        visit: &mut (dyn FnMut(LogicalRow) + Send),
    ) -> StoreResult<()> {
        self.scan_rows(table, ALL_KEYS, visit)
    }

    async fn digest(&self) -> StoreResult<String> {
        super::digest::parallel(self)
    }
}
