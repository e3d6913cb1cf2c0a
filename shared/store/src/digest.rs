//! A stable digest of ordered (table, key, value) rows, shared by every adapter.

use sha2::{Digest as _, Sha256};

/// Tables whose rows are derived from events, in digest order.
pub const EVENT_DERIVED: [&str; 10] = [
    "inbox",
    "inbox_head",
    "conversations",
    "timeline",
    "users",
    "users_by_cursor",
    "relations",
    "groups",
    "members",
    "user_groups",
];

/// Accumulates rows in order and yields a hex SHA-256.
#[derive(Default)]
pub struct RowDigest(Sha256);

impl RowDigest {
    /// Starts a new table.
    pub fn table(&mut self, name: &str) {
        self.0.update((name.len() as u64).to_be_bytes());
        self.0.update(name.as_bytes());
    }

    /// Adds one row, length-prefixed so boundaries are unambiguous.
    pub fn row(&mut self, key: &[u8], value: &[u8]) {
        self.0.update((key.len() as u64).to_be_bytes());
        self.0.update(key);
        self.0.update((value.len() as u64).to_be_bytes());
        self.0.update(value);
    }

    /// The digest as lowercase hex.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}
