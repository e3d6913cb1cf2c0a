//! `ProjectionStore::apply`: the same fold as the embedded store, in three steps. The rows a
//! batch rewrites are read first (concurrently), the writes are folded in memory exactly as
//! fjall folds them, then written in phases: rows, then what points at rows (inbox heads after
//! their entries, user rows after their change-feed entries), then the checkpoint, only after
//! every row it covers succeeded. A crash between phases leaves a batch that applies again to
//! the same rows: inbox numbering restarts from the stored head and skips deliveries whose
//! cursor it holds, and every other row is keyed deterministically.
//!
//! Rows whose last-write-wins order must follow the stream (users, the users change feed,
//! relations, groups, members, user groups) are written `USING TIMESTAMP <stream sequence>`,
//! so a stale write from a replay of an older batch never overwrites a newer row.

use crate::buckets;
use crate::reads::Head;
use crate::store::{ScyllaStore, big, bind, decode, encode};
use futures_util::{StreamExt, TryStreamExt};
use scylla::statement::bound::BoundStatement;
use std::collections::{BTreeMap, HashMap, HashSet};
use tidings_domain::{AppId, ConvId, GroupId, UserId};
use tidings_store::ports::StoreResult;
use tidings_store::rows::{advance_conversation, mark_read, patch_relation};
use tidings_store::{
    Conversation, Delivery, Entry, GroupRow, MemberRow, Relation, TimelineMessage, UserGroupRow,
    UserRow, Write,
};

type UserKey = (AppId, UserId);
type ConvKey = (AppId, UserId, ConvId);
type RelationKey = (AppId, UserId, UserId);

/// Rows a batch reads before folding, as stored (`None`: no row).
#[derive(Default)]
struct Stored {
    heads: HashMap<UserKey, Head>,
    convs: HashMap<ConvKey, Option<Conversation>>,
    users: HashMap<UserKey, Option<UserRow>>,
    relations: HashMap<RelationKey, Option<Relation>>,
}

/// The batch folded in memory: the final value of every row it changes.
#[derive(Default)]
struct Folded {
    /// New inbox entries, in delivery order.
    entries: Vec<(AppId, UserId, Entry)>,
    deliveries: Vec<Delivery>,
    heads: HashMap<UserKey, Head>,
    /// Timeline rows by (app, conv, conv_seq); a repeated key keeps the last write.
    timeline: BTreeMap<(AppId, ConvId, u64), TimelineMessage>,
    convs: HashMap<ConvKey, Conversation>,
    users: HashMap<UserKey, UserRow>,
    relations: HashMap<RelationKey, Relation>,
    groups: HashMap<(AppId, GroupId), GroupRow>,
    /// Member rows with the stream sequence of their last change; `None` removes.
    members: HashMap<(AppId, GroupId, UserId), (u64, Option<MemberRow>)>,
    user_groups: HashMap<(AppId, UserId, GroupId), UserGroupRow>,
}

impl Folded {
    fn head(&self, stored: &Stored, key: &UserKey) -> Head {
        self.heads
            .get(key)
            .or_else(|| stored.heads.get(key))
            .copied()
            .unwrap_or_default()
    }

    fn conversation(&self, stored: &Stored, key: &ConvKey) -> Option<Conversation> {
        self.convs
            .get(key)
            .cloned()
            .or_else(|| stored.convs.get(key).cloned().flatten())
    }

    fn user(&mut self, stored: &Stored, key: &UserKey) -> Option<&mut UserRow> {
        if !self.users.contains_key(key) {
            let row = stored.users.get(key).cloned().flatten()?;
            self.users.insert(key.clone(), row);
        }
        self.users.get_mut(key)
    }

    fn relation(&self, stored: &Stored, key: &RelationKey) -> Option<Relation> {
        self.relations
            .get(key)
            .cloned()
            .or_else(|| stored.relations.get(key).cloned().flatten())
    }
}

/// Folds `writes` over `stored` with the embedded store's semantics.
fn fold(stored: &Stored, writes: Vec<Write>) -> Folded {
    let mut f = Folded::default();
    for write in writes {
        match write {
            Write::Deliver {
                app,
                user,
                ts,
                item,
                cursor,
            } => {
                let key = (app, user);
                // The user's inbox already holds this event's deliveries. One event's
                // deliveries to a user always come in one batch, so the head as it was before
                // the batch decides (an event may deliver several entries to one user).
                let applied_through = stored.heads.get(&key).map_or(0, |h| h.cursor);
                if cursor <= applied_through {
                    continue;
                }
                let head = f.head(stored, &key);
                let entry = Entry {
                    seq: head.seq + 1,
                    ts,
                    item,
                };
                f.heads.insert(
                    key.clone(),
                    Head {
                        seq: entry.seq,
                        cursor,
                    },
                );
                let (app, user) = key;
                f.deliveries.push(Delivery {
                    app: app.clone(),
                    user: user.clone(),
                    entry: entry.clone(),
                });
                f.entries.push((app, user, entry));
            }
            Write::Timeline { app, ts, message } => {
                let key = (app, message.conv.clone(), message.conv_seq);
                f.timeline.insert(key, TimelineMessage { ts, message });
            }
            Write::ConversationMessage {
                app,
                user,
                ts,
                message,
            } => {
                let key = (app, user, message.conv.clone());
                let row = advance_conversation(f.conversation(stored, &key), &key.1, ts, &message);
                f.convs.insert(key, row);
            }
            Write::ConversationRead {
                app,
                user,
                conv,
                conv_seq,
            } => {
                let key = (app, user, conv);
                // A read marker for a conversation the projection has no row of is moot.
                if let Some(row) = f.conversation(stored, &key) {
                    f.convs.insert(key, mark_read(row, conv_seq));
                }
            }
            Write::PutUser { profile, cursor } => {
                let key = (profile.app.clone(), profile.user.clone());
                match f.user(stored, &key) {
                    Some(row) => {
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
                        f.users.insert(key, row);
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
                // Status events always follow registration on the user's subject.
                if let Some(row) = f.user(stored, &(app, user)) {
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
                let key = (app, user, other);
                let row = patch_relation(f.relation(stored, &key), &key.2, patch, ts, cursor);
                f.relations.insert(key, row);
            }
            Write::PutGroup { app, row } => {
                f.groups.insert((app, row.group.clone()), row);
            }
            Write::PutMember {
                app,
                group,
                member,
                cursor,
            } => {
                let mine = UserGroupRow {
                    group: group.clone(),
                    role: Some(member.role),
                    cursor,
                };
                f.user_groups
                    .insert((app.clone(), member.user.clone(), group.clone()), mine);
                f.members
                    .insert((app, group, member.user.clone()), (cursor, Some(member)));
            }
            Write::RemoveMember {
                app,
                group,
                user,
                cursor,
            } => {
                let left = UserGroupRow {
                    group: group.clone(),
                    role: None,
                    cursor,
                };
                f.user_groups
                    .insert((app.clone(), user.clone(), group.clone()), left);
                f.members.insert((app, group, user), (cursor, None));
            }
        }
    }
    f
}

/// The keys of the rows a batch reads before folding.
#[derive(Default)]
struct Reads {
    heads: HashSet<UserKey>,
    convs: HashSet<ConvKey>,
    users: HashSet<UserKey>,
    relations: HashSet<RelationKey>,
}

fn reads_of(writes: &[Write]) -> Reads {
    let mut r = Reads::default();
    for write in writes {
        match write {
            Write::Deliver { app, user, .. } => {
                r.heads.insert((app.clone(), user.clone()));
            }
            Write::ConversationMessage {
                app, user, message, ..
            } => {
                r.convs
                    .insert((app.clone(), user.clone(), message.conv.clone()));
            }
            Write::ConversationRead {
                app, user, conv, ..
            } => {
                r.convs.insert((app.clone(), user.clone(), conv.clone()));
            }
            Write::PutUser { profile, .. } => {
                r.users.insert((profile.app.clone(), profile.user.clone()));
            }
            Write::UserStatus { app, user, .. } => {
                r.users.insert((app.clone(), user.clone()));
            }
            Write::Relation {
                app, user, other, ..
            } => {
                r.relations
                    .insert((app.clone(), user.clone(), other.clone()));
            }
            Write::Timeline { .. }
            | Write::PutGroup { .. }
            | Write::PutMember { .. }
            | Write::RemoveMember { .. } => {}
        }
    }
    r
}

/// The statements that store a folded batch, in the phases that must follow one another.
struct Phases {
    /// Bucket directories, before the rows of the buckets they name.
    directories: Vec<BoundStatement>,
    /// Rows nothing else points at, and change-feed moves.
    rows: Vec<BoundStatement>,
    /// Inbox heads (after their entries) and user rows (after their change-feed entries).
    pointers: Vec<BoundStatement>,
}

impl ScyllaStore {
    async fn read_stored(&self, reads: Reads) -> StoreResult<Stored> {
        let st = &self.inner.st;
        let concurrency = crate::store::CONCURRENCY;
        let heads = futures_util::stream::iter(reads.heads)
            .map(|key| async move {
                let head = self.head(&key.0, &key.1).await?;
                Ok::<_, tidings_store::StoreError>((key, head))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        let convs = futures_util::stream::iter(reads.convs)
            .map(|key| async move {
                let values = (key.0.as_str(), key.1.as_str(), key.2.as_str());
                let row: Option<(Vec<u8>,)> = self.first(&st.conversation_get, values).await?;
                let row = row.map(|(data,)| decode(&data)).transpose()?;
                Ok::<_, tidings_store::StoreError>((key, row))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        let users = futures_util::stream::iter(reads.users)
            .map(|key| async move {
                let values = (key.0.as_str(), key.1.as_str());
                let row: Option<(Vec<u8>,)> = self.first(&st.user_get, values).await?;
                let row = row.map(|(data,)| decode(&data)).transpose()?;
                Ok::<_, tidings_store::StoreError>((key, row))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        let relations = futures_util::stream::iter(reads.relations)
            .map(|key| async move {
                let values = (key.0.as_str(), key.1.as_str(), key.2.as_str());
                let row: Option<(Vec<u8>,)> = self.first(&st.relation_get, values).await?;
                let row = row.map(|(data,)| decode(&data)).transpose()?;
                Ok::<_, tidings_store::StoreError>((key, row))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        Ok(Stored {
            heads,
            convs,
            users,
            relations,
        })
    }

    fn phases(&self, stored: &Stored, f: Folded) -> StoreResult<Phases> {
        let st = &self.inner.st;
        let mut p = Phases {
            directories: Vec::new(),
            rows: Vec::new(),
            pointers: Vec::new(),
        };
        for (app, user, entry) in &f.entries {
            let values = (
                app.as_str(),
                user.as_str(),
                big(buckets::of(entry.seq, buckets::INBOX))?,
                big(entry.seq)?,
                encode(entry),
            );
            p.rows.push(bind(&st.inbox_put, &values)?);
        }
        for ((app, user), head) in &f.heads {
            let values = (
                app.as_str(),
                user.as_str(),
                big(head.seq)?,
                big(head.cursor)?,
            );
            p.pointers.push(bind(&st.inbox_head_put, &values)?);
        }
        let mut timeline_buckets = HashSet::new();
        for ((app, conv, conv_seq), message) in &f.timeline {
            let bucket = big(buckets::of(*conv_seq, buckets::TIMELINE))?;
            if timeline_buckets.insert((app, conv, bucket)) {
                let values = (app.as_str(), conv.as_str(), bucket);
                p.directories.push(bind(&st.timeline_bucket_put, &values)?);
            }
            let values = (
                app.as_str(),
                conv.as_str(),
                bucket,
                big(*conv_seq)?,
                encode(message),
            );
            p.rows.push(bind(&st.timeline_put, &values)?);
        }
        for ((app, user, conv), row) in &f.convs {
            let values = (app.as_str(), user.as_str(), conv.as_str(), encode(row));
            p.rows.push(bind(&st.conversation_put, &values)?);
        }
        let mut user_buckets = HashSet::new();
        for (key, row) in &f.users {
            let (app, user) = key;
            let cursor = big(row.cursor)?;
            let old = stored.users.get(key).cloned().flatten().map(|r| r.cursor);
            // Same cursor: the entry stays. Deleting and re-inserting it at one timestamp
            // would lose it (a tombstone wins a tie).
            if let Some(old) = old.filter(|old| *old != row.cursor) {
                let values = (
                    cursor,
                    app.as_str(),
                    big(buckets::of(old, buckets::USERS_BY_CURSOR))?,
                    big(old)?,
                );
                p.rows.push(bind(&st.user_cursor_delete, &values)?);
            }
            let bucket = big(buckets::of(row.cursor, buckets::USERS_BY_CURSOR))?;
            if user_buckets.insert((app, bucket)) {
                p.directories
                    .push(bind(&st.user_bucket_put, &(app.as_str(), bucket))?);
            }
            let values = (app.as_str(), bucket, cursor, user.as_str(), cursor);
            p.rows.push(bind(&st.user_cursor_put, &values)?);
            let values = (app.as_str(), user.as_str(), encode(row), cursor);
            p.pointers.push(bind(&st.user_put, &values)?);
        }
        for ((app, user, other), row) in &f.relations {
            let values = (
                app.as_str(),
                user.as_str(),
                other.as_str(),
                encode(row),
                big(row.cursor)?,
            );
            p.rows.push(bind(&st.relation_put, &values)?);
        }
        for ((app, group), row) in &f.groups {
            let values = (app.as_str(), group.as_str(), encode(row), big(row.cursor)?);
            p.rows.push(bind(&st.group_put, &values)?);
        }
        for ((app, group, user), (cursor, member)) in &f.members {
            let cursor = big(*cursor)?;
            p.rows.push(match member {
                Some(member) => {
                    let values = (
                        app.as_str(),
                        group.as_str(),
                        user.as_str(),
                        encode(member),
                        cursor,
                    );
                    bind(&st.member_put, &values)?
                }
                None => {
                    let values = (cursor, app.as_str(), group.as_str(), user.as_str());
                    bind(&st.member_delete, &values)?
                }
            });
        }
        for ((app, user, group), row) in &f.user_groups {
            let values = (
                app.as_str(),
                user.as_str(),
                group.as_str(),
                encode(row),
                big(row.cursor)?,
            );
            p.rows.push(bind(&st.user_group_put, &values)?);
        }
        Ok(p)
    }

    /// Applies `writes`, then sets `projection`'s checkpoint to `through_seq`.
    pub(crate) async fn apply_batch(
        &self,
        projection: &str,
        through_seq: u64,
        writes: Vec<Write>,
    ) -> StoreResult<Vec<Delivery>> {
        let _guard = self.inner.apply_lock.lock().await;
        let stored = self.read_stored(reads_of(&writes)).await?;
        let mut folded = fold(&stored, writes);
        let deliveries = std::mem::take(&mut folded.deliveries);
        let phases = self.phases(&stored, folded)?;
        self.write_all(phases.directories).await?;
        self.write_all(phases.rows).await?;
        self.write_all(phases.pointers).await?;
        // Only after every row it covers succeeded.
        let checkpoint = bind(
            &self.inner.st.checkpoint_put,
            &(projection, big(through_seq)?),
        )?;
        self.write_all(vec![checkpoint]).await?;
        Ok(deliveries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::{Body, MessageId, Recipient};
    use tidings_store::{EntryItem, MessageView};

    fn app() -> AppId {
        AppId::parse("demo").unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn deliver(to: &str, cursor: u64) -> Write {
        let (from, to) = (user("alice"), user(to));
        Write::Deliver {
            app: app(),
            user: to.clone(),
            ts: cursor as i64,
            item: EntryItem::Message(MessageView {
                conv: ConvId::direct(&from, &to),
                conv_seq: cursor,
                msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-{cursor:012}")).unwrap(),
                from,
                to: Recipient::User(to),
                body: Body::Text { text: "hi".into() },
                mentions: Vec::new(),
                mention_all: false,
            }),
            cursor,
        }
    }

    #[test]
    fn deliveries_number_from_the_stored_head_and_skip_what_it_covers() {
        let mut stored = Stored::default();
        stored
            .heads
            .insert((app(), user("bob")), Head { seq: 7, cursor: 20 });
        let folded = fold(
            &stored,
            vec![
                deliver("bob", 19),
                deliver("bob", 20),
                deliver("bob", 21),
                deliver("carol", 21),
                deliver("bob", 21),
                deliver("bob", 25),
            ],
        );
        let seqs: Vec<(&str, u64)> = folded
            .deliveries
            .iter()
            .map(|d| (d.user.as_str(), d.entry.seq))
            .collect();
        // Both entries of event 21 to bob are delivered; 19 and 20 were already applied.
        assert_eq!(seqs, [("bob", 8), ("carol", 1), ("bob", 9), ("bob", 10)]);
        assert_eq!(
            folded.heads[&(app(), user("bob"))],
            Head {
                seq: 10,
                cursor: 25
            }
        );
        assert_eq!(
            folded.heads[&(app(), user("carol"))],
            Head { seq: 1, cursor: 21 }
        );
        assert_eq!(folded.entries.len(), 4);
    }

    #[test]
    fn a_removed_member_keeps_a_left_row_and_the_last_change_wins() {
        let team = GroupId::parse("team").unwrap();
        let member = MemberRow {
            user: user("bob"),
            role: tidings_domain::group::Role::Member,
            muted: false,
            joined_at: 1,
        };
        let folded = fold(
            &Stored::default(),
            vec![
                Write::PutMember {
                    app: app(),
                    group: team.clone(),
                    member,
                    cursor: 3,
                },
                Write::RemoveMember {
                    app: app(),
                    group: team.clone(),
                    user: user("bob"),
                    cursor: 4,
                },
            ],
        );
        assert_eq!(
            folded.members[&(app(), team.clone(), user("bob"))],
            (4, None)
        );
        let row = &folded.user_groups[&(app(), user("bob"), team.clone())];
        assert_eq!((row.role, row.cursor), (None, 4));
    }

    #[test]
    fn reads_cover_exactly_the_rows_the_fold_rewrites() {
        let reads = reads_of(&[deliver("bob", 1), deliver("bob", 2), deliver("carol", 2)]);
        assert_eq!(reads.heads.len(), 2);
        assert!(reads.convs.is_empty() && reads.users.is_empty() && reads.relations.is_empty());
    }
}
