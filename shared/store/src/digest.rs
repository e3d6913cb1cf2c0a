//! The digest of the event-derived read models, computed here for every adapter from logical
//! rows: each adapter only lists a table's rows (`ProjectionStore::scan`), in any order, as
//! `LogicalRow`s built by the constructors below, so equal read models digest equally whatever
//! the store and however it lays rows out.
//!
//! Version 2 (`v2:` prefix). A row is the canonical encoding of its logical key (the key's
//! components, `keys::key`, length-prefixed) then value: the typed row as a MessagePack map,
//! which the timeline, users, relations, groups, members and user_groups tables store as is
//! in every adapter (so their bytes are hashed without decoding them); inbox messages as
//! references to their timeline row, as the embedded store keeps them; conversation rows
//! without a joined last message; heads and change-feed entries as their fields. A table's
//! digest is its row count and the sum, modulo 2^256, of its rows'
//! SHA-256 hashes, so it needs no ordering; the digest is the SHA-256 of every table's name,
//! count and sum.
//! Version 3 (`v3:`) is version 2 with a group's conversation rows hashed without what a read
//! derives from the group's timeline (`LogicalRow::conversation`).
//! Version 4 (`v4:`) is version 3 with every row that may follow its timeline hashed the same
//! way: a direct conversation's, and a service conversation's of its customer and its service
//! account.
//! Version 1 hashed the embedded store's bytes in key order; digests of different versions
//! never compare equal. Tables added since version 2 (`Table::added_later`) are hashed only when
//! they hold rows, so a store that has none of theirs keeps the digest it had before them.

use crate::annotations::{PinRow, ReactionMark, ReactionRow};
use crate::device_row::{DeviceReadRow, DeviceRow};
use crate::error::StoreError;
use crate::inbox_row::{self, InboxRow};
use crate::keys::key;
use crate::model::{Conversation, PushRow, SettingsRow};
use crate::plan::Head;
use crate::ports::ProjectionStore;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The digest format's version, the prefix of every digest.
pub const VERSION: &str = "v4";

/// The event-derived tables, in digest order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Inbox,
    InboxHead,
    Conversations,
    Timeline,
    Users,
    UsersByCursor,
    Relations,
    Groups,
    Members,
    UserGroups,
    Hidden,
    Cleared,
    Reactions,
    ReactionMarks,
    Pins,
    Settings,
    Devices,
    DeviceReads,
    Push,
    UserTags,
    TagUsers,
    Broadcasts,
}

impl Table {
    /// Every event-derived table, in digest order.
    pub const ALL: [Table; 22] = [
        Table::Inbox,
        Table::InboxHead,
        Table::Conversations,
        Table::Timeline,
        Table::Users,
        Table::UsersByCursor,
        Table::Relations,
        Table::Groups,
        Table::Members,
        Table::UserGroups,
        Table::Hidden,
        Table::Cleared,
        Table::Reactions,
        Table::ReactionMarks,
        Table::Pins,
        Table::Settings,
        Table::Devices,
        Table::DeviceReads,
        Table::Push,
        Table::UserTags,
        Table::TagUsers,
        Table::Broadcasts,
    ];

    /// The table's name, hashed into the digest.
    pub fn name(self) -> &'static str {
        match self {
            Table::Inbox => "inbox",
            Table::InboxHead => "inbox_head",
            Table::Conversations => "conversations",
            Table::Timeline => "timeline",
            Table::Users => "users",
            Table::UsersByCursor => "users_by_cursor",
            Table::Relations => "relations",
            Table::Groups => "groups",
            Table::Members => "members",
            Table::UserGroups => "user_groups",
            Table::Hidden => "hidden",
            Table::Cleared => "cleared",
            Table::Reactions => "reactions",
            Table::ReactionMarks => "reaction_marks",
            Table::Pins => "pins",
            Table::Settings => "conv_settings",
            Table::Devices => "user_devices",
            Table::DeviceReads => "device_reads",
            Table::Push => "push_settings",
            Table::UserTags => "user_tags",
            Table::TagUsers => "tag_users",
            Table::Broadcasts => "broadcasts",
        }
    }

    /// Whether the table came after digest version 2, and so is hashed only when not empty.
    pub fn added_later(self) -> bool {
        matches!(
            self,
            Table::Hidden
                | Table::Cleared
                | Table::Reactions
                | Table::ReactionMarks
                | Table::Pins
                | Table::Settings
                | Table::Devices
                | Table::DeviceReads
                | Table::Push
                | Table::UserTags
                | Table::TagUsers
                | Table::Broadcasts
        )
    }
}

/// One row of a read model as the digest sees it: the hash of its canonical form, the
/// length-prefixed key then the value, encoded straight into the hasher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalRow {
    hash: [u8; 32],
}

/// The hash of a row whose value is `value`'s MessagePack map.
fn named<T: Serialize>(key: Vec<u8>, value: &T) -> LogicalRow {
    let mut h = keyed(&key);
    rmp_serde::encode::write_named(&mut h, value).expect("read-model rows always encode");
    LogicalRow {
        hash: h.finalize().into(),
    }
}

/// The hash of a row whose value every adapter stores as is: the MessagePack map of the row
/// the planner made (`rmp_serde::to_vec_named`), so its bytes are its canonical form.
fn stored(key: Vec<u8>, value: &[u8]) -> LogicalRow {
    let mut h = keyed(&key);
    h.update(value);
    LogicalRow {
        hash: h.finalize().into(),
    }
}

impl LogicalRow {
    /// A row whose key is already `keys::key` of its logical components and whose value is
    /// its canonical form: the embedded store's rows of the tables it keeps as is.
    pub(crate) fn canonical(key: &[u8], value: &[u8]) -> Self {
        Self::canonical_parts(key, &[value])
    }

    /// As `canonical`, the value given in consecutive parts.
    pub(crate) fn canonical_parts(key: &[u8], value: &[&[u8]]) -> Self {
        let mut h = keyed(key);
        for part in value {
            h.update(part);
        }
        LogicalRow {
            hash: h.finalize().into(),
        }
    }
}

fn keyed(key: &[u8]) -> Sha256 {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_be_bytes());
    h.update(key);
    h
}

impl LogicalRow {
    /// An inbox row of `user`.
    pub fn inbox(app: &str, user: &str, row: InboxRow) -> Self {
        let row = match row {
            InboxRow::Whole(entry) => InboxRow::kept(*entry),
            reference => reference,
        };
        let mut h = keyed(&key(&[app, user], Some(row.seq())));
        h.update(inbox_row::encode_row(&row));
        LogicalRow {
            hash: h.finalize().into(),
        }
    }

    /// A user's inbox head.
    pub fn inbox_head(app: &str, user: &str, head: Head) -> Self {
        named(key(&[app, user], None), &(head.seq, head.cursor))
    }

    /// A user's conversation row (its joined last message is not part of the row). A row
    /// that may follow its timeline (`Conversation::may_follow`) leaves out what a read
    /// takes from the timeline (`last_seq`, `last_ts`, `unread`, and whether it follows):
    /// their stored values depend on when the fold last wrote the row (after a restart, say),
    /// and a row of a store written before rows followed has them all exact.
    pub fn conversation(app: &str, user: &str, mut row: Conversation) -> Self {
        row.last_message = None;
        if row.may_follow(user) {
            (row.last_seq, row.last_ts, row.unread, row.follows) = (0, 0, 0, false);
        }
        named(key(&[app, user, row.conv.as_str()], None), &row)
    }

    /// A timeline row, `value` its stored MessagePack map.
    pub fn timeline(app: &str, conv: &str, conv_seq: u64, value: &[u8]) -> Self {
        stored(key(&[app, conv], Some(conv_seq)), value)
    }

    /// A user's profile row, `value` its stored MessagePack map.
    pub fn user(app: &str, user: &str, value: &[u8]) -> Self {
        stored(key(&[app, user], None), value)
    }

    /// A change-feed entry: `user` changed last at stream sequence `cursor`.
    pub fn user_change(app: &str, cursor: u64, user: &str) -> Self {
        named(key(&[app], Some(cursor)), &user)
    }

    /// `user`'s relation row about `other`, `value` its stored MessagePack map.
    pub fn relation(app: &str, user: &str, other: &str, value: &[u8]) -> Self {
        stored(key(&[app, user, other], None), value)
    }

    /// A group's row, `value` its stored MessagePack map.
    pub fn group(app: &str, group: &str, value: &[u8]) -> Self {
        stored(key(&[app, group], None), value)
    }

    /// A member of `group`, `value` its stored MessagePack map.
    pub fn member(app: &str, group: &str, user: &str, value: &[u8]) -> Self {
        stored(key(&[app, group, user], None), value)
    }

    /// Message `conv_seq` of `conv`, hidden by `user` (a row with no value).
    pub fn hidden(app: &str, user: &str, conv: &str, conv_seq: u64) -> Self {
        stored(key(&[app, user, conv], Some(conv_seq)), &[])
    }

    /// `user`'s clear mark in `conv`.
    pub fn cleared(app: &str, user: &str, conv: &str, up_to: u64) -> Self {
        named(key(&[app, user, conv], None), &up_to)
    }

    /// A row of `user`'s group list, `value` its stored MessagePack map.
    pub fn user_group(app: &str, user: &str, group: &str, value: &[u8]) -> Self {
        stored(key(&[app, user, group], None), value)
    }
}

impl LogicalRow {
    /// A reaction row.
    pub fn reaction(app: &str, row: &ReactionRow) -> Self {
        let k = key(
            &[app, row.conv.as_str(), &row.key, row.user.as_str()],
            Some(row.conv_seq),
        );
        named(k, &row.ts)
    }

    /// What `user` was told of `reactor`'s reaction `key` on `conv`'s message at `conv_seq`.
    pub fn reaction_mark(
        app: &str,
        user: &str,
        conv: &str,
        conv_seq: u64,
        key_: &str,
        reactor: &str,
        mark: ReactionMark,
    ) -> Self {
        let k = key(&[app, user, conv, key_, reactor], Some(conv_seq));
        named(k, &(mark.added, mark.cursor))
    }

    /// `user`'s settings row for a conversation.
    pub fn settings(app: &str, user: &str, row: &SettingsRow) -> Self {
        named(key(&[app, user, row.conv.as_str()], None), row)
    }

    /// `user`'s row for one of their devices.
    pub fn device(app: &str, user: &str, row: &DeviceRow) -> Self {
        named(key(&[app, user, row.device.as_str()], None), row)
    }

    /// The read marker one of `user`'s devices last moved.
    pub fn device_read(app: &str, user: &str, row: &DeviceReadRow) -> Self {
        named(key(&[app, user, row.device.as_str()], None), row)
    }

    /// `user`'s push settings row.
    pub fn push(app: &str, user: &str, row: &PushRow) -> Self {
        named(key(&[app, user], None), row)
    }

    /// `user` holds audience `tag` since stream sequence `since`.
    pub fn user_tag(app: &str, user: &str, tag: &str, since: u64) -> Self {
        named(key(&[app, user, tag], None), &since)
    }

    /// `tag`'s index row of `user`, who holds it since stream sequence `since`.
    pub fn tag_user(app: &str, tag: &str, user: &str, since: u64) -> Self {
        named(key(&[app, tag, user], None), &since)
    }

    /// A broadcast of `app`, `value` its stored MessagePack map.
    pub fn broadcast(app: &str, bseq: u64, value: &[u8]) -> Self {
        stored(key(&[app], Some(bseq)), value)
    }

    /// A pinned message of `conv`.
    pub fn pin(app: &str, conv: &str, row: &PinRow) -> Self {
        named(key(&[app, conv], Some(row.conv_seq)), row)
    }
}

/// One table's rows, in any order: their count and the sum of their hashes modulo 2^256.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableDigest {
    count: u64,
    /// Little-endian 64-bit limbs.
    sum: [u64; 4],
}

impl TableDigest {
    /// Adds one row.
    pub fn add(&mut self, row: &LogicalRow) {
        let hash = row.hash;
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            *limb = u64::from_be_bytes(hash[24 - 8 * i..32 - 8 * i].try_into().expect("8"));
        }
        self.add_sum(&limbs);
        self.count += 1;
    }

    /// Adds the rows `other` has taken: the digest of two disjoint sets of rows of one table.
    pub fn merge(&mut self, other: &TableDigest) {
        self.add_sum(&other.sum);
        self.count += other.count;
    }

    /// `sum += limbs`, modulo 2^256 (limbs least significant first).
    fn add_sum(&mut self, limbs: &[u64; 4]) {
        let mut carry = 0u128;
        for (limb, part) in self.sum.iter_mut().zip(limbs) {
            let total = *limb as u128 + *part as u128 + carry;
            *limb = total as u64;
            carry = total >> 64;
        }
    }
}

/// Combines per-table digests, in `Table::ALL` order, into the digest string.
pub fn finish(tables: &[(Table, TableDigest)]) -> String {
    let mut h = Sha256::new();
    h.update(VERSION.as_bytes());
    for (table, digest) in tables {
        if table.added_later() && digest.count == 0 {
            continue;
        }
        let name = table.name();
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(digest.count.to_be_bytes());
        for limb in digest.sum {
            h.update(limb.to_be_bytes());
        }
    }
    format!("{VERSION}:{}", hex::encode(h.finalize()))
}

/// The digest of every event-derived row `store` holds.
pub async fn compute<S: ProjectionStore + ?Sized>(store: &S) -> Result<String, StoreError> {
    let mut tables = Vec::with_capacity(Table::ALL.len());
    for table in Table::ALL {
        let mut digest = TableDigest::default();
        store.scan(table, &mut |row| digest.add(&row)).await?;
        tables.push((table, digest));
    }
    Ok(finish(&tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u64) -> LogicalRow {
        LogicalRow::user_change("demo", n, "alice")
    }

    #[test]
    fn a_table_digest_ignores_row_order_but_not_rows() {
        let (mut a, mut b, mut c) = Default::default();
        for n in 1..=5 {
            TableDigest::add(&mut a, &row(n));
        }
        for n in (1..=5).rev() {
            TableDigest::add(&mut b, &row(n));
        }
        for n in [1, 2, 3, 4, 6] {
            TableDigest::add(&mut c, &row(n));
        }
        assert_eq!(a, b);
        assert_ne!(a, c);
        let d = finish(&[(Table::UsersByCursor, a)]);
        assert!(d.starts_with("v4:"));
        assert_ne!(d, finish(&[(Table::Users, a)]));
        assert_ne!(d, finish(&[(Table::UsersByCursor, c)]));
    }

    #[test]
    fn a_following_row_digests_without_what_a_read_derives() {
        use crate::test_fixtures::{message, user};
        let row = |conv: tidings_domain::ConvId, (last_seq, unread, follows)| Conversation {
            conv,
            peer: Some(user("alice")),
            group: None,
            last_seq,
            read_seq: 1,
            unread,
            last_ts: last_seq as i64 * 10,
            last_message: None,
            follows,
        };
        let digest = |row| LogicalRow::conversation("demo", "bob", row);
        // A direct row written on every message (before rows followed) and one that follows
        // from an older write digest alike; a change of what the row stores does not.
        let direct = message("alice", "bob", 1).conv;
        let exact = digest(row(direct.clone(), (5, 4, false)));
        assert_eq!(exact, digest(row(direct.clone(), (2, 1, true))));
        let mut read = row(direct, (5, 2, false));
        read.read_seq = 3;
        assert_ne!(exact, digest(read));
        // A service conversation's row of its customer follows; an agent's never does: every
        // field of it counts.
        let service = tidings_domain::ConvId::service(&user("shop"), &user("bob"));
        assert_eq!(
            digest(row(service.clone(), (5, 4, false))),
            digest(row(service.clone(), (2, 1, true)))
        );
        let agent = |row| LogicalRow::conversation("demo", "carol", row);
        assert_ne!(
            agent(row(service.clone(), (5, 4, false))),
            agent(row(service, (2, 1, false)))
        );
    }

    #[test]
    fn an_inbox_message_digests_alike_as_a_whole_entry_or_a_stored_reference() {
        use crate::model::{Entry, EntryItem};
        let entry = Entry {
            seq: 9,
            ts: 5,
            item: EntryItem::Message(crate::test_fixtures::message("alice", "bob", 3).into()),
        };
        let whole = LogicalRow::inbox("demo", "bob", InboxRow::Whole(Box::new(entry.clone())));
        let k = key(&["demo", "bob"], Some(9));
        let stored = inbox_row::encode(&entry);
        assert_eq!(LogicalRow::canonical(&k, &stored), whole);
        // The embedded store's layout, with the delivery's cursor, hashes alike.
        let cursored = inbox_row::encode_cursored(&entry, 77);
        let array = inbox_row::reference_array(&cursored).unwrap();
        let parts = inbox_row::canonical_reference(array);
        assert_eq!(LogicalRow::canonical_parts(&k, &parts), whole);
    }

    #[test]
    fn sums_carry_across_limbs() {
        let r = row(1);
        let hash = r.hash;
        let limb = |i: usize| u64::from_be_bytes(hash[24 - 8 * i..32 - 8 * i].try_into().unwrap());
        // All ones in the two low limbs: adding anything with a nonzero low limb carries twice.
        assert_ne!(limb(0), 0);
        let mut d = TableDigest {
            count: 0,
            sum: [u64::MAX, u64::MAX, 5, 0],
        };
        d.add(&r);
        assert_eq!(d.sum[0], limb(0) - 1);
        assert_eq!(d.sum[1], limb(1));
        assert_eq!(d.sum[2], limb(2).wrapping_add(6));
        assert_eq!(d.count, 1);
    }
}
