//! The Scylla side of the digest: each event-derived table read whole (paged, in token order:
//! the digest, `tidings_store::digest`, needs no order) and each row mapped to its logical
//! row. Inbox messages are references to the timeline in both stores (rows written whole
//! before that are hashed as the reference they stand for). The bucket directories (`timeline_buckets`,
//! `users_by_cursor_buckets`) only locate rows and are not part of the digest.

use crate::error::db;
use crate::store::{ScyllaStore, decode, seq};
use futures_util::TryStreamExt;
use scylla::deserialize::row::DeserializeRow;
use scylla::statement::prepared::PreparedStatement;
use tidings_store::ReactionMark;
use tidings_store::digest::{LogicalRow, Table};
use tidings_store::inbox_row;
use tidings_store::plan::Head;
use tidings_store::ports::StoreResult;

type Data3 = (String, String, Vec<u8>);
type Data4 = (String, String, String, Vec<u8>);

fn inbox((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::inbox(&app, &user, inbox_row::decode(&data)?))
}

fn inbox_head((app, user, s, cursor): (String, String, i64, i64)) -> StoreResult<LogicalRow> {
    let head = Head {
        seq: seq(s)?,
        cursor: seq(cursor)?,
    };
    Ok(LogicalRow::inbox_head(&app, &user, head))
}

fn conversation((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::conversation(&app, &user, decode(&data)?))
}

fn timeline(
    (app, conv, conv_seq, data): (String, String, i64, Vec<u8>),
) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::timeline(&app, &conv, seq(conv_seq)?, &data))
}

fn user((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::user(&app, &user, &data))
}

fn user_change((app, cursor, user): (String, i64, String)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::user_change(&app, seq(cursor)?, &user))
}

fn relation((app, user, other, data): Data4) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::relation(&app, &user, &other, &data))
}

fn group((app, group, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::group(&app, &group, &data))
}

fn member((app, group, user, data): Data4) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::member(&app, &group, &user, &data))
}

fn user_group((app, user, group, data): Data4) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::user_group(&app, &user, &group, &data))
}

fn hidden((app, user, conv, conv_seq): (String, String, String, i64)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::hidden(&app, &user, &conv, seq(conv_seq)?))
}

fn cleared((app, user, conv, up_to): (String, String, String, i64)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::cleared(&app, &user, &conv, seq(up_to)?))
}

fn reaction((app, data): (String, Vec<u8>)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::reaction(&app, &decode(&data)?))
}

type MarkRow = (String, String, String, i64, String, String, bool, i64);

fn reaction_mark(
    (app, user, conv, conv_seq, rkey, reactor, added, cursor): MarkRow,
) -> StoreResult<LogicalRow> {
    let mark = ReactionMark {
        added,
        cursor: seq(cursor)?,
    };
    Ok(LogicalRow::reaction_mark(
        &app,
        &user,
        &conv,
        seq(conv_seq)?,
        &rkey,
        &reactor,
        mark,
    ))
}

fn pin((app, conv, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::pin(&app, &conv, &decode(&data)?))
}

fn settings((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::settings(&app, &user, &decode(&data)?))
}

fn device((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::device(&app, &user, &decode(&data)?))
}

fn device_read((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::device_read(&app, &user, &decode(&data)?))
}

fn push((app, user, data): Data3) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::push(&app, &user, &decode(&data)?))
}

fn user_tag((app, user, tag, since): (String, String, String, i64)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::user_tag(&app, &user, &tag, seq(since)?))
}

fn tag_user((app, tag, user, since): (String, String, String, i64)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::tag_user(&app, &tag, &user, seq(since)?))
}

fn broadcast((app, bseq, data): (String, i64, Vec<u8>)) -> StoreResult<LogicalRow> {
    Ok(LogicalRow::broadcast(&app, seq(bseq)?, &data))
}

impl ScyllaStore {
    /// Visits every row `statement` (a whole-table scan) returns, page by page.
    async fn each<R>(
        &self,
        statement: &PreparedStatement,
        row: fn(R) -> StoreResult<LogicalRow>,
        visit: &mut (dyn FnMut(LogicalRow) + Send),
    ) -> StoreResult<()>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm> + Send + 'static,
    {
        let mut rows = self
            .inner
            .session
            .execute_iter(statement.clone(), ())
            .await
            .map_err(db)?
            .rows_stream::<R>()
            .map_err(db)?;
        while let Some(found) = rows.try_next().await.map_err(db)? {
            visit(row(found)?);
        }
        Ok(())
    }

    pub(crate) async fn scan_table(
        &self,
        table: Table,
        visit: &mut (dyn FnMut(LogicalRow) + Send),
    ) -> StoreResult<()> {
        let st = &self.inner.st;
        match table {
            Table::Inbox => self.each(&st.scan_inbox, inbox, visit).await,
            Table::InboxHead => self.each(&st.scan_inbox_head, inbox_head, visit).await,
            Table::Conversations => self.each(&st.scan_conversations, conversation, visit).await,
            Table::Timeline => self.each(&st.scan_timeline, timeline, visit).await,
            Table::Users => self.each(&st.scan_users, user, visit).await,
            Table::UsersByCursor => {
                self.each(&st.scan_users_by_cursor, user_change, visit)
                    .await
            }
            Table::Relations => self.each(&st.scan_relations, relation, visit).await,
            Table::Groups => self.each(&st.scan_groups, group, visit).await,
            Table::Members => self.each(&st.scan_members, member, visit).await,
            Table::UserGroups => self.each(&st.scan_user_groups, user_group, visit).await,
            Table::Hidden => self.each(&st.scan_hidden, hidden, visit).await,
            Table::Cleared => self.each(&st.scan_cleared, cleared, visit).await,
            Table::Reactions => self.each(&st.scan_reactions, reaction, visit).await,
            Table::ReactionMarks => {
                self.each(&st.scan_reaction_marks, reaction_mark, visit)
                    .await
            }
            Table::Pins => self.each(&st.scan_pins, pin, visit).await,
            Table::Settings => self.each(&st.scan_settings, settings, visit).await,
            Table::Devices => self.each(&st.scan_user_devices, device, visit).await,
            Table::DeviceReads => self.each(&st.scan_device_reads, device_read, visit).await,
            Table::Push => self.each(&st.scan_push, push, visit).await,
            Table::UserTags => self.each(&st.scan_user_tags, user_tag, visit).await,
            Table::TagUsers => self.each(&st.scan_tag_users, tag_user, visit).await,
            Table::Broadcasts => self.each(&st.scan_broadcasts, broadcast, visit).await,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The same state as the embedded store holds it, in the rows Scylla keeps (whole inbox
    //! entries, head columns, change-feed columns) and listed in another order, maps to the
    //! logical rows of the embedded store's digest.

    use super::*;
    use crate::store::encode;
    use tidings_domain::event::UserProfile;
    use tidings_domain::group::{JoinPolicy, Role};
    use tidings_domain::{AppId, Body, ConvId, GroupId, MessageId, Recipient, UserId};
    use tidings_store::digest::{TableDigest, finish};
    use tidings_store::{
        AnnotationStore, ConversationStore, Diffusion, EntryItem, FjallStore, GroupRow, GroupStore,
        HiddenStore, InboxStore, MemberRow, MessageView, PinRow, ProjectionStore, ReactionNotice,
        RelationPatch, RelationStore, UserStore, Write,
    };

    fn app() -> AppId {
        AppId::parse("demo").unwrap()
    }

    fn user_id(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn message(from: &str, to: &str, conv_seq: u64) -> MessageView {
        let (from, to) = (user_id(from), user_id(to));
        MessageView::sent(
            ConvId::direct(&from, &to),
            conv_seq,
            MessageId::parse(format!("019b7b1c-3a00-7000-8000-{conv_seq:012}")).unwrap(),
            from,
            Recipient::User(to),
            Body::Text {
                text: format!("m{conv_seq}"),
            },
        )
    }

    /// A state that crosses bucket boundaries and has ids that prefix one another.
    fn writes() -> Vec<Write> {
        let mut writes = Vec::new();
        let mut cursor = 0;
        let mut send = |writes: &mut Vec<Write>, from: &str, to: &str, conv_seq: u64| {
            cursor += 1;
            let m = std::sync::Arc::new(message(from, to, conv_seq));
            writes.push(Write::Timeline {
                app: app(),
                ts: cursor as i64,
                message: m.clone(),
            });
            for u in [from, to] {
                writes.push(Write::Deliver {
                    app: app(),
                    user: user_id(u),
                    ts: cursor as i64,
                    item: EntryItem::Message(m.clone()),
                    cursor,
                });
                writes.push(Write::ConversationMessage {
                    app: app(),
                    user: user_id(u),
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
            user: user_id("bob"),
            conv: ConvId::direct(&user_id("alice"), &user_id("bob")),
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
                    user: user_id(id),
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
                user: user_id(owner),
                other: user_id(other),
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
                    owner: user_id("alice"),
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
                        user: user_id(u),
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
            user: user_id("bob"),
            cursor: 250_004,
        });
        for (who, conv_seq) in [("bob", 7), ("bob", 1_001), ("alice", 3)] {
            writes.push(Write::Hide {
                app: app(),
                user: user_id(who),
                conv: ConvId::direct(&user_id("alice"), &user_id("bob")),
                conv_seq,
            });
        }
        writes.push(Write::Clear {
            app: app(),
            user: user_id("bob"),
            conv: ConvId::direct(&user_id("bob"), &user_id("carol")),
            up_to: 1,
        });
        // Reactions on a message of each timeline bucket, told to alice; two pins.
        let conv = ConvId::direct(&user_id("alice"), &user_id("bob"));
        for (conv_seq, key) in [(1, "ok"), (1_500, "👍")] {
            let notice = ReactionNotice {
                conv: conv.clone(),
                conv_seq,
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
                user: user_id("bob"),
                key: key.into(),
                added: true,
            };
            writes.push(Write::Reaction {
                app: app(),
                notice: notice.clone(),
                ts: 7,
            });
            writes.push(Write::ReactionEntry {
                app: app(),
                user: user_id("alice"),
                notice,
                ts: 7,
                cursor: 250_004,
            });
        }
        for conv_seq in [2, 3] {
            writes.push(Write::Pin {
                app: app(),
                conv: conv.clone(),
                conv_seq,
                row: Some(PinRow {
                    conv_seq,
                    msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000002").unwrap(),
                    by: Some(user_id("bob")),
                    ts: 8,
                }),
            });
        }
        writes
    }

    /// Adds rows to a table's digest in reverse, as a token-ordered scan may list them.
    fn add<R>(
        tables: &mut Vec<(Table, TableDigest)>,
        table: Table,
        rows: Vec<R>,
        map: fn(R) -> StoreResult<LogicalRow>,
    ) {
        let mut d = TableDigest::default();
        for r in rows.into_iter().rev() {
            d.add(&map(r).unwrap());
        }
        tables.push((table, d));
    }

    #[tokio::test]
    async fn scylla_rows_digest_as_the_embedded_store() {
        let dir = tempfile::tempdir().unwrap();
        let fjall = FjallStore::open(dir.path()).unwrap();
        fjall.apply("p", 250_004, writes()).await.unwrap();
        let a = || app().as_str().to_owned();
        let users = ["alice", "bo", "bob", "carol"];
        let convs = [("alice", "bob"), ("bo", "bob"), ("bob", "carol")];
        // The stream sequence of each user's last delivery (alice's: the reactions').
        let head_cursor = |u: &str| match u {
            "alice" => 250_004,
            "bo" => 1_004,
            _ => 1_005,
        };
        let (mut inbox_rows, mut heads, mut conversations) = (Vec::new(), Vec::new(), Vec::new());
        let (mut relations, mut user_groups) = (Vec::new(), Vec::new());
        let (mut user_rows, mut by_cursor) = (Vec::new(), Vec::new());
        let (mut hidden_rows, mut cleared_rows) = (Vec::new(), Vec::new());
        for u in users {
            for (x, y) in convs {
                let conv = ConvId::direct(&user_id(x), &user_id(y));
                let c = conv.as_str().to_owned();
                for s in fjall
                    .hidden_between(&app(), &user_id(u), &conv, 0, u64::MAX)
                    .await
                    .unwrap()
                {
                    hidden_rows.push((a(), u.to_owned(), c.clone(), s as i64));
                }
                let mark = fjall.removal_mark(&app(), &user_id(u), &conv).await;
                if let Some(up_to) = mark.unwrap() {
                    cleared_rows.push((a(), u.to_owned(), c, up_to as i64));
                }
            }
            for e in fjall
                .inbox_after(&app(), &user_id(u), 0, usize::MAX)
                .await
                .unwrap()
            {
                inbox_rows.push((a(), u.to_owned(), encode(&e)));
            }
            let last = fjall.inbox_last_seq(&app(), &user_id(u)).await.unwrap();
            if last > 0 {
                heads.push((a(), u.to_owned(), last as i64, head_cursor(u)));
            }
            for mut c in fjall.conversations(&app(), &user_id(u)).await.unwrap() {
                // Stored rows carry no body: reads join it from the timeline.
                c.last_message = None;
                conversations.push((a(), u.to_owned(), encode(&c)));
            }
            for r in fjall.relations(&app(), &user_id(u)).await.unwrap() {
                relations.push((a(), u.to_owned(), r.user.as_str().to_owned(), encode(&r)));
            }
            for g in fjall.user_groups(&app(), &user_id(u)).await.unwrap() {
                let group_id = g.group.as_str().to_owned();
                user_groups.push((a(), u.to_owned(), group_id, encode(&g)));
            }
            if let Some(row) = fjall.user(&app(), &user_id(u)).await.unwrap() {
                by_cursor.push((a(), row.cursor as i64, u.to_owned()));
                user_rows.push((a(), u.to_owned(), encode(&row)));
            }
        }
        let mut timeline_rows = Vec::new();
        for (x, y) in convs {
            let conv = ConvId::direct(&user_id(x), &user_id(y));
            for m in fjall
                .messages_before(&app(), &conv, None, usize::MAX)
                .await
                .unwrap()
            {
                let (conv, conv_seq) = (conv.as_str().to_owned(), m.message.conv_seq as i64);
                timeline_rows.push((a(), conv, conv_seq, encode(&m)));
            }
        }
        let (mut groups, mut members) = (Vec::new(), Vec::new());
        for id in ["tea", "team"] {
            let group_id = GroupId::parse(id).unwrap();
            let row = fjall.group(&app(), &group_id).await.unwrap().unwrap();
            groups.push((a(), id.to_owned(), encode(&row)));
            for m in fjall
                .members(&app(), &group_id, None, usize::MAX)
                .await
                .unwrap()
            {
                members.push((a(), id.to_owned(), m.user.as_str().to_owned(), encode(&m)));
            }
        }
        assert!(inbox_rows.len() > 2_000 && timeline_rows.len() > 1_000 && by_cursor.len() == 3);
        assert_eq!((hidden_rows.len(), cleared_rows.len()), (3, 3));

        let mut tables = Vec::new();
        add(&mut tables, Table::Inbox, inbox_rows, inbox);
        add(&mut tables, Table::InboxHead, heads, inbox_head);
        add(
            &mut tables,
            Table::Conversations,
            conversations,
            conversation,
        );
        add(&mut tables, Table::Timeline, timeline_rows, timeline);
        add(&mut tables, Table::Users, user_rows, user);
        add(&mut tables, Table::UsersByCursor, by_cursor, user_change);
        add(&mut tables, Table::Relations, relations, relation);
        add(&mut tables, Table::Groups, groups, group);
        add(&mut tables, Table::Members, members, member);
        add(&mut tables, Table::UserGroups, user_groups, user_group);
        add(&mut tables, Table::Hidden, hidden_rows, hidden);
        add(&mut tables, Table::Cleared, cleared_rows, cleared);
        let conv = ConvId::direct(&user_id("alice"), &user_id("bob"));
        let reactions: Vec<(String, Vec<u8>)> = fjall
            .reactions(&app(), &conv, 1, u64::MAX - 1)
            .await
            .unwrap()
            .iter()
            .map(|r| (a(), encode(r)))
            .collect();
        assert_eq!(reactions.len(), 2);
        add(&mut tables, Table::Reactions, reactions, reaction);
        let marks: Vec<MarkRow> = [(1, "ok"), (1_500, "👍")]
            .iter()
            .map(|(conv_seq, key)| {
                let conv = conv.as_str().to_owned();
                let (who, reactor) = ("alice".to_owned(), "bob".to_owned());
                (
                    a(),
                    who,
                    conv,
                    *conv_seq,
                    key.to_string(),
                    reactor,
                    true,
                    250_004,
                )
            })
            .collect();
        add(&mut tables, Table::ReactionMarks, marks, reaction_mark);
        let pins: Vec<Data3> = fjall
            .pins(&app(), &conv)
            .await
            .unwrap()
            .iter()
            .map(|p| (a(), conv.as_str().to_owned(), encode(p)))
            .collect();
        add(&mut tables, Table::Pins, pins, pin);
        assert_eq!(finish(&tables), fjall.digest().await.unwrap());
    }
}
