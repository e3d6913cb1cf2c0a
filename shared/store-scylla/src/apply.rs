//! The Scylla side of `ProjectionStore::apply`: `load` reads the rows a batch rewrites
//! (concurrently), the store crate's planner (`tidings_store::plan`) folds the writes over them,
//! and `commit` maps the planned changes to statements written in phases: bucket directories,
//! rows, then what points at rows (inbox heads after their entries, user rows after their
//! change-feed entries), then the checkpoint, only after every row it covers succeeded. A crash
//! between phases leaves a batch that applies again to the same rows: inbox numbering restarts
//! from the stored head and skips deliveries whose cursor it holds, and every other row is
//! keyed deterministically.
//!
//! Timestamps. Every row is written `USING TIMESTAMP <stream sequence>`, never a clock, so
//! last-write-wins follows the stream whichever projector instance writes and whatever its
//! clock says (a partition moves between hosts when its lease does). One scheme per table:
//! - `inbox`: the cursor of the entry's delivery (its event's stream sequence);
//!   `inbox_head`: the head's cursor, that of the user's last delivery. A user's head only
//!   moves to a higher cursor, so the newest head wins and numbering never restarts below it.
//! - `conversations`, `timeline`, `timeline_buckets`, `users_by_cursor_buckets`, `hidden`,
//!   `cleared`, `checkpoints`: the batch's `through_seq`, which only grows for a projection and is at
//!   least every cursor in the batch (these writes carry no cursor of their own).
//! - `users`, `users_by_cursor` (inserts and deletes), `relations`, `groups`, `members`
//!   (inserts and deletes), `user_groups`: the cursor of the row's last change.
//! - `reactions`, `pins` (inserts and deletes): the batch's `through_seq`, like the timeline;
//!   `reaction_marks`: the cursor of the event that moved the mark.
//! - `devices` (not written here): the acknowledged inbox seq.
//!
//! Why a batch applied again (after a crash, by the next owner of a partition, with other
//! batch boundaries, or late by an instance whose lease lapsed) cannot undo anything: a row
//! written at timestamp T holds the fold of every event up to T that touches it (its batch
//! read a row holding every event up to the batch's start, since each earlier batch wrote its
//! rows before its checkpoint, and applied the rest). A repeat at T' < T was folded from a row
//! at least as new, or from an older one, and holds no event past T', so it loses to the row
//! at T and changes nothing it should; a repeat at T' = T folds the same events again and
//! writes the same row (conversation rows move only to a newer conv_seq and read markers
//! never go backwards); one at T' > T holds everything the row at T held. The checkpoint is
//! the same argument with its value as its timestamp: it never moves backwards.
//!
//! The one row whose key depends on the batch boundaries is a user's change-feed entry
//! (`users_by_cursor`, keyed by the cursor of the user's last change). A batch that changes a
//! user at x and then at y never writes the entry at x; a repeat or late batch that ends
//! between x and y does, at timestamp x, and a later batch reads the user row at y (the
//! newest) so would not delete it. So every batch deletes, at the user's newest cursor, the
//! entries of every earlier cursor it saw (the stored one and those of its own earlier
//! changes): whichever batch first passes y deletes x at a timestamp >= y.
//!
//! The tests below check all this by running batches on a last-write-wins model of the
//! tables: other boundaries, crashes in each phase, late batches and replays from checkpoint
//! 0 all leave the rows one projector leaves.

use crate::buckets;
use crate::statements::Stmt;
use crate::store::{ScyllaStore, big, bind, encode};
use futures_util::{StreamExt, TryStreamExt};
use scylla::statement::bound::BoundStatement;
use scylla::value::CqlValue;
use std::collections::BTreeSet;
use std::future::Future;
use tidings_domain::{AppId, UserId};
use tidings_store::StoreError;
use tidings_store::plan::{Changes, Loaded, MemberChange, RowKeys, UserChange};
use tidings_store::ports::StoreResult;
use tidings_store::{Delivery, ReactionMark};

/// One row write of a batch, planned before it is bound: the statement, its timestamp (a
/// stream sequence, see the module docs) and its other values in the statement's order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowWrite {
    pub(crate) stmt: Stmt,
    pub(crate) ts: i64,
    pub(crate) values: Vec<CqlValue>,
}

impl RowWrite {
    fn new(stmt: Stmt, ts: u64, values: Vec<CqlValue>) -> StoreResult<Self> {
        Ok(Self {
            stmt,
            ts: big(ts)?,
            values,
        })
    }

    /// Every value to bind, the timestamp where the statement names it.
    pub(crate) fn bound(&self) -> Vec<CqlValue> {
        let ts = CqlValue::BigInt(self.ts);
        let mut out = Vec::with_capacity(self.values.len() + 1);
        if self.stmt.timestamp_first() {
            out.push(ts);
            out.extend(self.values.iter().cloned());
        } else {
            out.extend(self.values.iter().cloned());
            out.push(ts);
        }
        out
    }
}

fn text(s: &str) -> CqlValue {
    CqlValue::Text(s.to_owned())
}

fn int(n: u64) -> StoreResult<CqlValue> {
    Ok(CqlValue::BigInt(big(n)?))
}

fn blob<T: serde::Serialize>(row: &T) -> CqlValue {
    CqlValue::Blob(encode(row))
}

/// A batch's changes as row writes, in the phases that must follow one another.
struct Phases {
    /// Bucket directories, before the rows of the buckets they name.
    directories: Vec<RowWrite>,
    /// Rows nothing else points at, and change-feed moves.
    rows: Vec<RowWrite>,
    /// Inbox heads (after their entries) and user rows (after their change-feed entries).
    pointers: Vec<RowWrite>,
    /// The projection's checkpoint, after every row it covers.
    checkpoint: RowWrite,
}

/// The row writes that store `changes` and move `projection`'s checkpoint.
fn phases(projection: &str, f: &Changes) -> StoreResult<Phases> {
    let through_seq = f.through_seq;
    let mut p = Phases {
        directories: Vec::new(),
        rows: Vec::new(),
        pointers: Vec::new(),
        checkpoint: RowWrite::new(
            Stmt::checkpoint_put,
            through_seq,
            vec![text(projection), int(through_seq)?],
        )?,
    };
    for Delivery {
        app,
        user,
        entry,
        cursor,
    } in &f.entries
    {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            int(buckets::of(entry.seq, buckets::INBOX))?,
            int(entry.seq)?,
            // A message entry is a reference to its timeline row (see `inbox_join`).
            CqlValue::Blob(tidings_store::inbox_row::encode(entry)),
        ];
        p.rows
            .push(RowWrite::new(Stmt::inbox_put, *cursor, values)?);
    }
    for ((app, user), head) in &f.heads {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            int(head.seq)?,
            int(head.cursor)?,
        ];
        p.pointers
            .push(RowWrite::new(Stmt::inbox_head_put, head.cursor, values)?);
    }
    let mut timeline_buckets = BTreeSet::new();
    for ((app, conv, conv_seq), message) in &f.timeline {
        let bucket = buckets::of(*conv_seq, buckets::TIMELINE);
        if timeline_buckets.insert((app, conv, bucket)) {
            let values = vec![text(app.as_str()), text(conv.as_str()), int(bucket)?];
            p.directories.push(RowWrite::new(
                Stmt::timeline_bucket_put,
                through_seq,
                values,
            )?);
        }
        let values = vec![
            text(app.as_str()),
            text(conv.as_str()),
            int(bucket)?,
            int(*conv_seq)?,
            blob(message),
        ];
        p.rows
            .push(RowWrite::new(Stmt::timeline_put, through_seq, values)?);
    }
    for ((app, user, conv), row) in &f.convs {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(conv.as_str()),
            blob(row),
        ];
        p.rows
            .push(RowWrite::new(Stmt::conversation_put, through_seq, values)?);
    }
    for (app, user, conv, conv_seq) in &f.hidden {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(conv.as_str()),
            int(*conv_seq)?,
        ];
        p.rows
            .push(RowWrite::new(Stmt::hidden_put, through_seq, values)?);
    }
    // A user's clear mark only grows along the stream (the reads aggregate records nothing
    // lower), so the newest batch's mark wins.
    for ((app, user, conv), up_to) in &f.cleared {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(conv.as_str()),
            int(*up_to)?,
        ];
        p.rows
            .push(RowWrite::new(Stmt::cleared_put, through_seq, values)?);
    }
    let mut user_buckets = BTreeSet::new();
    for ((app, user), UserChange { row, stale_cursors }) in &f.users {
        // Every entry the user held before this one goes, the stored one and those of
        // changes earlier in this batch alike: a batch repeated with other boundaries (or
        // written late) may write one of those as its last, at that older cursor, and
        // only this tombstone, at the newer cursor, keeps it out of the feed. The current
        // entry stays (the planner never names it stale): deleting and re-inserting it at
        // one timestamp would lose it (a tombstone wins a tie).
        for &old in stale_cursors {
            let values = vec![
                text(app.as_str()),
                int(buckets::of(old, buckets::USERS_BY_CURSOR))?,
                int(old)?,
            ];
            p.rows
                .push(RowWrite::new(Stmt::user_cursor_delete, row.cursor, values)?);
        }
        let bucket = buckets::of(row.cursor, buckets::USERS_BY_CURSOR);
        if user_buckets.insert((app, bucket)) {
            let values = vec![text(app.as_str()), int(bucket)?];
            p.directories
                .push(RowWrite::new(Stmt::user_bucket_put, through_seq, values)?);
        }
        let values = vec![
            text(app.as_str()),
            int(bucket)?,
            int(row.cursor)?,
            text(user.as_str()),
        ];
        p.rows
            .push(RowWrite::new(Stmt::user_cursor_put, row.cursor, values)?);
        let values = vec![text(app.as_str()), text(user.as_str()), blob(row)];
        p.pointers
            .push(RowWrite::new(Stmt::user_put, row.cursor, values)?);
    }
    for ((app, user, other), row) in &f.relations {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(other.as_str()),
            blob(row),
        ];
        p.rows
            .push(RowWrite::new(Stmt::relation_put, row.cursor, values)?);
    }
    for ((app, group), row) in &f.groups {
        let values = vec![text(app.as_str()), text(group.as_str()), blob(row)];
        p.rows
            .push(RowWrite::new(Stmt::group_put, row.cursor, values)?);
    }
    for (
        (app, group, user),
        MemberChange {
            cursor,
            row: member,
        },
    ) in &f.members
    {
        let mut values = vec![
            text(app.as_str()),
            text(group.as_str()),
            text(user.as_str()),
        ];
        let stmt = match member {
            Some(member) => {
                values.push(blob(member));
                Stmt::member_put
            }
            None => Stmt::member_delete,
        };
        p.rows.push(RowWrite::new(stmt, *cursor, values)?);
    }
    for ((app, user, group), row) in &f.user_groups {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(group.as_str()),
            blob(row),
        ];
        p.rows
            .push(RowWrite::new(Stmt::user_group_put, row.cursor, values)?);
    }
    for ((app, conv, conv_seq, rkey, user), row) in &f.reactions {
        let mut values = vec![
            text(app.as_str()),
            text(conv.as_str()),
            int(buckets::of(*conv_seq, buckets::TIMELINE))?,
            int(*conv_seq)?,
            text(rkey),
            text(user.as_str()),
        ];
        let stmt = match row {
            Some(row) => {
                values.push(blob(row));
                Stmt::reaction_put
            }
            None => Stmt::reaction_delete,
        };
        p.rows.push(RowWrite::new(stmt, f.through_seq, values)?);
    }
    for ((app, user, conv, conv_seq, rkey, reactor), mark) in &f.reaction_marks {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(conv.as_str()),
            int(*conv_seq)?,
            text(rkey),
            text(reactor.as_str()),
            CqlValue::Boolean(mark.added),
            int(mark.cursor)?,
        ];
        p.rows
            .push(RowWrite::new(Stmt::reaction_mark_put, mark.cursor, values)?);
    }
    for ((app, conv, conv_seq), row) in &f.pins {
        let mut values = vec![text(app.as_str()), text(conv.as_str()), int(*conv_seq)?];
        let stmt = match row {
            Some(row) => {
                values.push(blob(row));
                Stmt::pin_put
            }
            None => Stmt::pin_delete,
        };
        p.rows.push(RowWrite::new(stmt, f.through_seq, values)?);
    }
    // A settings row is written at its change's stream sequence: a batch repeated from an
    // older checkpoint never overwrites a newer change.
    for ((app, user, conv), row) in &f.settings {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(conv.as_str()),
            blob(row),
        ];
        p.rows
            .push(RowWrite::new(Stmt::settings_put, row.cursor, values)?);
    }
    // A device row likewise, at its change's stream sequence.
    for ((app, user, device), row) in &f.devices {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(device.as_str()),
            blob(row),
        ];
        p.rows
            .push(RowWrite::new(Stmt::user_device_put, row.cursor, values)?);
    }
    for ((app, user, device), row) in &f.device_reads {
        let values = vec![
            text(app.as_str()),
            text(user.as_str()),
            text(device.as_str()),
            blob(row),
        ];
        p.rows
            .push(RowWrite::new(Stmt::device_read_put, row.cursor, values)?);
    }
    // Push settings likewise, at their change's stream sequence.
    for ((app, user), row) in &f.push {
        let values = vec![text(app.as_str()), text(user.as_str()), blob(row)];
        p.rows
            .push(RowWrite::new(Stmt::push_put, row.cursor, values)?);
    }
    // Audiences and broadcasts: the batch's `through_seq`, like pins (a broadcast row never
    // changes); an app's broadcast head at its bseq, so the highest wins without a read.
    for ((app, user, tag), since) in &f.tags {
        let (a, u) = (text(app.as_str()), text(user.as_str()));
        let listed = tag != tidings_store::broadcasts::EVERYONE;
        match since {
            Some(since) => {
                let mine = vec![a.clone(), u.clone(), text(tag), int(*since)?];
                p.rows
                    .push(RowWrite::new(Stmt::user_tag_put, f.through_seq, mine)?);
                if listed {
                    let index = vec![a, text(tag), u, int(*since)?];
                    p.rows
                        .push(RowWrite::new(Stmt::tag_user_put, f.through_seq, index)?);
                }
            }
            None => {
                let mine = vec![a.clone(), u.clone(), text(tag)];
                p.rows
                    .push(RowWrite::new(Stmt::user_tag_delete, f.through_seq, mine)?);
                if listed {
                    let index = vec![a, text(tag), u];
                    p.rows
                        .push(RowWrite::new(Stmt::tag_user_delete, f.through_seq, index)?);
                }
            }
        }
    }
    for ((app, bseq), row) in &f.broadcasts {
        let bucket = int(buckets::of(*bseq, buckets::BROADCASTS))?;
        let values = vec![text(app.as_str()), bucket, int(*bseq)?, blob(row)];
        p.rows
            .push(RowWrite::new(Stmt::broadcast_put, f.through_seq, values)?);
        let head = vec![text(app.as_str()), int(*bseq)?];
        p.rows
            .push(RowWrite::new(Stmt::broadcast_head_put, *bseq, head)?);
    }
    Ok(p)
}

/// Reads every key of `keys` (at most `CONCURRENCY` at once) with `read`, keeping the rows found.
async fn read_each<K, R, F>(
    keys: impl IntoIterator<Item = K>,
    read: impl Fn(K) -> F,
) -> StoreResult<Vec<(K, R)>>
where
    K: Clone,
    F: Future<Output = StoreResult<Option<R>>>,
{
    futures_util::stream::iter(keys)
        .map(|key| {
            let found = read(key.clone());
            async move { Ok::<_, StoreError>(found.await?.map(|row| (key, row))) }
        })
        .buffer_unordered(crate::store::CONCURRENCY)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await
}

impl ScyllaStore {
    pub(crate) async fn load_rows(&self, keys: &RowKeys<'_>) -> StoreResult<Loaded> {
        let st = &self.inner.st;
        // Owned before the first await: the reads run concurrently, past the borrow.
        let (mut heads, mut users, mut convs, mut relations) = (vec![], vec![], vec![], vec![]);
        let mut marks = vec![];
        for (a, u, c) in &keys.cleared {
            marks.push(((*a).clone(), (*u).clone(), (*c).clone()));
        }
        let timeline: Vec<_> = keys
            .timeline
            .iter()
            .map(|(a, c, seq)| ((*a).clone(), (*c).clone(), *seq))
            .collect();
        heads.extend(keys.heads.iter().map(|(a, u)| ((*a).clone(), (*u).clone())));
        users.extend(keys.users.iter().map(|(a, u)| ((*a).clone(), (*u).clone())));
        for (a, u, c) in &keys.convs {
            convs.push(((*a).clone(), (*u).clone(), (*c).clone()));
        }
        for (a, u, o) in &keys.relations {
            relations.push(((*a).clone(), (*u).clone(), (*o).clone()));
        }
        let heads = read_each(heads, |(app, user): (AppId, UserId)| async move {
            self.head(&app, &user).await.map(Some)
        });
        let convs = read_each(convs, |(app, user, conv)| async move {
            let values = (app.as_str(), user.as_str(), conv.as_str());
            self.blob(&st.conversation_get, values).await
        });
        let users = read_each(users, |(app, user): (AppId, UserId)| async move {
            self.blob(&st.user_get, (app.as_str(), user.as_str())).await
        });
        let relations = read_each(relations, |(app, user, other)| async move {
            let values = (app.as_str(), user.as_str(), other.as_str());
            self.blob(&st.relation_get, values).await
        });
        let marks = read_each(marks, |(app, user, conv)| async move {
            let values = (app.as_str(), user.as_str(), conv.as_str());
            let row: Option<(i64,)> = self.first(&st.cleared_get, values).await?;
            row.map(|(up_to,)| crate::store::seq(up_to)).transpose()
        });
        let reaction_marks = read_each(keys.reaction_marks.iter().cloned(), |k| async move {
            let (app, user, conv, conv_seq, rkey, reactor) = &k;
            let values = (
                app.as_str(),
                user.as_str(),
                conv.as_str(),
                big(*conv_seq)?,
                rkey.as_str(),
                reactor.as_str(),
            );
            let row: Option<(bool, i64)> = self.first(&st.reaction_mark_get, values).await?;
            row.map(|(added, cursor)| {
                Ok(ReactionMark {
                    added,
                    cursor: crate::store::seq(cursor)?,
                })
            })
            .transpose()
        });
        let timeline = read_each(timeline, |(app, conv, conv_seq)| async move {
            let bucket = big(buckets::of(conv_seq, buckets::TIMELINE))?;
            let values = (app.as_str(), conv.as_str(), bucket, big(conv_seq)?);
            self.blob(&st.timeline_get, values).await
        });
        let (heads, convs, users, relations, marks, reaction_marks, timeline) = futures_util::try_join!(
            heads,
            convs,
            users,
            relations,
            marks,
            reaction_marks,
            timeline
        )?;
        Ok(Loaded {
            heads: heads.into_iter().collect(),
            convs: convs.into_iter().collect(),
            users: users.into_iter().collect(),
            relations: relations.into_iter().collect(),
            cleared: marks.into_iter().collect(),
            reaction_marks: reaction_marks.into_iter().collect(),
            timeline: timeline.into_iter().collect(),
        })
    }

    /// Binds planned writes to their prepared statements.
    fn bind_all(&self, writes: &[RowWrite]) -> StoreResult<Vec<BoundStatement>> {
        writes
            .iter()
            .map(|w| bind(self.inner.st.get(w.stmt), &w.bound()))
            .collect()
    }

    /// Writes `changes` phase by phase, the checkpoint last.
    pub(crate) async fn commit_changes(
        &self,
        projection: &str,
        changes: &Changes,
    ) -> StoreResult<()> {
        let p = phases(projection, changes)?;
        self.write_all(self.bind_all(&p.directories)?).await?;
        self.write_all(self.bind_all(&p.rows)?).await?;
        self.write_all(self.bind_all(&p.pointers)?).await?;
        // Only after every row it covers succeeded.
        self.write_all(self.bind_all(std::slice::from_ref(&p.checkpoint))?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tidings_domain::event::{ConvSettings, UserProfile};
    use tidings_domain::group::{JoinPolicy, Role};
    use tidings_domain::{AppId, Body, ConvId, GroupId, MessageId, Recipient, UserId};
    use tidings_store::plan::{Head, plan};
    use tidings_store::{
        DeviceReadRow, DeviceRow, Diffusion, EntryItem, GroupRow, MemberRow, MessageView, PinRow,
        ReactionNotice, RelationPatch, SettingsRow, SystemNotice, UserRow, Write,
    };

    /// Plans `writes` over `loaded` as `commit` would write them.
    fn planned(loaded: &Loaded, projection: &str, through: u64, writes: Vec<Write>) -> Phases {
        phases(projection, &plan(loaded, through, writes)).unwrap()
    }

    fn app() -> AppId {
        AppId::parse("demo").unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    // Timestamps: every planned write is stamped with its stream sequence.

    fn notice(to: &str, text: &str, cursor: u64) -> Write {
        Write::Deliver {
            app: app(),
            user: user(to),
            ts: cursor as i64,
            item: EntryItem::System(SystemNotice {
                msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-{cursor:012}")).unwrap(),
                body: Body::Text { text: text.into() },
            }),
            cursor,
        }
    }

    /// The writes of one direct message, the event at `cursor`.
    fn message(from: &str, to: &str, conv_seq: u64, cursor: u64) -> Vec<Write> {
        let (from, to) = (user(from), user(to));
        let view = std::sync::Arc::new(MessageView::sent(
            ConvId::direct(&from, &to),
            conv_seq,
            MessageId::parse(format!("019b7b1c-3a00-7000-8000-{cursor:012}")).unwrap(),
            from.clone(),
            Recipient::User(to.clone()),
            Body::Text {
                text: format!("m{cursor}"),
            },
        ));
        let ts = cursor as i64;
        let mut writes = vec![Write::Timeline {
            app: app(),
            ts,
            message: view.clone(),
        }];
        let mut to_users = vec![from.clone()];
        if to != from {
            to_users.push(to);
        }
        for u in to_users {
            writes.push(Write::Deliver {
                app: app(),
                user: u.clone(),
                ts,
                item: EntryItem::Message(view.clone()),
                cursor,
            });
            writes.push(Write::ConversationMessage {
                app: app(),
                user: u,
                ts,
                message: view.clone(),
            });
        }
        writes
    }

    /// `reader` reads its direct conversation with `peer` up to `conv_seq`, with receipts.
    fn read(reader: &str, peer: &str, conv_seq: u64, cursor: u64) -> Vec<Write> {
        vec![
            Write::ConversationRead {
                app: app(),
                user: user(reader),
                conv: ConvId::direct(&user(reader), &user(peer)),
                conv_seq,
            },
            notice(reader, "read", cursor),
            notice(peer, "read", cursor),
        ]
    }

    /// `who` hides message `conv_seq` of its direct conversation with `peer` and clears it up
    /// to there, with the entries to their devices.
    fn hide_and_clear(who: &str, peer: &str, conv_seq: u64, cursor: u64) -> Vec<Write> {
        let conv = ConvId::direct(&user(who), &user(peer));
        vec![
            Write::Hide {
                app: app(),
                user: user(who),
                conv: conv.clone(),
                conv_seq,
            },
            Write::Clear {
                app: app(),
                user: user(who),
                conv,
                up_to: conv_seq,
            },
            notice(who, "removed", cursor),
        ]
    }

    fn put_user(id: &str, cursor: u64) -> Write {
        Write::PutUser {
            profile: UserProfile {
                app: app(),
                user: user(id),
                name: format!("{id} {cursor}"),
                avatar_url: None,
                extra: None,
                version: cursor,
                ts: cursor as i64,
            },
            cursor,
        }
    }

    fn put_group(id: &str, cursor: u64) -> Write {
        let group = GroupId::parse(id).unwrap();
        Write::PutGroup {
            app: app(),
            row: GroupRow {
                conv: ConvId::group(&group),
                group,
                name: format!("{id} {cursor}"),
                avatar_url: None,
                intro: None,
                join_policy: JoinPolicy::Open,
                owner: user("alice"),
                member_count: 1,
                muted_all: false,
                announcement: None,
                dismissed: false,
                diffusion: Diffusion::Write,
                created_at: 1,
                cursor,
            },
        }
    }

    fn put_member(group: &str, id: &str, cursor: u64) -> Write {
        Write::PutMember {
            app: app(),
            group: GroupId::parse(group).unwrap(),
            member: MemberRow {
                user: user(id),
                role: Role::Member,
                muted: cursor.is_multiple_of(2),
                joined_at: cursor as i64,
            },
            cursor,
        }
    }

    fn remove_member(group: &str, id: &str, cursor: u64) -> Write {
        Write::RemoveMember {
            app: app(),
            group: GroupId::parse(group).unwrap(),
            user: user(id),
            cursor,
        }
    }

    fn relation(owner: &str, other: &str, cursor: u64) -> Write {
        Write::Relation {
            app: app(),
            user: user(owner),
            other: user(other),
            patch: RelationPatch {
                friend: Some(cursor.is_multiple_of(2)),
                ..Default::default()
            },
            ts: cursor as i64,
            cursor,
        }
    }

    /// Bob's reaction `key` on alice and bob's message 1, told to alice.
    fn reaction(key: &str, added: bool, cursor: u64) -> Vec<Write> {
        let notice = ReactionNotice {
            conv: ConvId::direct(&user("alice"), &user("bob")),
            conv_seq: 1,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
            user: user("bob"),
            key: key.into(),
            added,
        };
        vec![
            Write::Reaction {
                app: app(),
                notice: notice.clone(),
                ts: cursor as i64,
            },
            Write::ReactionEntry {
                app: app(),
                user: user("alice"),
                notice,
                ts: cursor as i64,
                cursor,
            },
        ]
    }

    fn devices(cursor: u64) -> Vec<Write> {
        let phone = tidings_domain::DeviceId::parse("phone").unwrap();
        vec![
            Write::Device {
                app: app(),
                user: user("alice"),
                row: DeviceRow {
                    device: phone.clone(),
                    platform: tidings_domain::login::Platform::Ios,
                    at: 1,
                    signed_out: false,
                    cursor,
                },
            },
            Write::DeviceRead {
                app: app(),
                user: user("alice"),
                row: DeviceReadRow {
                    device: phone,
                    conv: ConvId::direct(&user("alice"), &user("bob")),
                    conv_seq: 1,
                    ts: 1,
                    cursor,
                },
            },
        ]
    }

    fn pin(conv_seq: u64, pinned: bool) -> Write {
        Write::Pin {
            app: app(),
            conv: ConvId::direct(&user("alice"), &user("bob")),
            conv_seq,
            row: pinned.then(|| PinRow {
                conv_seq,
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
                by: None,
                ts: 1,
            }),
        }
    }

    fn settings(cursor: u64) -> Write {
        Write::Settings {
            app: app(),
            user: user("alice"),
            row: SettingsRow {
                conv: ConvId::direct(&user("alice"), &user("bob")),
                settings: ConvSettings {
                    pinned: true,
                    ..Default::default()
                },
                cursor,
            },
        }
    }

    /// alice joins `vip`, bob leaves `old`, and broadcast 3 is stored.
    fn tags_and_broadcast(cursor: u64) -> Vec<Write> {
        let tag = |user_id: &str, tag: &str, since| Write::Tag {
            app: app(),
            user: user(user_id),
            tag: tag.into(),
            since,
        };
        vec![
            tag("alice", "vip", Some(cursor)),
            tag("bob", "old", None),
            Write::Broadcast {
                app: app(),
                row: tidings_store::BroadcastRow {
                    bseq: 3,
                    msg_id: tidings_domain::MessageId::parse(
                        "019b7b1c-3a00-7000-8000-000000000003",
                    )
                    .unwrap(),
                    tag: None,
                    body: tidings_domain::Body::Text { text: "hi".into() },
                    ts: 1,
                    pos: cursor,
                },
            },
        ]
    }

    #[test]
    fn every_row_is_stamped_with_a_stream_sequence() {
        let mut stored = Loaded::default();
        // alice has a change-feed entry at 3 that her profile change moves.
        let mut alice = match put_user("alice", 3) {
            Write::PutUser { profile, cursor } => UserRow {
                profile,
                deactivated: false,
                token_epoch: 0,
                cursor,
            },
            _ => unreachable!(),
        };
        alice.cursor = 3;
        stored.users.insert((app(), user("alice")), alice.clone());
        stored
            .heads
            .insert((app(), user("bob")), Head { seq: 4, cursor: 9 });
        let mut writes = message("alice", "bob", 1, 10);
        writes.push(notice("bob", "first", 11));
        writes.push(notice("bob", "second", 11));
        writes.extend(read("bob", "alice", 1, 12));
        writes.push(put_user("alice", 13));
        writes.push(relation("alice", "bob", 14));
        writes.push(put_group("team", 15));
        writes.push(put_member("team", "alice", 15));
        writes.push(remove_member("team", "bob", 16));
        let removals = hide_and_clear("bob", "alice", 1, 17);
        writes.extend(
            removals
                .into_iter()
                .filter(|w| !matches!(w, Write::Deliver { .. })),
        );
        writes.extend(reaction("a", true, 17));
        writes.extend(reaction("b", false, 18));
        writes.push(pin(1, true));
        writes.push(pin(2, false));
        writes.push(settings(19));
        writes.extend(tags_and_broadcast(19));
        writes.extend(devices(19));
        writes.push(Write::Push {
            app: app(),
            user: user("alice"),
            row: tidings_store::PushRow {
                settings: Default::default(),
                cursor: 18,
            },
        });
        let through: i64 = 20;
        let p = planned(&stored, "inbox.p0of2", 20, writes);
        let all: Vec<&RowWrite> = p
            .directories
            .iter()
            .chain(&p.rows)
            .chain(&p.pointers)
            .chain([&p.checkpoint])
            .collect();
        let stamps = |stmt: Stmt| -> Vec<i64> {
            all.iter()
                .filter(|w| w.stmt == stmt)
                .map(|w| w.ts)
                .collect()
        };
        // Inbox entries: their delivery's cursor (bob: 10, both entries of 11, 12; alice: 10,
        // 12, the reaction's 17); heads: the cursor of the user's last delivery.
        let mut inbox = stamps(Stmt::inbox_put);
        inbox.sort();
        assert_eq!(inbox, [10, 10, 11, 11, 12, 12, 17]);
        let mut heads = stamps(Stmt::inbox_head_put);
        heads.sort();
        assert_eq!(heads, [12, 17], "alice's last is the reaction entry");
        // Rows without a cursor of their own: the batch's through_seq.
        assert_eq!(stamps(Stmt::timeline_put), [through]);
        assert_eq!(stamps(Stmt::timeline_bucket_put), [through]);
        assert_eq!(stamps(Stmt::conversation_put), [through, through]);
        assert_eq!(stamps(Stmt::user_bucket_put), [through]);
        assert_eq!(stamps(Stmt::checkpoint_put), [through]);
        assert_eq!(stamps(Stmt::hidden_put), [through]);
        assert_eq!(stamps(Stmt::cleared_put), [through]);
        // Rows with a cursor: the cursor of their last change.
        assert_eq!(stamps(Stmt::user_cursor_delete), [13]);
        assert_eq!(stamps(Stmt::user_cursor_put), [13]);
        assert_eq!(stamps(Stmt::user_put), [13]);
        assert_eq!(stamps(Stmt::relation_put), [14]);
        assert_eq!(stamps(Stmt::group_put), [15]);
        assert_eq!(stamps(Stmt::member_put), [15]);
        assert_eq!(stamps(Stmt::member_delete), [16]);
        let mut user_groups = stamps(Stmt::user_group_put);
        user_groups.sort();
        assert_eq!(user_groups, [15, 16]);
        // Reactions and pins: the batch's through_seq; a reaction mark: its event's cursor.
        assert_eq!(stamps(Stmt::reaction_put), [through]);
        assert_eq!(stamps(Stmt::reaction_delete), [through]);
        assert_eq!(stamps(Stmt::reaction_mark_put), [17]);
        assert_eq!(stamps(Stmt::pin_put), [through]);
        assert_eq!(stamps(Stmt::pin_delete), [through]);
        // A settings row: the cursor of its change.
        assert_eq!(stamps(Stmt::settings_put), [19]);
        // Audiences and broadcasts: the batch's through_seq; an app's head: its bseq.
        for stmt in [
            Stmt::user_tag_put,
            Stmt::user_tag_delete,
            Stmt::tag_user_put,
            Stmt::tag_user_delete,
            Stmt::broadcast_put,
        ] {
            assert_eq!(stamps(stmt), [through], "{stmt:?}");
        }
        assert_eq!(stamps(Stmt::broadcast_head_put), [3]);
        // Device rows and per-device reads: the cursor of their change.
        assert_eq!(stamps(Stmt::user_device_put), [19]);
        assert_eq!(stamps(Stmt::device_read_put), [19]);
        // A push settings row likewise.
        assert_eq!(stamps(Stmt::push_put), [18]);
        // Nothing is stamped past the batch, and every write statement but the devices'
        // (acknowledged seqs, outside apply) is planned here.
        assert!(all.iter().all(|w| w.ts <= through));
        let planned: BTreeSet<Stmt> = all.iter().map(|w| w.stmt).collect();
        let writes: BTreeSet<Stmt> = Stmt::ALL
            .iter()
            .copied()
            .filter(|s| !s.cql().starts_with("SELECT") && *s != Stmt::device_put)
            .collect();
        assert_eq!(planned, writes);
        // The timestamp goes where the CQL names it.
        let delete = all.iter().find(|w| w.stmt == Stmt::member_delete).unwrap();
        assert_eq!(delete.bound()[0], CqlValue::BigInt(16));
        assert_eq!(p.checkpoint.bound().last(), Some(&CqlValue::BigInt(20)));
    }

    /// A model of the tables as Scylla reconciles them: each INSERT writes a row marker and its
    /// cells, each DELETE a row tombstone, at the write's timestamp; the highest timestamp wins
    /// per cell; at equal timestamps a tombstone wins, then the larger value (bytewise). Writes
    /// are executed from their CQL text and the migrations' primary keys.
    mod lww {
        use super::super::RowWrite;
        use crate::schema::{Table, list, restrictions, tables, tokens};
        use crate::statements::with_keyspace;
        use crate::store::decode;
        use scylla::value::CqlValue;
        use std::collections::BTreeMap;
        use tidings_store::plan::{Head, Loaded, RowKeys};

        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
        pub(crate) enum V {
            Int(i64),
            Text(String),
            Blob(Vec<u8>),
        }

        impl V {
            fn of(value: &CqlValue) -> V {
                match value {
                    CqlValue::BigInt(n) => V::Int(*n),
                    CqlValue::Text(s) => V::Text(s.clone()),
                    CqlValue::Blob(b) => V::Blob(b.clone()),
                    other => panic!("unexpected value {other:?}"),
                }
            }

            /// The serialized value, as Scylla compares it on a timestamp tie.
            fn bytes(&self) -> Vec<u8> {
                match self {
                    V::Int(n) => n.to_be_bytes().to_vec(),
                    V::Text(s) => s.as_bytes().to_vec(),
                    V::Blob(b) => b.clone(),
                }
            }

            fn int(&self) -> u64 {
                match self {
                    V::Int(n) => u64::try_from(*n).unwrap(),
                    other => panic!("not a bigint: {other:?}"),
                }
            }
        }

        #[derive(Debug, Clone, Default)]
        struct Row {
            tombstone: Option<i64>,
            marker: Option<i64>,
            cells: BTreeMap<String, (i64, V)>,
        }

        /// Visible rows: (table, primary key values) -> column -> value.
        pub(crate) type State = BTreeMap<(String, Vec<V>), BTreeMap<String, V>>;

        pub(crate) struct Tables {
            schema: BTreeMap<String, Table>,
            rows: BTreeMap<(String, Vec<V>), Row>,
        }

        impl Tables {
            pub(crate) fn new() -> Self {
                Self {
                    schema: tables(),
                    rows: BTreeMap::new(),
                }
            }

            fn key(&self, table: &str, columns: &BTreeMap<String, V>) -> Vec<V> {
                let t = &self.schema[table];
                t.partition
                    .iter()
                    .chain(&t.clustering)
                    .map(|c| columns[c].clone())
                    .collect()
            }

            pub(crate) fn execute(&mut self, w: &RowWrite) {
                let cql = with_keyspace(w.stmt.cql(), "ks");
                let t = tokens(&cql);
                let bound: Vec<V> = w.bound().iter().map(V::of).collect();
                let markers = t.iter().filter(|t| *t == "?").count();
                assert_eq!(
                    markers,
                    bound.len(),
                    "{}: one value per marker",
                    w.stmt.name()
                );
                let table = t[2].strip_prefix("ks.").unwrap().to_owned();
                match t[0].as_str() {
                    "INSERT" => {
                        let (columns, _) = list(&t, 3);
                        let columns: BTreeMap<String, V> = columns
                            .into_iter()
                            .map(|c| c[0].clone())
                            .zip(bound.iter().cloned())
                            .collect();
                        let ts = w.ts;
                        assert_eq!(bound.last(), Some(&V::Int(ts)), "timestamp last");
                        let key = self.key(&table, &columns);
                        let schema = &self.schema[&table];
                        let keys: Vec<&String> =
                            schema.partition.iter().chain(&schema.clustering).collect();
                        let row = self.rows.entry((table.clone(), key)).or_default();
                        row.marker = row.marker.max(Some(ts));
                        for (column, value) in columns {
                            if keys.contains(&&column) {
                                continue;
                            }
                            let wins = match row.cells.get(&column) {
                                None => true,
                                Some((at, old)) => {
                                    ts > *at || (ts == *at && value.bytes() > old.bytes())
                                }
                            };
                            if wins {
                                row.cells.insert(column, (ts, value));
                            }
                        }
                    }
                    "DELETE" => {
                        let ts = w.ts;
                        assert_eq!(bound[0], V::Int(ts), "timestamp first");
                        let columns: BTreeMap<String, V> = restrictions(&t)
                            .into_iter()
                            .map(|(c, _)| c)
                            .zip(bound[1..].iter().cloned())
                            .collect();
                        let key = self.key(&table, &columns);
                        let row = self.rows.entry((table, key)).or_default();
                        row.tombstone = row.tombstone.max(Some(ts));
                    }
                    other => panic!("not a write: {other}"),
                }
            }

            fn visible(row: &Row) -> Option<BTreeMap<String, V>> {
                let dead = row.tombstone.unwrap_or(i64::MIN);
                let cells: BTreeMap<String, V> = row
                    .cells
                    .iter()
                    .filter(|(_, (at, _))| *at > dead)
                    .map(|(c, (_, v))| (c.clone(), v.clone()))
                    .collect();
                (row.marker.is_some_and(|m| m > dead) || !cells.is_empty()).then_some(cells)
            }

            pub(crate) fn get(&self, table: &str, key: &[&str]) -> Option<BTreeMap<String, V>> {
                let key = key.iter().map(|k| V::Text((*k).to_owned())).collect();
                Self::visible(self.rows.get(&(table.to_owned(), key))?)
            }

            pub(crate) fn state(&self) -> State {
                self.rows
                    .iter()
                    .filter_map(|(k, row)| Some((k.clone(), Self::visible(row)?)))
                    .collect()
            }

            pub(crate) fn checkpoint(&self, projection: &str) -> u64 {
                self.get("checkpoints", &[projection])
                    .map_or(0, |row| row["seq"].int())
            }

            fn data<T: serde::de::DeserializeOwned>(&self, table: &str, key: &[&str]) -> Option<T> {
                let row = self.get(table, key)?;
                match &row["data"] {
                    V::Blob(b) => Some(decode(b).unwrap()),
                    other => panic!("not a blob: {other:?}"),
                }
            }

            /// What `load_rows` reads, from the model.
            pub(crate) fn stored(&self, keys: &RowKeys<'_>) -> Loaded {
                let mut s = Loaded::default();
                for &(app, user) in &keys.heads {
                    if let Some(row) = self.get("inbox_head", &[app.as_str(), user.as_str()]) {
                        let head = Head {
                            seq: row["seq"].int(),
                            cursor: row["cursor"].int(),
                        };
                        s.heads.insert((app.clone(), user.clone()), head);
                    }
                }
                for &(app, user, conv) in &keys.convs {
                    let key = [app.as_str(), user.as_str(), conv.as_str()];
                    if let Some(row) = self.data("conversations", &key) {
                        s.convs
                            .insert((app.clone(), user.clone(), conv.clone()), row);
                    }
                }
                for &(app, user) in &keys.users {
                    if let Some(row) = self.data("users", &[app.as_str(), user.as_str()]) {
                        s.users.insert((app.clone(), user.clone()), row);
                    }
                }
                for &(app, user, other) in &keys.relations {
                    let key = [app.as_str(), user.as_str(), other.as_str()];
                    if let Some(row) = self.data("relations", &key) {
                        s.relations
                            .insert((app.clone(), user.clone(), other.clone()), row);
                    }
                }
                for &(app, user, conv) in &keys.cleared {
                    let key = [app.as_str(), user.as_str(), conv.as_str()];
                    if let Some(row) = self.get("cleared", &key) {
                        let mark = row["up_to"].int();
                        s.cleared
                            .insert((app.clone(), user.clone(), conv.clone()), mark);
                    }
                }
                for &(app, conv, conv_seq) in &keys.timeline {
                    let bucket = conv_seq / crate::buckets::TIMELINE;
                    let key = vec![
                        V::Text(app.to_string()),
                        V::Text(conv.to_string()),
                        V::Int(bucket as i64),
                        V::Int(conv_seq as i64),
                    ];
                    let row = self.rows.get(&("timeline".to_owned(), key));
                    if let Some(V::Blob(b)) = row.and_then(Self::visible).map(|r| r["data"].clone())
                    {
                        s.timeline
                            .insert((app.clone(), conv.clone(), conv_seq), decode(&b).unwrap());
                    }
                }
                s
            }
        }
    }

    use lww::Tables;

    /// A stream of events (sequence, writes) mixing every kind of write, drawn from `seed`,
    /// with what the domain guarantees: read markers only for messages already sent, status
    /// changes only for registered users.
    fn stream(seed: u64, len: u64) -> Vec<(u64, Vec<Write>)> {
        let people = ["alice", "bob", "carol"];
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut conv_seqs: BTreeMap<ConvId, u64> = BTreeMap::new();
        let mut cleared: BTreeMap<(&str, ConvId), u64> = BTreeMap::new();
        let mut registered = BTreeSet::new();
        (1..=len)
            .map(|seq| {
                let a = people[next(3) as usize];
                let b = people[next(3) as usize];
                let writes = match next(9) {
                    0..=2 => {
                        let last = conv_seqs
                            .entry(ConvId::direct(&user(a), &user(b)))
                            .or_default();
                        *last += 1;
                        message(a, b, *last, seq)
                    }
                    3 => {
                        let last = conv_seqs
                            .get(&ConvId::direct(&user(a), &user(b)))
                            .copied()
                            .unwrap_or(0);
                        if a == b || last == 0 {
                            vec![notice(a, "nothing to read", seq)]
                        } else if next(2) == 0 {
                            read(a, b, 1 + next(last), seq)
                        } else {
                            if next(2) == 0 {
                                // Clear marks only grow, as the reads aggregate records them.
                                let conv = ConvId::direct(&user(a), &user(b));
                                let mark = cleared.entry((a, conv)).or_default();
                                *mark = (*mark + 1).min(last);
                                hide_and_clear(a, b, *mark, seq)
                            } else {
                                // A recall or an edit rewrites a timeline row from its value.
                                let annotation = if next(4) == 0 {
                                    tidings_store::Annotation::Recalled {
                                        by: Some(user(a)),
                                        ts: seq as i64,
                                    }
                                } else {
                                    tidings_store::Annotation::Edited {
                                        body: Body::Text {
                                            text: format!("edit {seq}"),
                                        },
                                        edit_seq: seq,
                                        ts: seq as i64,
                                    }
                                };
                                vec![Write::Annotate {
                                    app: app(),
                                    conv: ConvId::direct(&user(a), &user(b)),
                                    conv_seq: 1 + next(last),
                                    annotation,
                                }]
                            }
                        }
                    }
                    4 => (0..1 + next(3))
                        .map(|i| notice(a, &format!("notice {i}"), seq))
                        .collect(),
                    5 if next(2) == 0 || !registered.contains(a) => {
                        registered.insert(a);
                        vec![put_user(a, seq)]
                    }
                    5 => vec![Write::UserStatus {
                        app: app(),
                        user: user(a),
                        deactivated: Some(next(2) == 0),
                        token_epoch: Some(seq),
                        cursor: seq,
                    }],
                    6 => vec![relation(a, b, seq)],
                    7 => vec![put_group("team", seq), put_member("team", a, seq)],
                    _ => vec![remove_member("team", a, seq), notice(b, "left", seq)],
                };
                (seq, writes)
            })
            .collect()
    }

    fn writes_in(events: &[(u64, Vec<Write>)], after: u64, through: u64) -> Vec<Write> {
        events
            .iter()
            .filter(|(seq, _)| *seq > after && *seq <= through)
            .flat_map(|(_, writes)| writes.clone())
            .collect()
    }

    /// Plans the batch of events `after + 1 ..= through` on the rows the model holds now.
    fn plan_on(
        db: &Tables,
        events: &[(u64, Vec<Write>)],
        projection: &str,
        after: u64,
        through: u64,
    ) -> Phases {
        let writes = writes_in(events, after, through);
        let stored = db.stored(&RowKeys::of(&writes));
        planned(&stored, projection, through, writes)
    }

    fn in_order(p: &Phases) -> [Vec<RowWrite>; 4] {
        [
            p.directories.clone(),
            p.rows.clone(),
            p.pointers.clone(),
            vec![p.checkpoint.clone()],
        ]
    }

    fn land(db: &mut Tables, p: &Phases) {
        for phase in in_order(p) {
            for w in &phase {
                db.execute(w);
            }
        }
    }

    /// A projector: from the model's checkpoint, batches of `size` events up to `end`, each
    /// read, planned and written whole.
    fn run(db: &mut Tables, events: &[(u64, Vec<Write>)], size: u64, end: u64) {
        let mut at = db.checkpoint("inbox");
        while at < end {
            let through = (at + size).min(end);
            let p = plan_on(db, events, "inbox", at, through);
            land(db, &p);
            at = through;
        }
        assert_eq!(db.checkpoint("inbox"), end);
    }

    /// The rows one projector leaves after `end` events in batches of one.
    fn reference(events: &[(u64, Vec<Write>)], end: u64) -> lww::State {
        let mut db = Tables::new();
        run(&mut db, events, 1, end);
        db.state()
    }

    fn inbox_seqs(state: &lww::State, who: &str) -> Vec<u64> {
        state
            .keys()
            .filter(|(table, key)| table == "inbox" && key[1] == lww::V::Text(who.to_owned()))
            .map(|(_, key)| match key[3] {
                lww::V::Int(n) => n as u64,
                _ => unreachable!(),
            })
            .collect()
    }

    /// Panics with the rows that differ, blobs decoded.
    #[track_caller]
    fn assert_same(actual: &lww::State, expected: &lww::State, context: &str) {
        if actual == expected {
            return;
        }
        let show = |row: Option<&BTreeMap<String, lww::V>>| -> String {
            let Some(row) = row else {
                return "no row".into();
            };
            row.iter()
                .map(|(c, v)| match v {
                    lww::V::Blob(b) => {
                        let json: serde_json::Value = rmp_serde::from_slice(b).unwrap();
                        format!("{c}={json}")
                    }
                    other => format!("{c}={other:?}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let keys: BTreeSet<_> = actual.keys().chain(expected.keys()).collect();
        let diff: Vec<String> = keys
            .into_iter()
            .filter(|k| actual.get(*k) != expected.get(*k))
            .map(|k| {
                format!(
                    "{k:?}\n    got:      {}\n    expected: {}",
                    show(actual.get(k)),
                    show(expected.get(k))
                )
            })
            .collect();
        panic!("{context}: {} rows differ\n{}", diff.len(), diff.join("\n"));
    }

    const SEEDS: u64 = 40;
    const EVENTS: u64 = 60;

    #[test]
    fn batch_boundaries_do_not_change_the_rows() {
        for seed in 0..SEEDS {
            let events = stream(seed, EVENTS);
            let expected = reference(&events, EVENTS);
            // Sanity: every user's inbox is gapless, 1..=n.
            for who in ["alice", "bob", "carol"] {
                let seqs = inbox_seqs(&expected, who);
                assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
            }
            for size in [2, 7, EVENTS] {
                let mut db = Tables::new();
                run(&mut db, &events, size, EVENTS);
                assert_same(
                    &db.state(),
                    &expected,
                    &format!("seed {seed}, batches of {size}"),
                );
            }
        }
    }

    /// A batch that crashed part way (every earlier phase written, a part of its own) is
    /// applied again from the checkpoint by the next owner, with other batch boundaries.
    #[test]
    fn a_batch_cut_short_and_repeated_with_other_boundaries_converges() {
        for seed in 0..SEEDS {
            let events = stream(seed, EVENTS);
            let expected = reference(&events, EVENTS);
            for (crash_phase, kept) in [(1, 0), (1, 3), (2, 0), (2, 2), (2, 1)] {
                let mut db = Tables::new();
                run(&mut db, &events, 5, 20);
                let p = plan_on(&db, &events, "inbox", 20, 33);
                for (i, phase) in in_order(&p).into_iter().enumerate() {
                    match i.cmp(&crash_phase) {
                        std::cmp::Ordering::Less => phase.iter().for_each(|w| db.execute(w)),
                        // Every `kept`-th write of the phase landed (all but the checkpoint).
                        std::cmp::Ordering::Equal if kept > 0 => {
                            phase.iter().step_by(kept).for_each(|w| db.execute(w))
                        }
                        _ => {}
                    }
                }
                assert_eq!(db.checkpoint("inbox"), 20);
                run(&mut db, &events, 3, EVENTS);
                let context = format!("seed {seed}, crash in phase {crash_phase}, every {kept}th");
                assert_same(&db.state(), &expected, &context);
            }
        }
    }

    /// An instance whose lease lapsed inside a store call writes its batch late, after the
    /// next owner has applied the same events (and possibly more) with other boundaries.
    #[test]
    fn a_late_batch_from_the_previous_owner_changes_nothing() {
        for seed in 0..SEEDS {
            let events = stream(seed, EVENTS);
            let expected = reference(&events, EVENTS);
            // The new owner is at 26 (behind the late batch's 30) or at 44 (past it).
            for lands_at in [26, 44] {
                let mut db = Tables::new();
                run(&mut db, &events, 4, 20);
                let late = plan_on(&db, &events, "inbox", 20, 30);
                run(&mut db, &events, 3, 23);
                run(&mut db, &events, 3, lands_at);
                land(&mut db, &late);
                assert_eq!(db.checkpoint("inbox"), lands_at.max(30));
                run(&mut db, &events, 4, EVENTS);
                assert_same(
                    &db.state(),
                    &expected,
                    &format!("seed {seed}, late at {lands_at}"),
                );
            }
        }
    }

    /// A new partition layout starts from an older checkpoint and replays what is stored.
    #[test]
    fn a_replay_from_an_older_checkpoint_changes_nothing() {
        for seed in 0..SEEDS {
            let events = stream(seed, EVENTS);
            let expected = reference(&events, EVENTS);
            let mut db = Tables::new();
            run(&mut db, &events, 6, EVENTS);
            let mut at = 0;
            while at < EVENTS {
                let through = (at + 5).min(EVENTS);
                let p = plan_on(&db, &events, "inbox.p0of2", at, through);
                land(&mut db, &p);
                at = through;
            }
            let mut state = db.state();
            state.retain(|(table, key), _| {
                !(table == "checkpoints" && key[0] == lww::V::Text("inbox.p0of2".into()))
            });
            assert_same(&state, &expected, &format!("seed {seed}"));
            assert_eq!(db.checkpoint("inbox.p0of2"), EVENTS);
        }
    }

    /// The failure the stream stamps remove: the previous owner's clock ahead of the new
    /// owner's. With clock timestamps the new owner's inbox heads lose to the old ones, its
    /// next batches number from a stale head and reuse seqs; with stream stamps the same
    /// handover is exact.
    #[test]
    fn a_clock_behind_the_previous_owner_would_reuse_inbox_seqs() {
        let events = stream(7, EVENTS);
        let expected = reference(&events, EVENTS);
        let handover = |clocks: Option<(i64, i64)>| {
            let mut db = Tables::new();
            let mut at = 0;
            let mut tick = 0;
            while at < EVENTS {
                let through = (at + 4).min(EVENTS);
                let mut p = plan_on(&db, &events, "inbox", at, through);
                if let Some((old_owner, new_owner)) = clocks {
                    let clock = if at < 24 { old_owner } else { new_owner };
                    for w in p
                        .directories
                        .iter_mut()
                        .chain(&mut p.rows)
                        .chain(&mut p.pointers)
                        .chain([&mut p.checkpoint])
                    {
                        tick += 1;
                        w.ts = clock + tick;
                    }
                }
                land(&mut db, &p);
                at = through;
            }
            db.state()
        };
        assert_eq!(handover(None), expected);
        // The new owner's clock one second behind: rows the old owner wrote stop changing.
        let skewed = handover(Some((1_750_000_000_000_000, 1_749_999_999_000_000)));
        assert_ne!(skewed, expected);
        let heads = |state: &lww::State| -> Vec<lww::V> {
            state
                .iter()
                .filter(|((table, _), _)| table == "inbox_head")
                .map(|(_, row)| row["seq"].clone())
                .collect()
        };
        assert_ne!(
            heads(&skewed),
            heads(&expected),
            "heads stuck at the handover"
        );
    }
}
