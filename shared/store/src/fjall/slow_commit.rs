//! A log line for every embedded-store commit slower than `SLOW`, with what fjall was doing at
//! the time (journals, queued flushes, running compactions, write buffer, the most sealed
//! memtables any table has waiting: fjall halts writers at 4): the evidence the tail-latency
//! work (issue 18) reads, and what an operator sees when the store stalls.

use super::Tables;
use crate::digest::Table;
use fjall::Database;
use std::time::Duration;

/// Commits slower than this are logged (issue 18's bound for a commit under half load).
pub(super) const SLOW: Duration = Duration::from_millis(20);

/// Logs `took` if it is slow.
pub(super) fn observe(db: &Database, tables: &Tables, took: Duration, rows: usize) {
    if took < SLOW {
        return;
    }
    let sealed = Table::ALL
        .iter()
        .filter_map(|t| tables.of(*t))
        .map(|keyspace| keyspace.sealed_memtable_count())
        .max()
        .unwrap_or(0);
    tracing::warn!(
        ms = took.as_secs_f64() * 1000.0,
        rows,
        journals = db.journal_count(),
        outstanding_flushes = db.outstanding_flushes(),
        active_compactions = db.active_compactions(),
        write_buffer_bytes = db.write_buffer_size(),
        sealed_memtables = sealed,
        thread = std::thread::current().name().unwrap_or("unnamed"),
        "slow store commit"
    );
}
