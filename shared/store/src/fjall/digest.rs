//! The embedded store's digest, its tables hashed on as many threads as the machine has
//! cores: the scan is mostly CPU (rows read from the memtables and cached blocks, decoded and
//! hashed), and the digest is the serial tail of every replay.

use super::FjallStore;
use crate::digest::{Table, TableDigest, finish};
use crate::ports::StoreResult;
use std::sync::Mutex;

/// Tables in the order threads take them: the largest first (an inbox row per recipient, a
/// timeline row per message), so the small ones fill in around them. Inbox heads are not
/// taken alone: the inbox's pass hashes them (`fjall::heads`).
fn largest_first() -> Vec<Table> {
    let mut order: Vec<Table> = Table::ALL
        .into_iter()
        .filter(|t| *t != Table::InboxHead)
        .collect();
    order.sort_by_key(|t| !matches!(t, Table::Inbox | Table::Timeline));
    order
}

/// The digest of every event-derived row, as `digest::compute` makes it.
pub(super) fn parallel(store: &FjallStore) -> StoreResult<String> {
    let order = largest_first();
    let queue = Mutex::new(order.iter());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(order.len());
    let done: Vec<StoreResult<Vec<(Table, TableDigest)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().expect("digest queue").next().copied();
                        let Some(table) = next else {
                            return Ok(done);
                        };
                        done.extend(scan(store, table)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a digest thread panicked"))
            .collect()
    });
    let mut tables = Vec::with_capacity(order.len());
    for worker in done {
        tables.extend(worker?);
    }
    tables.sort_by_key(|(table, _)| Table::ALL.iter().position(|t| t == table));
    Ok(finish(&tables))
}

/// The digest of `table`, and for the inbox that of the heads too, from the same pass.
fn scan(store: &FjallStore, table: Table) -> StoreResult<Vec<(Table, TableDigest)>> {
    let mut digest = TableDigest::default();
    if table != Table::Inbox {
        store.scan_rows(table, &mut |row| digest.add(&row))?;
        return Ok(vec![(table, digest)]);
    }
    let mut heads = TableDigest::default();
    store.scan_inbox(&mut |row| digest.add(&row), &mut |row| heads.add(&row))?;
    Ok(vec![(Table::Inbox, digest), (Table::InboxHead, heads)])
}

#[cfg(test)]
mod tests {
    use super::largest_first;
    use crate::digest::Table;

    #[test]
    fn every_table_is_hashed_once_the_largest_first_heads_with_the_inbox() {
        let order = largest_first();
        assert_eq!(&order[..2], &[Table::Inbox, Table::Timeline]);
        let mut sorted = order.to_vec();
        sorted.push(Table::InboxHead);
        sorted.sort_by_key(|t| Table::ALL.iter().position(|a| a == t));
        assert_eq!(sorted, Table::ALL);
    }
}
