//! The embedded store's digest, its tables hashed on as many threads as the machine has
//! cores: the scan is mostly CPU (rows read from the memtables and cached blocks, decoded and
//! hashed), and the digest is the serial tail of every replay. The two large tables (an inbox
//! row per recipient, a timeline row per message) are cut into key ranges, so that no thread
//! is left hashing one of them alone while the others are done.

use super::FjallStore;
use super::apply::{ALL_KEYS, KeyRange};
use crate::digest::{Table, TableDigest, finish};
use crate::ports::StoreResult;
use fjall::Keyspace;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;

/// Key ranges each large table is cut into, per thread.
const PIECES_PER_THREAD: usize = 2;

/// Tables in the order threads take them: the largest first, so the small ones fill in around
/// them. Inbox heads are not taken alone: the inbox's pass hashes them (`fjall::heads`).
fn largest_first() -> Vec<Table> {
    let mut order: Vec<Table> = Table::ALL
        .into_iter()
        .filter(|t| *t != Table::InboxHead)
        .collect();
    order.sort_by_key(|t| !is_large(*t));
    order
}

fn is_large(table: Table) -> bool {
    matches!(table, Table::Inbox | Table::Timeline)
}

/// The digest of every event-derived row, as `digest::compute` makes it.
pub(super) fn parallel(store: &FjallStore) -> StoreResult<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut pieces = Vec::new();
    for table in largest_first() {
        if !is_large(table) || threads == 1 {
            pieces.push((table, ALL_KEYS));
            continue;
        }
        let keyspace = store
            .tables
            .of(table)
            .expect("large tables have a keyspace");
        let boundary = if table == Table::Inbox {
            inbox_user
        } else {
            whole_key
        };
        let cuts = cuts(keyspace, threads * PIECES_PER_THREAD, boundary)?;
        pieces.extend(ranges(cuts).into_iter().map(|range| (table, range)));
    }
    let queue = Mutex::new(pieces.into_iter());
    let done: Vec<StoreResult<Vec<(Table, TableDigest)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().expect("digest queue").next();
                        let Some((table, range)) = next else {
                            return Ok(done);
                        };
                        done.extend(scan(store, table, range)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a digest thread panicked"))
            .collect()
    });
    let mut tables: HashMap<Table, TableDigest> = HashMap::new();
    for worker in done {
        for (table, digest) in worker? {
            tables.entry(table).or_default().merge(&digest);
        }
    }
    let mut tables: Vec<(Table, TableDigest)> = tables.into_iter().collect();
    tables.sort_by_key(|(table, _)| Table::ALL.iter().position(|t| t == table));
    Ok(finish(&tables))
}

/// The digest of `table`'s rows in `range`, and for the inbox that of their users' heads too,
/// from the same pass.
fn scan(
    store: &FjallStore,
    table: Table,
    range: KeyRange,
) -> StoreResult<Vec<(Table, TableDigest)>> {
    let mut digest = TableDigest::default();
    if table != Table::Inbox {
        store.scan_rows(table, range, &mut |row| digest.add(&row))?;
        return Ok(vec![(table, digest)]);
    }
    let mut heads = TableDigest::default();
    store.scan_inbox(range, &mut |row| digest.add(&row), &mut |row| {
        heads.add(&row)
    })?;
    Ok(vec![(Table::Inbox, digest), (Table::InboxHead, heads)])
}

/// The start of the key range of the user whose inbox row `k` is (`app\0user\0`, the key
/// without its sequence number): a cut there keeps each user's rows, from which its head is
/// derived, in one range.
fn inbox_user(k: &[u8]) -> &[u8] {
    &k[..k.len().saturating_sub(8)]
}

fn whole_key(k: &[u8]) -> &[u8] {
    k
}

/// Up to `parts - 1` increasing keys that cut `keyspace` into ranges of about equal key span
/// (rows are not counted: the cut keys are interpolated between the first and last keys, then
/// moved to the next stored key's `boundary`). Fewer when the keys are too few or too alike.
fn cuts(
    keyspace: &Keyspace,
    parts: usize,
    boundary: fn(&[u8]) -> &[u8],
) -> StoreResult<Vec<Vec<u8>>> {
    let (Some(first), Some(last)) = (keyspace.first_key_value(), keyspace.last_key_value()) else {
        return Ok(Vec::new());
    };
    let (first, last) = (first.key()?, last.key()?);
    let mut cuts: Vec<Vec<u8>> = Vec::new();
    for i in 1..parts {
        let target = between(&first, &last, i as u64, parts as u64);
        let Some(next) = keyspace.range(target..).next() else {
            break;
        };
        let at = boundary(&next.key()?).to_vec();
        let after_previous = match cuts.last() {
            Some(previous) => *previous < at,
            None => at.as_slice() > boundary(&first),
        };
        if after_previous {
            cuts.push(at);
        }
    }
    Ok(cuts)
}

/// The ranges between consecutive `cuts`, from the first key to the last.
fn ranges(cuts: Vec<Vec<u8>>) -> Vec<KeyRange> {
    let starts: Vec<Bound<Vec<u8>>> = std::iter::once(Bound::Unbounded)
        .chain(cuts.iter().cloned().map(Bound::Included))
        .collect();
    let ends = cuts
        .into_iter()
        .map(Bound::Excluded)
        .chain(std::iter::once(Bound::Unbounded));
    starts.into_iter().zip(ends).collect()
}

/// The key `num/den` of the way from `a` to `b` (`a <= b`), reading the 8 bytes after their
/// common prefix as a number.
fn between(a: &[u8], b: &[u8], num: u64, den: u64) -> Vec<u8> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let word = |k: &[u8]| {
        let tail = &k[common.min(k.len())..];
        let mut w = [0u8; 8];
        let n = tail.len().min(8);
        w[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(w)
    };
    let (x, y) = (word(a) as u128, word(b) as u128);
    let at = x + (y - x) * num as u128 / den as u128;
    let mut k = a[..common].to_vec();
    k.extend_from_slice(&(at as u64).to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::{between, cuts, inbox_user, largest_first, ranges};
    use crate::FjallStore;
    use crate::digest::Table;
    use crate::keys::key;
    use std::ops::Bound;

    #[test]
    fn every_table_is_hashed_once_the_largest_first_heads_with_the_inbox() {
        let order = largest_first();
        assert_eq!(&order[..2], &[Table::Inbox, Table::Timeline]);
        let mut sorted = order.to_vec();
        sorted.push(Table::InboxHead);
        sorted.sort_by_key(|t| Table::ALL.iter().position(|a| a == t));
        assert_eq!(sorted, Table::ALL);
    }

    #[test]
    fn interpolated_keys_lie_between_in_order() {
        let (a, b) = (
            key(&["app", "alice"], Some(1)),
            key(&["app", "zed"], Some(9)),
        );
        let cuts: Vec<Vec<u8>> = (1..4).map(|i| between(&a, &b, i, 4)).collect();
        assert!(a < cuts[0] && cuts[0] < cuts[1] && cuts[1] < cuts[2] && cuts[2] < b);
        assert!(between(&a, &a, 1, 2) > a, "past the only key: no cut");
    }

    #[test]
    fn an_inbox_cut_keeps_a_users_rows_together() {
        let at = inbox_user(&key(&["app", "bob"], Some(7))).to_vec();
        assert!(key(&["app", "bo"], Some(u64::MAX)) < at);
        assert!(key(&["app", "bob"], Some(0)) >= at);
        assert!(key(&["app", "bob0"], Some(0)) > at);
    }

    #[test]
    fn an_inbox_is_cut_between_users_into_ranges_that_hold_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = FjallStore::open(dir.path()).unwrap();
        let inbox = &store.tables.inbox;
        let users: Vec<String> = (0..100).map(|i| format!("user{i:03}")).collect();
        for user in &users {
            for seq in 1..=3 {
                inbox
                    .insert(key(&["app", user], Some(seq)), b"row")
                    .unwrap();
            }
        }
        let cuts = cuts(inbox, 4, inbox_user).unwrap();
        assert_eq!(cuts.len(), 3, "{cuts:?}");
        let mut seen = Vec::new();
        for range in ranges(cuts) {
            let keys: Vec<Vec<u8>> = inbox
                .range(range)
                .map(|g| g.key().unwrap().to_vec())
                .collect();
            // A range holds whole users: from a user's first row to some user's last.
            assert_eq!(
                keys.first().unwrap()[..],
                key(&["app", &user_of(&keys[0])], Some(1))[..]
            );
            assert_eq!(keys.len() % 3, 0);
            assert!(keys.len() >= 45 && keys.len() <= 105, "{}", keys.len());
            seen.extend(keys);
        }
        assert_eq!(seen.len(), 300);
        assert!(seen.is_sorted());
    }

    fn user_of(k: &[u8]) -> String {
        String::from_utf8(k[4..k.len() - 9].to_vec()).unwrap()
    }

    #[test]
    fn ranges_cover_every_key_once() {
        let cuts = vec![b"b".to_vec(), b"d".to_vec()];
        let got = ranges(cuts);
        assert_eq!(
            got,
            vec![
                (Bound::Unbounded, Bound::Excluded(b"b".to_vec())),
                (
                    Bound::Included(b"b".to_vec()),
                    Bound::Excluded(b"d".to_vec())
                ),
                (Bound::Included(b"d".to_vec()), Bound::Unbounded),
            ]
        );
        assert_eq!(
            ranges(Vec::new()),
            vec![(Bound::Unbounded, Bound::Unbounded)]
        );
    }
}
