//! Every CQL statement the adapter runs, prepared once at connect. `{{keyspace}}` is filled
//! from the configuration; all partition key values are bound, so each prepared statement
//! routes to a replica of its partition (the default load balancing policy is token-aware).
//! docs/scylla.md lists each one with its keys, consistency and idempotency.
//!
//! Every write binds its own timestamp (`USING TIMESTAMP ?`, last for an INSERT, first for a
//! DELETE), a sequence number rather than a clock, so last-write-wins follows the stream
//! whichever host writes; `apply.rs` says which sequence each table takes.

use crate::error::ConnectError;
use futures_util::future::try_join_all;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $cql:literal;)*) => {
        /// The prepared statements, one field per statement.
        pub(crate) struct Statements {
            $($(#[$doc])* pub(crate) $name: PreparedStatement,)*
        }

        /// Every statement by name, with `{{keyspace}}` unfilled.
        pub const CQL: &[(&str, &str)] = &[$((stringify!($name), $cql),)*];

        /// A statement by name, for writes planned before they are bound (reads are listed
        /// too, though only tests name them).
        #[allow(non_camel_case_types, dead_code)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) enum Stmt {
            $($name,)*
        }

        impl Stmt {
            /// Every statement, in `CQL` order.
            #[cfg(test)]
            pub(crate) const ALL: &[Stmt] = &[$(Stmt::$name,)*];

            /// The statement's name, as in `CQL`.
            #[cfg(test)]
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Stmt::$name => stringify!($name),)*
                }
            }

            /// The statement's CQL, with `{{keyspace}}` unfilled.
            pub(crate) fn cql(self) -> &'static str {
                match self {
                    $(Stmt::$name => $cql,)*
                }
            }
        }

        impl Statements {
            fn from_prepared(prepared: Vec<PreparedStatement>) -> Self {
                let mut prepared = prepared.into_iter();
                Self {
                    $($name: prepared.next().expect("one prepared statement per CQL entry"),)*
                }
            }

            /// The prepared statement of `stmt`.
            pub(crate) fn get(&self, stmt: Stmt) -> &PreparedStatement {
                match stmt {
                    $(Stmt::$name => &self.$name,)*
                }
            }
        }
    };
}

statements! {
    // Inbox.
    /// A user's inbox head: newest seq and the stream sequence that wrote it.
    inbox_head_get = "SELECT seq, cursor FROM {{keyspace}}.inbox_head WHERE app = ? AND user_id = ?";
    /// One bucket of a user's inbox after a seq, ascending.
    inbox_after = "SELECT data FROM {{keyspace}}.inbox WHERE app = ? AND user_id = ? AND bucket = ? AND seq > ? LIMIT ?";
    inbox_put = "INSERT INTO {{keyspace}}.inbox (app, user_id, bucket, seq, data) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?";
    inbox_head_put = "INSERT INTO {{keyspace}}.inbox_head (app, user_id, seq, cursor) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";

    // Conversations and timelines.
    conversations_of = "SELECT data FROM {{keyspace}}.conversations WHERE app = ? AND user_id = ?";
    conversation_get = "SELECT data FROM {{keyspace}}.conversations WHERE app = ? AND user_id = ? AND conv_id = ?";
    conversation_put = "INSERT INTO {{keyspace}}.conversations (app, user_id, conv_id, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    /// The timeline buckets of a conversation at or below a bucket, newest first.
    timeline_buckets_down = "SELECT bucket FROM {{keyspace}}.timeline_buckets WHERE app = ? AND conv_id = ? AND bucket <= ?";
    /// One timeline bucket before a conv_seq, newest first.
    timeline_before = "SELECT data FROM {{keyspace}}.timeline WHERE app = ? AND conv_id = ? AND bucket = ? AND conv_seq < ? LIMIT ?";
    /// The timeline buckets of a conversation at or above a bucket, oldest first.
    timeline_buckets_up = "SELECT bucket FROM {{keyspace}}.timeline_buckets WHERE app = ? AND conv_id = ? AND bucket >= ? ORDER BY bucket ASC";
    /// One timeline bucket after a conv_seq, oldest first (history by time, oldest first).
    timeline_after = "SELECT data FROM {{keyspace}}.timeline WHERE app = ? AND conv_id = ? AND bucket = ? AND conv_seq > ? ORDER BY conv_seq ASC LIMIT ?";
    timeline_bucket_put = "INSERT INTO {{keyspace}}.timeline_buckets (app, conv_id, bucket) VALUES (?, ?, ?) USING TIMESTAMP ?";
    /// One timeline row (a recall or an edit rewrites it).
    timeline_get = "SELECT data FROM {{keyspace}}.timeline WHERE app = ? AND conv_id = ? AND bucket = ? AND conv_seq = ?";
    timeline_put = "INSERT INTO {{keyspace}}.timeline (app, conv_id, bucket, conv_seq, data) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?";

    // Users.
    user_get = "SELECT data FROM {{keyspace}}.users WHERE app = ? AND user_id = ?";
    user_put = "INSERT INTO {{keyspace}}.users (app, user_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?";
    /// The users_by_cursor buckets of an app at or above a bucket, oldest first.
    user_buckets_up = "SELECT bucket FROM {{keyspace}}.users_by_cursor_buckets WHERE app = ? AND bucket >= ?";
    /// One users_by_cursor bucket after a cursor, ascending.
    users_by_cursor_after = "SELECT cursor, user_id FROM {{keyspace}}.users_by_cursor WHERE app = ? AND bucket = ? AND cursor > ? LIMIT ?";
    user_bucket_put = "INSERT INTO {{keyspace}}.users_by_cursor_buckets (app, bucket) VALUES (?, ?) USING TIMESTAMP ?";
    user_cursor_put = "INSERT INTO {{keyspace}}.users_by_cursor (app, bucket, cursor, user_id) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    user_cursor_delete = "DELETE FROM {{keyspace}}.users_by_cursor USING TIMESTAMP ? WHERE app = ? AND bucket = ? AND cursor = ?";

    // Relations.
    relations_of = "SELECT data FROM {{keyspace}}.relations WHERE app = ? AND user_id = ?";
    relation_get = "SELECT data FROM {{keyspace}}.relations WHERE app = ? AND user_id = ? AND other_id = ?";
    relation_put = "INSERT INTO {{keyspace}}.relations (app, user_id, other_id, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";

    // Groups.
    group_get = "SELECT data FROM {{keyspace}}.groups WHERE app = ? AND group_id = ?";
    group_put = "INSERT INTO {{keyspace}}.groups (app, group_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?";
    member_get = "SELECT data FROM {{keyspace}}.members WHERE app = ? AND group_id = ? AND user_id = ?";
    members_first = "SELECT data FROM {{keyspace}}.members WHERE app = ? AND group_id = ? LIMIT ?";
    members_after = "SELECT data FROM {{keyspace}}.members WHERE app = ? AND group_id = ? AND user_id > ? LIMIT ?";
    member_put = "INSERT INTO {{keyspace}}.members (app, group_id, user_id, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    member_delete = "DELETE FROM {{keyspace}}.members USING TIMESTAMP ? WHERE app = ? AND group_id = ? AND user_id = ?";
    user_groups_of = "SELECT data FROM {{keyspace}}.user_groups WHERE app = ? AND user_id = ?";
    user_group_put = "INSERT INTO {{keyspace}}.user_groups (app, user_id, group_id, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";

    // What users removed from their own view.
    /// A user's hidden messages of a conversation within a conv_seq range, ascending.
    hidden_between = "SELECT conv_seq FROM {{keyspace}}.hidden WHERE app = ? AND user_id = ? AND conv_id = ? AND conv_seq >= ? AND conv_seq <= ?";
    hidden_put = "INSERT INTO {{keyspace}}.hidden (app, user_id, conv_id, conv_seq) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    cleared_get = "SELECT up_to FROM {{keyspace}}.cleared WHERE app = ? AND user_id = ? AND conv_id = ?";
    /// Every conversation where a user removed anything, with its mark.
    cleared_of = "SELECT conv_id, up_to FROM {{keyspace}}.cleared WHERE app = ? AND user_id = ?";
    cleared_put = "INSERT INTO {{keyspace}}.cleared (app, user_id, conv_id, up_to) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    // Reactions and pins.
    /// One timeline bucket's reactions between two conv_seqs.
    reactions_between = "SELECT data FROM {{keyspace}}.reactions WHERE app = ? AND conv_id = ? AND bucket = ? AND conv_seq >= ? AND conv_seq <= ?";
    reaction_put = "INSERT INTO {{keyspace}}.reactions (app, conv_id, bucket, conv_seq, rkey, user_id, data) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?";
    reaction_delete = "DELETE FROM {{keyspace}}.reactions USING TIMESTAMP ? WHERE app = ? AND conv_id = ? AND bucket = ? AND conv_seq = ? AND rkey = ? AND user_id = ?";
    reaction_mark_get = "SELECT added, cursor FROM {{keyspace}}.reaction_marks WHERE app = ? AND user_id = ? AND conv_id = ? AND conv_seq = ? AND rkey = ? AND reactor = ?";
    reaction_mark_put = "INSERT INTO {{keyspace}}.reaction_marks (app, user_id, conv_id, conv_seq, rkey, reactor, added, cursor) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?";
    pins_of = "SELECT data FROM {{keyspace}}.pins WHERE app = ? AND conv_id = ?";
    pin_put = "INSERT INTO {{keyspace}}.pins (app, conv_id, conv_seq, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    pin_delete = "DELETE FROM {{keyspace}}.pins USING TIMESTAMP ? WHERE app = ? AND conv_id = ? AND conv_seq = ?";
    // Conversation settings.
    settings_of = "SELECT data FROM {{keyspace}}.conv_settings WHERE app = ? AND user_id = ?";
    settings_put = "INSERT INTO {{keyspace}}.conv_settings (app, user_id, conv_id, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    // Push settings.
    push_of = "SELECT data FROM {{keyspace}}.push_settings WHERE app = ? AND user_id = ?";
    push_put = "INSERT INTO {{keyspace}}.push_settings (app, user_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?";

    // Devices and checkpoints.
    device_get = "SELECT seq FROM {{keyspace}}.devices WHERE app = ? AND user_id = ? AND device = ?";
    device_list = "SELECT device, seq FROM {{keyspace}}.devices WHERE app = ? AND user_id = ?";
    device_put = "INSERT INTO {{keyspace}}.devices (app, user_id, device, seq) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    checkpoint_get = "SELECT seq, WRITETIME(seq) FROM {{keyspace}}.checkpoints WHERE projection = ?";
    checkpoint_put = "INSERT INTO {{keyspace}}.checkpoints (projection, seq) VALUES (?, ?) USING TIMESTAMP ?";

    // Digest: every row of a table, paged, in token order (the digest needs no order).
    scan_inbox = "SELECT app, user_id, data FROM {{keyspace}}.inbox";
    scan_inbox_head = "SELECT app, user_id, seq, cursor FROM {{keyspace}}.inbox_head";
    scan_conversations = "SELECT app, user_id, data FROM {{keyspace}}.conversations";
    scan_timeline = "SELECT app, conv_id, conv_seq, data FROM {{keyspace}}.timeline";
    scan_users = "SELECT app, user_id, data FROM {{keyspace}}.users";
    scan_users_by_cursor = "SELECT app, cursor, user_id FROM {{keyspace}}.users_by_cursor";
    scan_relations = "SELECT app, user_id, other_id, data FROM {{keyspace}}.relations";
    scan_groups = "SELECT app, group_id, data FROM {{keyspace}}.groups";
    scan_members = "SELECT app, group_id, user_id, data FROM {{keyspace}}.members";
    scan_user_groups = "SELECT app, user_id, group_id, data FROM {{keyspace}}.user_groups";
    scan_hidden = "SELECT app, user_id, conv_id, conv_seq FROM {{keyspace}}.hidden";
    scan_cleared = "SELECT app, user_id, conv_id, up_to FROM {{keyspace}}.cleared";
    scan_reactions = "SELECT app, data FROM {{keyspace}}.reactions";
    scan_reaction_marks = "SELECT app, user_id, conv_id, conv_seq, rkey, reactor, added, cursor FROM {{keyspace}}.reaction_marks";
    scan_pins = "SELECT app, conv_id, data FROM {{keyspace}}.pins";
    scan_settings = "SELECT app, user_id, data FROM {{keyspace}}.conv_settings";

    // The device registry.
    user_devices_of = "SELECT data FROM {{keyspace}}.user_devices WHERE app = ? AND user_id = ?";
    user_device_put = "INSERT INTO {{keyspace}}.user_devices (app, user_id, device, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    scan_user_devices = "SELECT app, user_id, data FROM {{keyspace}}.user_devices";
    device_reads_of = "SELECT data FROM {{keyspace}}.device_reads WHERE app = ? AND user_id = ?";
    device_read_put = "INSERT INTO {{keyspace}}.device_reads (app, user_id, device, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    scan_device_reads = "SELECT app, user_id, data FROM {{keyspace}}.device_reads";
    scan_push = "SELECT app, user_id, data FROM {{keyspace}}.push_settings";
    // Broadcasts and user tags (migration 0008).
    /// A user's audiences (tags, and `*` for everyone) with the sequence each was added at.
    user_tags_of = "SELECT tag, since FROM {{keyspace}}.user_tags WHERE app = ? AND user_id = ?";
    user_tag_put = "INSERT INTO {{keyspace}}.user_tags (app, user_id, tag, since) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    user_tag_delete = "DELETE FROM {{keyspace}}.user_tags USING TIMESTAMP ? WHERE app = ? AND user_id = ? AND tag = ?";
    tag_users_first = "SELECT user_id FROM {{keyspace}}.tag_users WHERE app = ? AND tag = ? LIMIT ?";
    tag_users_after = "SELECT user_id FROM {{keyspace}}.tag_users WHERE app = ? AND tag = ? AND user_id > ? LIMIT ?";
    tag_user_put = "INSERT INTO {{keyspace}}.tag_users (app, tag, user_id, since) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    tag_user_delete = "DELETE FROM {{keyspace}}.tag_users USING TIMESTAMP ? WHERE app = ? AND tag = ? AND user_id = ?";
    /// One broadcast bucket after a bseq, ascending.
    broadcasts_after = "SELECT data FROM {{keyspace}}.broadcasts WHERE app = ? AND bucket = ? AND bseq > ? LIMIT ?";
    broadcast_put = "INSERT INTO {{keyspace}}.broadcasts (app, bucket, bseq, data) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    broadcast_head_get = "SELECT bseq FROM {{keyspace}}.broadcast_heads WHERE app = ?";
    broadcast_head_put = "INSERT INTO {{keyspace}}.broadcast_heads (app, bseq) VALUES (?, ?) USING TIMESTAMP ?";
    scan_user_tags = "SELECT app, user_id, tag, since FROM {{keyspace}}.user_tags";
    scan_tag_users = "SELECT app, tag, user_id, since FROM {{keyspace}}.tag_users";
    scan_broadcasts = "SELECT app, bseq, data FROM {{keyspace}}.broadcasts";
}

impl Stmt {
    /// Whether a write binds its timestamp first (a DELETE: `DELETE FROM t USING TIMESTAMP ?
    /// WHERE ...`) rather than last (an INSERT: `... VALUES (...) USING TIMESTAMP ?`).
    pub(crate) fn timestamp_first(self) -> bool {
        self.cql().starts_with("DELETE ")
    }
}

/// Fills `{{keyspace}}` into a statement's CQL.
pub fn with_keyspace(cql: &str, keyspace: &str) -> String {
    cql.replace("{{keyspace}}", keyspace)
}

impl Statements {
    /// Prepares every statement on `session`. All of them are idempotent: none uses counters,
    /// lightweight transactions or collection appends, and each writes the same value (and,
    /// where it names one, the same timestamp) when repeated, so the driver may retry them.
    pub(crate) async fn prepare(session: &Session, keyspace: &str) -> Result<Self, ConnectError> {
        let prepared = try_join_all(CQL.iter().map(|(name, cql)| async move {
            let mut statement = session
                .prepare(with_keyspace(cql, keyspace))
                .await
                .map_err(|source| ConnectError::Prepare {
                    name,
                    keyspace: keyspace.to_owned(),
                    source: Box::new(source),
                })?;
            statement.set_is_idempotent(true);
            Ok::<_, ConnectError>(statement)
        }))
        .await?;
        Ok(Self::from_prepared(prepared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_list_every_statement_verbatim() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scylla.md");
        let docs = std::fs::read_to_string(path).unwrap();
        for (name, cql) in CQL {
            let row = format!("| `{name}` | `{}` |", with_keyspace(cql, "tidings"));
            assert!(docs.contains(&row), "docs/scylla.md lacks {name}: {row}");
        }
        let names: std::collections::HashSet<&str> = CQL.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.len(), CQL.len(), "statement names are unique");
    }

    #[test]
    fn the_statement_enum_follows_the_list() {
        assert_eq!(Stmt::ALL.len(), CQL.len());
        for (stmt, (name, cql)) in Stmt::ALL.iter().zip(CQL) {
            assert_eq!((stmt.name(), stmt.cql()), (*name, *cql));
        }
    }

    /// No write takes the coordinator's or the client's clock: an INSERT ends in
    /// `USING TIMESTAMP ?`, a DELETE names it between its table and WHERE, each exactly once
    /// and bound (a literal would outrank or lose to every sequence), and nothing else goes in
    /// the USING clause (no TTL).
    #[test]
    fn every_write_binds_its_timestamp() {
        let mut writes = 0;
        for stmt in Stmt::ALL {
            let t = crate::schema::tokens(&with_keyspace(stmt.cql(), "ks"));
            let name = stmt.name();
            let using: Vec<usize> = (0..t.len()).filter(|&i| t[i] == "USING").collect();
            let stamp = ["USING", "TIMESTAMP", "?"];
            match t[0].as_str() {
                "SELECT" => {
                    assert!(using.is_empty(), "{name}: a read sets no timestamp");
                    assert!(!stmt.timestamp_first(), "{name}");
                    continue;
                }
                "INSERT" => {
                    assert_eq!(using, [t.len() - 3], "{name}: one USING, at the end");
                    assert_eq!(t[t.len() - 3..], stamp, "{name}");
                    assert_eq!(t[t.len() - 4], ")", "{name}: right after VALUES (...)");
                    assert!(!stmt.timestamp_first(), "{name}: INSERT binds it last");
                }
                "DELETE" => {
                    // DELETE FROM ks.table USING TIMESTAMP ? WHERE ...
                    assert_eq!(t[1], "FROM", "{name}: deletes whole rows");
                    assert_eq!(using, [3], "{name}: one USING, after the table");
                    assert_eq!(t[3..6], stamp, "{name}");
                    assert_eq!(t[6], "WHERE", "{name}");
                    assert!(stmt.timestamp_first(), "{name}: DELETE binds it first");
                }
                other => panic!("{name}: unexpected statement {other}"),
            }
            assert!(!t.iter().any(|t| t == "TTL"), "{name}: no TTL");
            writes += 1;
        }
        // inbox, inbox_head, conversations, timeline, timeline_buckets, users,
        // users_by_cursor_buckets, users_by_cursor (put and delete), relations, groups,
        // members (put and delete), user_groups, hidden, cleared, reactions (put and delete),
        // reaction_marks, pins (put and delete), conv_settings, devices, checkpoints,
        // user_devices, device_reads, push_settings; user_tags and tag_users (put and delete),
        // broadcasts, broadcast_heads.
        assert_eq!(writes, 33);
    }
}
