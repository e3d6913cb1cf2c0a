//! Inbox heads in the embedded store: a user's head, `(seq, cursor)` of their newest
//! delivery, is their newest inbox row, whose key holds the `seq` and whose value the cursor
//! (`inbox_row::encode_cursored`). Keeping it nowhere else saves two of a direct message's
//! eight row writes (issue 18: memtable inserts were the largest cost of a commit). Stores
//! written before kept heads in an `inbox_head` keyspace; opening one moves each head's cursor
//! into the user's newest row and deletes that keyspace.

use super::FjallStore;
use crate::digest::LogicalRow;
use crate::error::StoreError;
use crate::inbox_row;
use crate::keys::{prefix, split};
use crate::plan::Head;
use crate::ports::StoreResult;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

/// The keyspace stores kept heads in before.
const LEGACY: &str = "inbox_head";

/// Heads moved per batch when migrating a store.
const MIGRATE_BATCH: usize = 10_000;

impl FjallStore {
    /// `user`'s head: that of their newest inbox row, or none.
    pub(super) fn head(&self, app: &str, user: &str) -> StoreResult<Head> {
        let newest = self.tables.inbox.prefix(prefix(&[app, user])).next_back();
        match newest {
            None => Ok(Head::default()),
            Some(guard) => {
                let (k, v) = guard.into_inner()?;
                row_head(&k, &v)
            }
        }
    }

    /// Every user's head as a logical row, in key order: one pass over the inbox that keeps
    /// each user's last row.
    pub(super) fn scan_heads(&self, visit: &mut dyn FnMut(LogicalRow)) -> StoreResult<()> {
        let mut heads = HeadScan::default();
        for guard in self.tables.inbox.iter() {
            let (k, v) = guard.into_inner()?;
            heads.row(&k, &v, visit)?;
        }
        heads.finish(visit)
    }
}

/// Heads as logical rows from inbox rows met in key order: each user's is emitted when the
/// next user's rows begin (or at `finish`).
#[derive(Default)]
pub(super) struct HeadScan {
    last: Option<(Vec<u8>, Head)>,
}

impl HeadScan {
    /// Takes the inbox row `k`, `v`.
    pub(super) fn row(
        &mut self,
        k: &[u8],
        v: &[u8],
        visit: &mut dyn FnMut(LogicalRow),
    ) -> StoreResult<()> {
        let head = row_head(k, v)?;
        let user = &k[..k.len() - 9];
        match &mut self.last {
            Some((previous, newest)) if previous.as_slice() == user => *newest = head,
            last => {
                if let Some((previous, newest)) = last.replace((user.to_vec(), head)) {
                    emit(&previous, newest, visit)?;
                }
            }
        }
        Ok(())
    }

    /// Emits the last user's head.
    pub(super) fn finish(self, visit: &mut dyn FnMut(LogicalRow)) -> StoreResult<()> {
        match self.last {
            Some((user, head)) => emit(&user, head, visit),
            None => Ok(()),
        }
    }
}

fn emit(user: &[u8], head: Head, visit: &mut dyn FnMut(LogicalRow)) -> StoreResult<()> {
    match split(user, false) {
        Some((parts, _)) if parts.len() == 2 => {
            visit(LogicalRow::inbox_head(parts[0], parts[1], head));
            Ok(())
        }
        _ => Err(StoreError::Corrupt(format!("inbox key {user:?}"))),
    }
}

/// The head a stored inbox row makes: `seq` from its key (`keys::key` with a sequence: a
/// separator, then 8 bytes big-endian), the cursor from its value.
fn row_head(k: &[u8], v: &[u8]) -> StoreResult<Head> {
    let seq = match k.len().checked_sub(9).map(|at| k.split_at(at)) {
        Some((_, [0, seq @ ..])) => u64::from_be_bytes(seq.try_into().expect("eight bytes")),
        _ => return Err(StoreError::Corrupt(format!("inbox key {k:?}"))),
    };
    Ok(Head {
        seq,
        cursor: inbox_row::cursor_of(v)?,
    })
}

/// A head as stores kept it before: `seq` then `cursor`, big-endian (8 bytes, cursor 0, for
/// heads written before deliveries carried cursors).
fn decode_legacy(bytes: &[u8]) -> Result<Head, StoreError> {
    let be = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("eight bytes"));
    match bytes.len() {
        8 => Ok(Head {
            seq: be(bytes),
            cursor: 0,
        }),
        16 => Ok(Head {
            seq: be(&bytes[..8]),
            cursor: be(&bytes[8..]),
        }),
        n => Err(StoreError::Corrupt(format!("inbox head of {n} bytes"))),
    }
}

/// Moves the heads of a store written before into its inbox rows, then deletes their keyspace.
/// Each batch moves heads and deletes them at once, so a migration cut short resumes.
pub(super) fn migrate(db: &Database, inbox: &Keyspace) -> Result<(), StoreError> {
    if !db.keyspace_exists(LEGACY) {
        return Ok(());
    }
    let legacy = db.keyspace(LEGACY, KeyspaceCreateOptions::default)?;
    let mut moved = 0usize;
    let mut batch = db.batch().durability(Some(PersistMode::SyncAll));
    for guard in legacy.iter() {
        let (user, v) = guard.into_inner()?;
        let head = decode_legacy(&v)?;
        let mut row_key = user.to_vec();
        row_key.push(0);
        row_key.extend_from_slice(&head.seq.to_be_bytes());
        match inbox.get(&row_key)? {
            Some(row) => batch.insert(inbox, row_key, inbox_row::with_cursor(&row, head.cursor)?),
            None if head.seq == 0 => {}
            None => {
                return Err(StoreError::Corrupt(format!(
                    "inbox head {user:?} at {} has no row",
                    head.seq
                )));
            }
        }
        batch.remove(&legacy, user);
        moved += 1;
        if moved.is_multiple_of(MIGRATE_BATCH) {
            std::mem::replace(
                &mut batch,
                db.batch().durability(Some(PersistMode::SyncAll)),
            )
            .commit()?;
        }
    }
    batch.commit()?;
    db.persist(PersistMode::SyncAll)?;
    db.delete_keyspace(legacy)?;
    tracing::info!(
        heads = moved,
        "inbox heads moved into each user's newest inbox row"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::decode_legacy;

    #[test]
    fn legacy_heads_of_both_layouts_decode() {
        let old = decode_legacy(&7u64.to_be_bytes()).unwrap();
        assert_eq!((old.seq, old.cursor), (7, 0));
        let mut new = 9u64.to_be_bytes().to_vec();
        new.extend_from_slice(&42u64.to_be_bytes());
        let new = decode_legacy(&new).unwrap();
        assert_eq!((new.seq, new.cursor), (9, 42));
        assert!(decode_legacy(&[0; 3]).is_err());
    }
}
