//! The embedded adapter: fjall, one keyspace per table, keys from `keys`, rows in MessagePack.
//! fjall calls are synchronous and short (memtable, block cache, buffered journal append), so
//! they run inline on the calling task.

use crate::digest::{EVENT_DERIVED, RowDigest};
use crate::error::StoreError;
use crate::inbox_row::{self, InboxRow};
use crate::keys::{key, prefix};
use crate::model::{
    Conversation, Entry, EntryItem, GroupRow, MemberRow, Relation, TimelineMessage, UserGroupRow,
    UserRow,
};
use crate::ports::{
    ConversationStore, DeviceStore, GroupStore, InboxStore, ProjectionStore, RelationStore,
    StoreResult, UserStore,
};
use crate::rows::{advance_conversation, mark_read, patch_relation};
use crate::write::{Delivery, Write};
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use tidings_domain::{AppId, ConvId, GroupId, UserId};

struct Tables {
    inbox: Keyspace,
    inbox_head: Keyspace,
    conversations: Keyspace,
    timeline: Keyspace,
    users: Keyspace,
    users_by_cursor: Keyspace,
    relations: Keyspace,
    groups: Keyspace,
    members: Keyspace,
    user_groups: Keyspace,
    checkpoints: Keyspace,
    devices: Keyspace,
}

impl Tables {
    fn by_name(&self, name: &str) -> &Keyspace {
        match name {
            "inbox" => &self.inbox,
            "inbox_head" => &self.inbox_head,
            "conversations" => &self.conversations,
            "timeline" => &self.timeline,
            "users" => &self.users,
            "users_by_cursor" => &self.users_by_cursor,
            "relations" => &self.relations,
            "groups" => &self.groups,
            "members" => &self.members,
            "user_groups" => &self.user_groups,
            "checkpoints" => &self.checkpoints,
            _ => &self.devices,
        }
    }
}

/// The embedded store. Cloning shares the database.
#[derive(Clone)]
pub struct FjallStore {
    db: Database,
    tables: Arc<Tables>,
    /// Serialises `apply`: inbox numbering reads the head it then writes.
    apply_lock: Arc<Mutex<()>>,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("read-model rows always encode")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(rmp_serde::from_slice(bytes)?)
}

/// A user's inbox head: the newest `seq`, and the stream sequence of the event that wrote it.
#[derive(Debug, Clone, Copy, Default)]
struct Head {
    seq: u64,
    cursor: u64,
}

impl Head {
    /// Heads written before deliveries carried cursors are 8 bytes: cursor 0 (nothing skipped).
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.len() {
            8 => Ok(Self {
                seq: seq_value(bytes)?,
                cursor: 0,
            }),
            16 => Ok(Self {
                seq: seq_value(&bytes[..8])?,
                cursor: seq_value(&bytes[8..])?,
            }),
            n => Err(StoreError::Corrupt(format!("inbox head of {n} bytes"))),
        }
    }

    fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..].copy_from_slice(&self.cursor.to_be_bytes());
        out
    }
}

fn seq_value(bytes: &[u8]) -> Result<u64, StoreError> {
    let raw: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("sequence of {} bytes", bytes.len())))?;
    Ok(u64::from_be_bytes(raw))
}

impl FjallStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = Database::builder(dir).open()?;
        let open = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let tables = Tables {
            inbox: open("inbox")?,
            inbox_head: open("inbox_head")?,
            conversations: open("conversations")?,
            timeline: open("timeline")?,
            users: open("users")?,
            users_by_cursor: open("users_by_cursor")?,
            relations: open("relations")?,
            groups: open("groups")?,
            members: open("members")?,
            user_groups: open("user_groups")?,
            checkpoints: open("checkpoints")?,
            devices: open("devices")?,
        };
        Ok(Self {
            db,
            tables: Arc::new(tables),
            apply_lock: Arc::new(Mutex::new(())),
        })
    }

    fn head(&self, k: &[u8]) -> Result<Head, StoreError> {
        self.tables
            .inbox_head
            .get(k)?
            .map_or(Ok(Head::default()), |v| Head::decode(&v))
    }

    fn get_seq(&self, table: &Keyspace, k: &[u8]) -> Result<u64, StoreError> {
        table.get(k)?.map_or(Ok(0), |v| seq_value(&v))
    }

    fn get_row<T: DeserializeOwned>(&self, table: &Keyspace, k: &[u8]) -> StoreResult<Option<T>> {
        table.get(k)?.map(|v| decode(&v)).transpose()
    }

    /// Joins a conversation row with its newest message from the timeline.
    fn with_last_message(&self, app: &AppId, mut row: Conversation) -> StoreResult<Conversation> {
        let k = key(&[app.as_str(), row.conv.as_str()], Some(row.last_seq));
        let last: Option<TimelineMessage> = self.get_row(&self.tables.timeline, &k)?;
        row.last_message = last.map(|t| t.message);
        Ok(row)
    }
}

/// Rows that one batch reads and rewrites, read once from the store then kept in memory.
struct BatchState<'a> {
    store: &'a FjallStore,
    /// Each touched inbox head, with the cursor it had before the batch.
    heads: HashMap<Vec<u8>, (Head, u64)>,
    convs: HashMap<Vec<u8>, Conversation>,
    /// User rows, with the cursor they had before the batch (to move their index entry).
    users: HashMap<Vec<u8>, (Option<u64>, UserRow)>,
    relations: HashMap<Vec<u8>, Relation>,
    /// Final value per key of the group tables (`None` deletes): items of one fjall batch
    /// share a sequence number, so a key must appear in it once.
    group_rows: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
}

impl BatchState<'_> {
    /// The `seq` for a delivery from the event at `cursor`, `None` when the user's inbox
    /// already holds that event's deliveries. An event's deliveries to one user are always
    /// applied together, so comparing with the head as it was before the batch is exact.
    fn next_seq(&mut self, head_key: Vec<u8>, cursor: u64) -> StoreResult<Option<u64>> {
        let (current, applied_through) = match self.heads.get(&head_key) {
            Some(entry) => *entry,
            None => {
                let head = self.store.head(&head_key)?;
                (head, head.cursor)
            }
        };
        if cursor <= applied_through {
            return Ok(None);
        }
        let seq = current.seq + 1;
        self.heads
            .insert(head_key, (Head { seq, cursor }, applied_through));
        Ok(Some(seq))
    }

    fn conversation(&mut self, conv_key: &[u8]) -> StoreResult<Option<Conversation>> {
        if let Some(row) = self.convs.get(conv_key) {
            return Ok(Some(row.clone()));
        }
        self.store
            .get_row(&self.store.tables.conversations, conv_key)
    }

    fn user(&mut self, user_key: &[u8]) -> StoreResult<Option<&mut (Option<u64>, UserRow)>> {
        if !self.users.contains_key(user_key) {
            match self
                .store
                .get_row::<UserRow>(&self.store.tables.users, user_key)?
            {
                Some(row) => {
                    self.users
                        .insert(user_key.to_vec(), (Some(row.cursor), row));
                }
                None => return Ok(None),
            }
        }
        Ok(self.users.get_mut(user_key))
    }

    fn relation(&mut self, key: &[u8]) -> StoreResult<Option<Relation>> {
        if let Some(row) = self.relations.get(key) {
            return Ok(Some(row.clone()));
        }
        self.store.get_row(&self.store.tables.relations, key)
    }
}

impl InboxStore for FjallStore {
    async fn inbox_after(
        &self,
        app: &AppId,
        user: &UserId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Entry>> {
        let from = key(
            &[app.as_str(), user.as_str()],
            Some(after.saturating_add(1)),
        );
        let to = key(&[app.as_str(), user.as_str()], Some(u64::MAX));
        let mut entries = Vec::new();
        for guard in self.tables.inbox.range(from..=to).take(limit) {
            let (_, v) = guard.into_inner()?;
            let entry = match inbox_row::decode(&v)? {
                InboxRow::Whole(entry) => entry,
                InboxRow::MessageRef {
                    seq,
                    ts,
                    conv,
                    conv_seq,
                } => {
                    let k = key(&[app.as_str(), conv.as_str()], Some(conv_seq));
                    let Some(row) = self.get_row::<TimelineMessage>(&self.tables.timeline, &k)?
                    else {
                        // Written by another partition that has not caught up yet: the page
                        // ends here, and the rest follows once it has.
                        break;
                    };
                    Entry {
                        seq,
                        ts,
                        item: EntryItem::Message(row.message),
                    }
                }
            };
            entries.push(entry);
        }
        Ok(entries)
    }

    async fn inbox_last_seq(&self, app: &AppId, user: &UserId) -> StoreResult<u64> {
        Ok(self.head(&key(&[app.as_str(), user.as_str()], None))?.seq)
    }
}

impl ConversationStore for FjallStore {
    async fn conversations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Conversation>> {
        let mut rows = self
            .tables
            .conversations
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                self.with_last_message(app, decode::<Conversation>(&v)?)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        rows.sort_by(|a, b| b.last_ts.cmp(&a.last_ts).then(a.conv.cmp(&b.conv)));
        Ok(rows)
    }

    async fn conversation(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> StoreResult<Option<Conversation>> {
        self.get_row(
            &self.tables.conversations,
            &key(&[app.as_str(), user.as_str(), conv.as_str()], None),
        )?
        .map(|row| self.with_last_message(app, row))
        .transpose()
    }

    async fn messages_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        let from = key(&[app.as_str(), conv.as_str()], Some(0));
        let to = key(
            &[app.as_str(), conv.as_str()],
            Some(before.unwrap_or(u64::MAX)),
        );
        self.tables
            .timeline
            .range(from..to)
            .rev()
            .take(limit)
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }
}

impl UserStore for FjallStore {
    async fn user(&self, app: &AppId, user: &UserId) -> StoreResult<Option<UserRow>> {
        self.get_row(
            &self.tables.users,
            &key(&[app.as_str(), user.as_str()], None),
        )
    }

    async fn users_changed(
        &self,
        app: &AppId,
        cursor: u64,
        limit: usize,
    ) -> StoreResult<Vec<UserRow>> {
        let from = key(&[app.as_str()], Some(cursor.saturating_add(1)));
        let to = key(&[app.as_str()], Some(u64::MAX));
        let mut rows = Vec::new();
        for guard in self.tables.users_by_cursor.range(from..=to).take(limit) {
            let (_, user) = guard.into_inner()?;
            let user_key = key(&[app.as_str(), &String::from_utf8_lossy(&user)], None);
            if let Some(row) = self.get_row(&self.tables.users, &user_key)? {
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

impl GroupStore for FjallStore {
    async fn group(&self, app: &AppId, group: &GroupId) -> StoreResult<Option<GroupRow>> {
        self.get_row(
            &self.tables.groups,
            &key(&[app.as_str(), group.as_str()], None),
        )
    }

    async fn member(
        &self,
        app: &AppId,
        group: &GroupId,
        user: &UserId,
    ) -> StoreResult<Option<MemberRow>> {
        self.get_row(
            &self.tables.members,
            &key(&[app.as_str(), group.as_str(), user.as_str()], None),
        )
    }

    async fn members(
        &self,
        app: &AppId,
        group: &GroupId,
        after: Option<&UserId>,
        limit: usize,
    ) -> StoreResult<Vec<MemberRow>> {
        let (a, g) = (app.as_str(), group.as_str());
        let start = match after {
            Some(user) => Bound::Excluded(key(&[a, g, user.as_str()], None)),
            None => Bound::Included(prefix(&[a, g])),
        };
        // Ids are ASCII, so 0xff sorts after every member key of the group.
        let mut end = prefix(&[a, g]);
        end.push(0xff);
        self.tables
            .members
            .range::<Vec<u8>, _>((start, Bound::Excluded(end)))
            .take(limit)
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }

    async fn user_groups(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<UserGroupRow>> {
        self.tables
            .user_groups
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }
}

impl RelationStore for FjallStore {
    async fn relations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Relation>> {
        self.tables
            .relations
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }
}

impl DeviceStore for FjallStore {
    async fn ack_device(
        &self,
        app: &AppId,
        user: &UserId,
        device: &str,
        seq: u64,
    ) -> StoreResult<()> {
        let k = key(&[app.as_str(), user.as_str(), device], None);
        if seq > self.get_seq(&self.tables.devices, &k)? {
            self.tables.devices.insert(k, seq.to_be_bytes())?;
        }
        Ok(())
    }

    async fn device_ack(&self, app: &AppId, user: &UserId, device: &str) -> StoreResult<u64> {
        self.get_seq(
            &self.tables.devices,
            &key(&[app.as_str(), user.as_str(), device], None),
        )
    }
}

impl ProjectionStore for FjallStore {
    async fn checkpoint(&self, projection: &str) -> StoreResult<u64> {
        self.get_seq(&self.tables.checkpoints, projection.as_bytes())
    }

    async fn apply(
        &self,
        projection: &str,
        through_seq: u64,
        writes: Vec<Write>,
    ) -> StoreResult<Vec<Delivery>> {
        let _guard = self.apply_lock.lock().unwrap_or_else(|e| e.into_inner());
        let t = &self.tables;
        let mut batch = self.db.batch();
        let mut state = BatchState {
            store: self,
            heads: HashMap::new(),
            convs: HashMap::new(),
            users: HashMap::new(),
            relations: HashMap::new(),
            group_rows: HashMap::new(),
        };
        let mut deliveries = Vec::new();
        for write in writes {
            match write {
                Write::Deliver {
                    app,
                    user,
                    ts,
                    item,
                    cursor,
                } => {
                    let head_key = key(&[app.as_str(), user.as_str()], None);
                    let Some(seq) = state.next_seq(head_key, cursor)? else {
                        continue;
                    };
                    let entry = Entry { seq, ts, item };
                    batch.insert(
                        &t.inbox,
                        key(&[app.as_str(), user.as_str()], Some(seq)),
                        inbox_row::encode(&entry),
                    );
                    deliveries.push(Delivery { app, user, entry });
                }
                Write::Timeline { app, ts, message } => {
                    let k = key(
                        &[app.as_str(), message.conv.as_str()],
                        Some(message.conv_seq),
                    );
                    batch.insert(&t.timeline, k, encode(&TimelineMessage { ts, message }));
                }
                Write::ConversationMessage {
                    app,
                    user,
                    ts,
                    message,
                } => {
                    let k = key(&[app.as_str(), user.as_str(), message.conv.as_str()], None);
                    let row = advance_conversation(state.conversation(&k)?, &user, ts, &message);
                    state.convs.insert(k, row);
                }
                Write::ConversationRead {
                    app,
                    user,
                    conv,
                    conv_seq,
                } => {
                    let k = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
                    // A read marker for a conversation the projection has no row of is moot.
                    if let Some(row) = state.conversation(&k)? {
                        state.convs.insert(k, mark_read(row, conv_seq));
                    }
                }
                Write::PutUser { profile, cursor } => {
                    let k = key(&[profile.app.as_str(), profile.user.as_str()], None);
                    match state.user(&k)? {
                        Some((_, row)) => {
                            row.profile = profile;
                            row.cursor = cursor;
                        }
                        None => {
                            let row = UserRow {
                                profile,
                                deactivated: false,
                                token_epoch: 0,
                                cursor,
                            };
                            state.users.insert(k, (None, row));
                        }
                    }
                }
                Write::UserStatus {
                    app,
                    user,
                    deactivated,
                    token_epoch,
                    cursor,
                } => {
                    let k = key(&[app.as_str(), user.as_str()], None);
                    // Status events always follow registration on the user's subject.
                    if let Some((_, row)) = state.user(&k)? {
                        row.deactivated = deactivated.unwrap_or(row.deactivated);
                        row.token_epoch = token_epoch.unwrap_or(row.token_epoch);
                        row.cursor = cursor;
                    }
                }
                Write::Relation {
                    app,
                    user,
                    other,
                    patch,
                    ts,
                    cursor,
                } => {
                    let k = key(&[app.as_str(), user.as_str(), other.as_str()], None);
                    let row = patch_relation(state.relation(&k)?, &other, patch, ts, cursor);
                    state.relations.insert(k, row);
                }
                Write::PutGroup { app, row } => {
                    let k = key(&[app.as_str(), row.group.as_str()], None);
                    state.group_rows.insert(("groups", k), Some(encode(&row)));
                }
                Write::PutMember {
                    app,
                    group,
                    member,
                    cursor,
                } => {
                    let (a, g, u) = (app.as_str(), group.as_str(), member.user.as_str());
                    let mine = UserGroupRow {
                        group: group.clone(),
                        role: Some(member.role),
                        cursor,
                    };
                    state
                        .group_rows
                        .insert(("user_groups", key(&[a, u, g], None)), Some(encode(&mine)));
                    state
                        .group_rows
                        .insert(("members", key(&[a, g, u], None)), Some(encode(&member)));
                }
                Write::RemoveMember {
                    app,
                    group,
                    user,
                    cursor,
                } => {
                    let (a, g, u) = (app.as_str(), group.as_str(), user.as_str());
                    let left = UserGroupRow {
                        group: group.clone(),
                        role: None,
                        cursor,
                    };
                    state
                        .group_rows
                        .insert(("user_groups", key(&[a, u, g], None)), Some(encode(&left)));
                    state
                        .group_rows
                        .insert(("members", key(&[a, g, u], None)), None);
                }
            }
        }
        for (k, (old_cursor, row)) in state.users {
            let app = row.profile.app.as_str();
            if let Some(old) = old_cursor {
                batch.remove(&t.users_by_cursor, key(&[app], Some(old)));
            }
            batch.insert(
                &t.users_by_cursor,
                key(&[app], Some(row.cursor)),
                row.profile.user.as_str().as_bytes().to_vec(),
            );
            batch.insert(&t.users, k, encode(&row));
        }
        for (k, row) in state.relations {
            batch.insert(&t.relations, k, encode(&row));
        }
        for ((table, k), value) in state.group_rows {
            match value {
                Some(v) => batch.insert(t.by_name(table), k, v),
                None => batch.remove(t.by_name(table), k),
            }
        }
        for (k, (head, _)) in state.heads {
            batch.insert(&t.inbox_head, k, head.encode());
        }
        for (k, row) in state.convs {
            batch.insert(&t.conversations, k, encode(&row));
        }
        // The checkpoint commits with the rows it covers: a crash keeps both or neither.
        batch.insert(
            &t.checkpoints,
            projection.as_bytes(),
            through_seq.to_be_bytes(),
        );
        batch.commit()?;
        Ok(deliveries)
    }

    async fn digest(&self) -> StoreResult<String> {
        let mut digest = RowDigest::default();
        for name in EVENT_DERIVED {
            digest.table(name);
            for guard in self.tables.by_name(name).iter() {
                let (k, v) = guard.into_inner()?;
                digest.row(&k, &v);
            }
        }
        Ok(digest.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::Head;

    #[test]
    fn inbox_heads_of_both_layouts_decode() {
        let old = Head::decode(&7u64.to_be_bytes()).unwrap();
        assert_eq!((old.seq, old.cursor), (7, 0));
        let new = Head::decode(&Head { seq: 9, cursor: 42 }.encode()).unwrap();
        assert_eq!((new.seq, new.cursor), (9, 42));
        assert!(Head::decode(&[0; 3]).is_err());
    }
}
