//! The embedded adapter: fjall, one keyspace per table, keys from `keys`, rows in MessagePack.
//! fjall calls are synchronous and short (memtable, block cache, buffered journal append), so
//! they run inline on the calling task. `reads` serves the read ports, `apply` maps planned
//! changes to one atomic batch and lists rows for the digest.

mod apply;
mod broadcast_reads;
mod digest;
mod heads;
mod reads;
mod slow_commit;

use crate::error::StoreError;
use crate::keys::key;
use crate::model::{Conversation, TimelineMessage};
use crate::ports::StoreResult;
use crate::rows::follow;
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use tidings_domain::AppId;

struct Tables {
    inbox: Keyspace,
    conversations: Keyspace,
    timeline: Keyspace,
    users: Keyspace,
    users_by_cursor: Keyspace,
    relations: Keyspace,
    groups: Keyspace,
    members: Keyspace,
    user_groups: Keyspace,
    hidden: Keyspace,
    cleared: Keyspace,
    reactions: Keyspace,
    reaction_marks: Keyspace,
    pins: Keyspace,
    settings: Keyspace,
    user_devices: Keyspace,
    device_reads: Keyspace,
    push: Keyspace,
    user_tags: Keyspace,
    tag_users: Keyspace,
    broadcasts: Keyspace,
    checkpoints: Keyspace,
    devices: Keyspace,
}

/// The embedded store. Cloning shares the database.
#[derive(Clone)]
pub struct FjallStore {
    db: Database,
    tables: Arc<Tables>,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("read-model rows always encode")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(rmp_serde::from_slice(bytes)?)
}

/// A reaction row's key: the message's (app, conv, conv_seq) first, so a page of history reads
/// its reactions in one range, then the reaction's key and user.
fn reaction_key(app: &str, conv: &str, conv_seq: u64, rkey: &str, user: &str) -> Vec<u8> {
    let mut k = key(&[app, conv], Some(conv_seq));
    for part in [rkey, user] {
        k.push(0);
        k.extend_from_slice(part.as_bytes());
    }
    k
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
            conversations: open("conversations")?,
            timeline: open("timeline")?,
            users: open("users")?,
            users_by_cursor: open("users_by_cursor")?,
            relations: open("relations")?,
            groups: open("groups")?,
            members: open("members")?,
            user_groups: open("user_groups")?,
            hidden: open("hidden")?,
            cleared: open("cleared")?,
            reactions: open("reactions")?,
            reaction_marks: open("reaction_marks")?,
            pins: open("pins")?,
            settings: open("conv_settings")?,
            user_devices: open("user_devices")?,
            device_reads: open("device_reads")?,
            push: open("push_settings")?,
            user_tags: open("user_tags")?,
            tag_users: open("tag_users")?,
            broadcasts: open("broadcasts")?,
            checkpoints: open("checkpoints")?,
            devices: open("devices")?,
        };
        heads::migrate(&db, &tables.inbox)?;
        Ok(Self {
            db,
            tables: Arc::new(tables),
        })
    }

    /// Syncs everything written to disk and leaves the store's memory to the process's exit,
    /// for a command about to end (`tidings replay`): the journal holds every committed batch,
    /// and reopening recovers the memtables from it as after any stop, so dropping the store
    /// would only free its memtables row by row, work the process's exit does at once.
    pub fn sync_and_leave(self) -> Result<(), StoreError> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        std::mem::forget(self);
        Ok(())
    }

    fn get_seq(&self, table: &Keyspace, k: &[u8]) -> Result<u64, StoreError> {
        table.get(k)?.map_or(Ok(0), |v| seq_value(&v))
    }

    fn get_row<T: DeserializeOwned>(&self, table: &Keyspace, k: &[u8]) -> StoreResult<Option<T>> {
        table.get(k)?.map(|v| decode(&v)).transpose()
    }

    /// Joins a conversation row with its newest message from the timeline: the row's
    /// `last_seq` (one point read), or for a following row the timeline's newest (one
    /// reverse read), which the row then follows (`rows::follow`).
    fn with_last_message(&self, app: &AppId, mut row: Conversation) -> StoreResult<Conversation> {
        if row.follows {
            let from = key(&[app.as_str(), row.conv.as_str()], Some(0));
            let to = key(&[app.as_str(), row.conv.as_str()], Some(u64::MAX));
            let newest: Option<TimelineMessage> =
                match self.tables.timeline.range(from..=to).next_back() {
                    Some(guard) => Some(decode(&guard.into_inner()?.1)?),
                    None => None,
                };
            row = follow(row, newest.as_ref().map(|t| (t.message.conv_seq, t.ts)));
            row.last_message = newest
                .map(|t| t.message)
                .filter(|m| m.conv_seq == row.last_seq);
            return Ok(row);
        }
        let k = key(&[app.as_str(), row.conv.as_str()], Some(row.last_seq));
        let last: Option<TimelineMessage> = self.get_row(&self.tables.timeline, &k)?;
        row.last_message = last.map(|t| t.message);
        Ok(row)
    }
}
