//! The digest of the event-derived tables, byte for byte the embedded store's: the same
//! tables in the same order (`tidings_store::digest::EVENT_DERIVED`), each row as the fjall
//! key (`tidings_store::keys::key`) and value it stands for, in fjall key order. A table is
//! read one partition at a time: its partition keys are listed (`SELECT DISTINCT`), sorted
//! into key order, then each partition is read in clustering order. Memory holds the
//! partition keys of one table, never its rows.
//!
//! Key order holds because ids never contain `\0`, which separates key components and sorts
//! below every id byte: ordering by the tuple of components is ordering by key bytes. Text
//! clustering columns sort by their UTF-8 bytes and bigint ones numerically, as fjall's
//! big-endian sequence bytes do. The bucket of a sequence grows with it, so sorting inbox,
//! timeline and change-feed partitions by (components, bucket) keeps their rows in order.
//! The bucket directories (`timeline_buckets`, `users_by_cursor_buckets`) only locate rows
//! and are not part of the digest.

use crate::store::{CONCURRENCY, ScyllaStore, seq};
use futures_util::{StreamExt, TryStreamExt};
use scylla::deserialize::row::DeserializeRow;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use tidings_store::digest::{EVENT_DERIVED, RowDigest};
use tidings_store::keys::key;
use tidings_store::ports::StoreResult;
use tidings_store::{Entry, StoreError, inbox_row};

/// A row as the embedded store holds it.
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// How one table's partitions and rows map to fjall keys and values.
pub(crate) struct Table<P, R> {
    /// Where the partition sorts among the table's partitions.
    pub(crate) order: fn(&P) -> Vec<u8>,
    /// A row of the partition as a fjall key and value.
    pub(crate) row: fn(&P, R) -> StoreResult<KeyValue>,
}

type S2 = (String, String);
type S2N = (String, String, i64);

/// Scylla keeps whole entries; the embedded store keeps message entries as references to the
/// timeline (`tidings_store::inbox_row`), so rows hash as their embedded form.
pub(crate) const INBOX: Table<S2N, (i64, Vec<u8>)> = Table {
    order: |(app, user, bucket)| key(&[app, user], Some(*bucket as u64)),
    row: |(app, user, _), (s, data)| {
        let entry: Entry = rmp_serde::from_slice(&data)?;
        Ok((key(&[app, user], Some(seq(s)?)), inbox_row::encode(&entry)))
    },
};

pub(crate) const INBOX_HEAD: Table<S2, (i64, i64)> = Table {
    order: |(app, user)| key(&[app, user], None),
    row: |(app, user), (s, cursor)| {
        let mut value = Vec::with_capacity(16);
        value.extend_from_slice(&seq(s)?.to_be_bytes());
        value.extend_from_slice(&seq(cursor)?.to_be_bytes());
        Ok((key(&[app, user], None), value))
    },
};

pub(crate) const CONVERSATIONS: Table<S2, (String, Vec<u8>)> = Table {
    order: |(app, user)| key(&[app, user], None),
    row: |(app, user), (conv, data)| Ok((key(&[app, user, &conv], None), data)),
};

pub(crate) const TIMELINE: Table<S2N, (i64, Vec<u8>)> = Table {
    order: |(app, conv, bucket)| key(&[app, conv], Some(*bucket as u64)),
    row: |(app, conv, _), (conv_seq, data)| Ok((key(&[app, conv], Some(seq(conv_seq)?)), data)),
};

pub(crate) const USERS: Table<S2, (Vec<u8>,)> = Table {
    order: |(app, user)| key(&[app, user], None),
    row: |(app, user), (data,)| Ok((key(&[app, user], None), data)),
};

pub(crate) const USERS_BY_CURSOR: Table<(String, i64), (i64, String)> = Table {
    order: |(app, bucket)| key(&[app], Some(*bucket as u64)),
    row: |(app, _), (cursor, user)| Ok((key(&[app], Some(seq(cursor)?)), user.into_bytes())),
};

pub(crate) const RELATIONS: Table<S2, (String, Vec<u8>)> = Table {
    order: |(app, user)| key(&[app, user], None),
    row: |(app, user), (other, data)| Ok((key(&[app, user, &other], None), data)),
};

pub(crate) const GROUPS: Table<S2, (Vec<u8>,)> = Table {
    order: |(app, group)| key(&[app, group], None),
    row: |(app, group), (data,)| Ok((key(&[app, group], None), data)),
};

pub(crate) const MEMBERS: Table<S2, (String, Vec<u8>)> = Table {
    order: |(app, group)| key(&[app, group], None),
    row: |(app, group), (user, data)| Ok((key(&[app, group, &user], None), data)),
};

pub(crate) const USER_GROUPS: Table<S2, (String, Vec<u8>)> = Table {
    order: |(app, user)| key(&[app, user], None),
    row: |(app, user), (group, data)| Ok((key(&[app, user, &group], None), data)),
};

impl ScyllaStore {
    /// Hashes one table into `digest`.
    async fn digest_table<P, R>(
        &self,
        digest: &mut RowDigest,
        name: &str,
        table: &Table<P, R>,
        partitions: &PreparedStatement,
        rows: &PreparedStatement,
    ) -> StoreResult<()>
    where
        P: for<'f, 'm> DeserializeRow<'f, 'm> + SerializeRow + Send + Sync + 'static,
        R: for<'f, 'm> DeserializeRow<'f, 'm> + Send + 'static,
    {
        digest.table(name);
        let mut keys: Vec<(Vec<u8>, P)> = self
            .all::<P>(partitions, ())
            .await?
            .into_iter()
            .map(|p| ((table.order)(&p), p))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        // Partitions are read a few at a time but hashed strictly in order.
        let mut partitions = futures_util::stream::iter(keys)
            .map(|(_, p)| async move {
                let found: Vec<R> = self.all(rows, &p).await?;
                Ok::<_, StoreError>((p, found))
            })
            .buffered(CONCURRENCY / 4);
        while let Some((p, found)) = partitions.try_next().await? {
            for r in found {
                let (k, v) = (table.row)(&p, r)?;
                digest.row(&k, &v);
            }
        }
        Ok(())
    }

    pub(crate) async fn digest_all(&self) -> StoreResult<String> {
        let st = &self.inner.st;
        let mut d = RowDigest::default();
        for name in EVENT_DERIVED {
            match name {
                "inbox" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &INBOX,
                        &st.digest_inbox_partitions,
                        &st.digest_inbox_rows,
                    )
                    .await?
                }
                "inbox_head" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &INBOX_HEAD,
                        &st.digest_inbox_head_partitions,
                        &st.digest_inbox_head_rows,
                    )
                    .await?
                }
                "conversations" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &CONVERSATIONS,
                        &st.digest_conversations_partitions,
                        &st.digest_conversations_rows,
                    )
                    .await?
                }
                "timeline" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &TIMELINE,
                        &st.digest_timeline_partitions,
                        &st.digest_timeline_rows,
                    )
                    .await?
                }
                "users" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &USERS,
                        &st.digest_users_partitions,
                        &st.digest_users_rows,
                    )
                    .await?
                }
                "users_by_cursor" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &USERS_BY_CURSOR,
                        &st.digest_users_by_cursor_partitions,
                        &st.digest_users_by_cursor_rows,
                    )
                    .await?
                }
                "relations" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &RELATIONS,
                        &st.digest_relations_partitions,
                        &st.digest_relations_rows,
                    )
                    .await?
                }
                "groups" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &GROUPS,
                        &st.digest_groups_partitions,
                        &st.digest_groups_rows,
                    )
                    .await?
                }
                "members" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &MEMBERS,
                        &st.digest_members_partitions,
                        &st.digest_members_rows,
                    )
                    .await?
                }
                "user_groups" => {
                    self.digest_table(
                        &mut d,
                        name,
                        &USER_GROUPS,
                        &st.digest_user_groups_partitions,
                        &st.digest_user_groups_rows,
                    )
                    .await?
                }
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "the digest has no Scylla table for {other}"
                    )));
                }
            }
        }
        Ok(d.finish())
    }
}

#[cfg(test)]
mod tests {
    //! The embedded store computes its digest from its own keys; here the same state, laid out
    //! in Scylla's partitions and read in Scylla's order (partitions as `digest_table` sorts
    //! them, rows in clustering order), must hash to the same digest.

    use super::*;
    use crate::buckets;
    use crate::store::encode;
    use tidings_domain::event::UserProfile;
    use tidings_domain::group::{JoinPolicy, Role};
    use tidings_domain::{AppId, Body, ConvId, GroupId, MessageId, Recipient, UserId};
    use tidings_store::{
        ConversationStore, Diffusion, EntryItem, FjallStore, GroupRow, GroupStore, InboxStore,
        MemberRow, MessageView, ProjectionStore, RelationPatch, RelationStore, UserStore, Write,
    };

    fn app() -> AppId {
        AppId::parse("demo").unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    /// Ordered by clustering column: bigint numerically, text by bytes.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Clustering {
        None,
        Number(i64),
        Text(Vec<u8>),
    }

    /// Hashes rows in Scylla's read order through the table's mapping.
    fn hash<P, R>(
        d: &mut RowDigest,
        name: &str,
        table: &Table<P, R>,
        mut rows: Vec<(P, Clustering, R)>,
    ) {
        d.table(name);
        rows.sort_by(|a, b| {
            (table.order)(&a.0)
                .cmp(&(table.order)(&b.0))
                .then(a.1.cmp(&b.1))
        });
        for (p, _, r) in rows {
            let (k, v) = (table.row)(&p, r).unwrap();
            d.row(&k, &v);
        }
    }

    fn message(from: &str, to: &str, conv_seq: u64) -> MessageView {
        let (from, to) = (user(from), user(to));
        MessageView {
            conv: ConvId::direct(&from, &to),
            conv_seq,
            msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-{conv_seq:012}")).unwrap(),
            from,
            to: Recipient::User(to),
            body: Body::Text {
                text: format!("m{conv_seq}"),
            },
            mentions: Vec::new(),
            mention_all: false,
        }
    }

    /// A state that crosses bucket boundaries and has ids that prefix one another.
    fn writes() -> Vec<Write> {
        let mut writes = Vec::new();
        let mut cursor = 0;
        let mut send = |writes: &mut Vec<Write>, from: &str, to: &str, conv_seq: u64| {
            cursor += 1;
            let m = message(from, to, conv_seq);
            writes.push(Write::Timeline {
                app: app(),
                ts: cursor as i64,
                message: m.clone(),
            });
            for u in [from, to] {
                writes.push(Write::Deliver {
                    app: app(),
                    user: user(u),
                    ts: cursor as i64,
                    item: EntryItem::Message(m.clone()),
                    cursor,
                });
                writes.push(Write::ConversationMessage {
                    app: app(),
                    user: user(u),
                    ts: cursor as i64,
                    message: m.clone(),
                });
            }
        };
        for conv_seq in 1..=1_003 {
            send(&mut writes, "alice", "bob", conv_seq);
        }
        send(&mut writes, "bo", "bob", 1);
        send(&mut writes, "bob", "carol", 1);
        writes.push(Write::ConversationRead {
            app: app(),
            user: user("bob"),
            conv: ConvId::direct(&user("alice"), &user("bob")),
            conv_seq: 500,
        });
        for (id, cursor) in [
            ("alice", 99_999),
            ("bob", 100_000),
            ("bo", 100_001),
            ("alice", 250_000),
        ] {
            writes.push(Write::PutUser {
                profile: UserProfile {
                    app: app(),
                    user: user(id),
                    name: id.into(),
                    avatar_url: None,
                    extra: Some(serde_json::json!({"z": 1, "a": [1, 2]})),
                    version: 1,
                    ts: 1,
                },
                cursor,
            });
        }
        for (owner, other) in [("bob", "alice"), ("bob", "bo"), ("bo", "bob")] {
            writes.push(Write::Relation {
                app: app(),
                user: user(owner),
                other: user(other),
                patch: RelationPatch {
                    friend: Some(true),
                    ..Default::default()
                },
                ts: 5,
                cursor: 250_001,
            });
        }
        for id in ["team", "tea"] {
            let group = GroupId::parse(id).unwrap();
            writes.push(Write::PutGroup {
                app: app(),
                row: GroupRow {
                    conv: ConvId::group(&group),
                    group: group.clone(),
                    name: id.into(),
                    avatar_url: None,
                    intro: None,
                    join_policy: JoinPolicy::Open,
                    owner: user("alice"),
                    member_count: 3,
                    muted_all: false,
                    announcement: None,
                    dismissed: false,
                    diffusion: Diffusion::Write,
                    created_at: 1,
                    cursor: 250_002,
                },
            });
            for u in ["alice", "bob", "bo"] {
                writes.push(Write::PutMember {
                    app: app(),
                    group: group.clone(),
                    member: MemberRow {
                        user: user(u),
                        role: Role::Member,
                        muted: false,
                        joined_at: 1,
                    },
                    cursor: 250_003,
                });
            }
        }
        writes.push(Write::RemoveMember {
            app: app(),
            group: GroupId::parse("team").unwrap(),
            user: user("bob"),
            cursor: 250_004,
        });
        writes
    }

    #[tokio::test]
    async fn the_scylla_layout_hashes_to_the_embedded_digest() {
        let dir = tempfile::tempdir().unwrap();
        let fjall = FjallStore::open(dir.path()).unwrap();
        fjall.apply("p", 250_004, writes()).await.unwrap();
        let a = || app().as_str().to_owned();
        let users = ["alice", "bo", "bob", "carol"];
        let convs = [("alice", "bob"), ("bo", "bob"), ("bob", "carol")];
        // The stream sequence of each user's last delivery.
        let head_cursor = |u: &str| match u {
            "alice" => 1_003,
            "bo" => 1_004,
            _ => 1_005,
        };
        let mut d = RowDigest::default();

        let mut inbox = Vec::new();
        let mut heads = Vec::new();
        let mut conversations = Vec::new();
        let mut relations = Vec::new();
        let mut user_groups = Vec::new();
        let mut user_rows = Vec::new();
        let mut by_cursor = Vec::new();
        for u in users {
            let entries = fjall
                .inbox_after(&app(), &user(u), 0, usize::MAX)
                .await
                .unwrap();
            for e in &entries {
                let bucket = buckets::of(e.seq, buckets::INBOX) as i64;
                let p = (a(), u.to_owned(), bucket);
                inbox.push((
                    p,
                    Clustering::Number(e.seq as i64),
                    (e.seq as i64, encode(e)),
                ));
            }
            let last = fjall.inbox_last_seq(&app(), &user(u)).await.unwrap();
            if last > 0 {
                let row = (last as i64, head_cursor(u));
                heads.push(((a(), u.to_owned()), Clustering::None, row));
            }
            for mut c in fjall.conversations(&app(), &user(u)).await.unwrap() {
                // Stored rows carry no body: reads join it from the timeline.
                c.last_message = None;
                let conv = c.conv.as_str().to_owned();
                let p = (a(), u.to_owned());
                conversations.push((
                    p,
                    Clustering::Text(conv.clone().into_bytes()),
                    (conv, encode(&c)),
                ));
            }
            for r in fjall.relations(&app(), &user(u)).await.unwrap() {
                let other = r.user.as_str().to_owned();
                let p = (a(), u.to_owned());
                relations.push((
                    p,
                    Clustering::Text(other.clone().into_bytes()),
                    (other, encode(&r)),
                ));
            }
            for g in fjall.user_groups(&app(), &user(u)).await.unwrap() {
                let group = g.group.as_str().to_owned();
                let p = (a(), u.to_owned());
                user_groups.push((
                    p,
                    Clustering::Text(group.clone().into_bytes()),
                    (group, encode(&g)),
                ));
            }
            if let Some(row) = fjall.user(&app(), &user(u)).await.unwrap() {
                let cursor = row.cursor as i64;
                let bucket = buckets::of(row.cursor, buckets::USERS_BY_CURSOR) as i64;
                by_cursor.push((
                    (a(), bucket),
                    Clustering::Number(cursor),
                    (cursor, u.to_owned()),
                ));
                user_rows.push(((a(), u.to_owned()), Clustering::None, (encode(&row),)));
            }
        }
        let mut timeline = Vec::new();
        for (x, y) in convs {
            let conv = ConvId::direct(&user(x), &user(y));
            for m in fjall
                .messages_before(&app(), &conv, None, usize::MAX)
                .await
                .unwrap()
            {
                let s = m.message.conv_seq;
                let bucket = buckets::of(s, buckets::TIMELINE) as i64;
                let p = (a(), conv.as_str().to_owned(), bucket);
                timeline.push((p, Clustering::Number(s as i64), (s as i64, encode(&m))));
            }
        }
        let mut groups = Vec::new();
        let mut members = Vec::new();
        for id in ["tea", "team"] {
            let group = GroupId::parse(id).unwrap();
            let row = fjall.group(&app(), &group).await.unwrap().unwrap();
            groups.push(((a(), id.to_owned()), Clustering::None, (encode(&row),)));
            for m in fjall
                .members(&app(), &group, None, usize::MAX)
                .await
                .unwrap()
            {
                let u = m.user.as_str().to_owned();
                let p = (a(), id.to_owned());
                members.push((p, Clustering::Text(u.clone().into_bytes()), (u, encode(&m))));
            }
        }
        assert!(inbox.len() > 2_000 && timeline.len() > 1_000 && by_cursor.len() == 3);

        hash(&mut d, "inbox", &INBOX, inbox);
        hash(&mut d, "inbox_head", &INBOX_HEAD, heads);
        hash(&mut d, "conversations", &CONVERSATIONS, conversations);
        hash(&mut d, "timeline", &TIMELINE, timeline);
        hash(&mut d, "users", &USERS, user_rows);
        hash(&mut d, "users_by_cursor", &USERS_BY_CURSOR, by_cursor);
        hash(&mut d, "relations", &RELATIONS, relations);
        hash(&mut d, "groups", &GROUPS, groups);
        hash(&mut d, "members", &MEMBERS, members);
        hash(&mut d, "user_groups", &USER_GROUPS, user_groups);
        assert_eq!(d.finish(), fjall.digest().await.unwrap());
    }
}
