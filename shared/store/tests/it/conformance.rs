//! Behaviour every `ReadModels` adapter must show. Each check takes a fresh, empty store.

use tidings_domain::event::UserProfile;
use tidings_domain::group::{JoinPolicy, Role};
use tidings_domain::{
    AppId, Attachment, Body, ConvId, FileId, GroupId, MessageId, Recipient, UserId,
};
use tidings_store::{
    Diffusion, Direction, EntryItem, MemberRow, MessageView, ReadModels, RelationPatch, Write,
};

pub fn app() -> AppId {
    AppId::parse("demo").unwrap()
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
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

/// The writes the projector makes for one direct message, the event at stream sequence `cursor`.
pub fn direct_message(from: &str, to: &str, conv_seq: u64, cursor: u64) -> Vec<Write> {
    let m = message(from, to, conv_seq);
    let ts = 1_000 + conv_seq as i64;
    let mut writes = vec![Write::Timeline {
        app: app(),
        ts,
        message: m.clone(),
    }];
    for u in [from, to] {
        writes.push(Write::Deliver {
            app: app(),
            user: user(u),
            ts,
            item: EntryItem::Message(m.clone()),
            cursor,
        });
        writes.push(Write::ConversationMessage {
            app: app(),
            user: user(u),
            ts,
            message: m.clone(),
        });
    }
    writes
}

pub async fn inbox_numbering_is_gapless_across_batches<S: ReadModels>(store: S) {
    let delivered = store
        .apply("p", 1, direct_message("alice", "bob", 1, 1))
        .await
        .unwrap();
    assert_eq!(
        delivered
            .iter()
            .map(|d| (d.user.as_str(), d.entry.seq))
            .collect::<Vec<_>>(),
        [("alice", 1), ("bob", 1)]
    );
    let mut writes = direct_message("alice", "bob", 2, 2);
    writes.extend(direct_message("carol", "bob", 1, 3));
    let delivered = store.apply("p", 3, writes).await.unwrap();
    let bob: Vec<u64> = delivered
        .iter()
        .filter(|d| d.user.as_str() == "bob")
        .map(|d| d.entry.seq)
        .collect();
    assert_eq!(bob, [2, 3]);

    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 3);
    assert_eq!(
        store.inbox_last_seq(&app(), &user("nobody")).await.unwrap(),
        0
    );
    let all = store
        .inbox_after(&app(), &user("bob"), 0, 100)
        .await
        .unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let page = store.inbox_after(&app(), &user("bob"), 1, 1).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
    assert!(
        store
            .inbox_after(&app(), &user("bob"), 3, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A user's inbox never shows another user's rows, even with a shared id prefix.
    let delivered = store
        .apply("p", 4, direct_message("bo", "alice", 1, 4))
        .await
        .unwrap();
    assert_eq!(delivered[0].entry.seq, 1);
    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 3);
}

/// A partitioned projector may write a user's entry for a message before (another partition)
/// writes the message's timeline row; once both are written the entry reads back whole.
pub async fn message_entries_read_back_whole_whichever_batch_wrote_the_timeline<S: ReadModels>(
    store: S,
) {
    let writes = direct_message("alice", "bob", 1, 1);
    let (timeline, rest): (Vec<Write>, Vec<Write>) = writes
        .into_iter()
        .partition(|w| matches!(w, Write::Timeline { .. }));
    store.apply("p", 1, rest).await.unwrap();
    store.apply("p", 1, timeline).await.unwrap();
    let entries = store
        .inbox_after(&app(), &user("bob"), 0, 10)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].seq, 1);
    assert_eq!(entries[0].ts, 1_001);
    assert_eq!(
        entries[0].item,
        EntryItem::Message(message("alice", "bob", 1))
    );
}

/// File and image bodies (message_sent v3) read back as written from the inbox, the timeline
/// and the conversation row's last message.
pub async fn file_bodies_read_back_whole<S: ReadModels>(store: S) {
    let attachment = |mime: &str, width| Attachment {
        file_id: FileId::parse("019b7b1c-3a00-7000-8000-0000000000f1").unwrap(),
        name: "cat.png".into(),
        size: 48_213,
        mime: mime.into(),
        width,
        height: width.map(|w| w / 2),
    };
    let bodies = [
        Body::Image(Box::new(attachment("image/png", Some(640)))),
        Body::File(Box::new(attachment("application/pdf", None))),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let conv_seq = i as u64 + 1;
        let writes = direct_message("alice", "bob", conv_seq, conv_seq)
            .into_iter()
            .map(|mut w| {
                match &mut w {
                    Write::Timeline { message, .. }
                    | Write::ConversationMessage { message, .. } => message.body = body.clone(),
                    Write::Deliver {
                        item: EntryItem::Message(message),
                        ..
                    } => message.body = body.clone(),
                    _ => {}
                }
                w
            })
            .collect();
        store.apply("p", conv_seq, writes).await.unwrap();
    }
    let entries = store
        .inbox_after(&app(), &user("bob"), 0, 10)
        .await
        .unwrap();
    let inbox: Vec<&Body> = entries
        .iter()
        .map(|e| match &e.item {
            EntryItem::Message(m) => &m.body,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(inbox, bodies.iter().collect::<Vec<_>>());
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let history = store
        .messages_before(&app(), &conv, None, 10)
        .await
        .unwrap();
    assert_eq!(history[0].message.body, bodies[1]);
    assert_eq!(history[1].message.body, bodies[0]);
    let row = store
        .conversation(&app(), &user("bob"), &conv)
        .await
        .unwrap();
    assert_eq!(row.unwrap().last_message.unwrap().body, bodies[1]);
}

pub async fn checkpoint_moves_with_the_batch<S: ReadModels>(store: S) {
    assert_eq!(store.checkpoint("p").await.unwrap(), 0);
    store
        .apply("p", 7, direct_message("alice", "bob", 1, 7))
        .await
        .unwrap();
    assert_eq!(store.checkpoint("p").await.unwrap(), 7);
    assert_eq!(store.checkpoint("other").await.unwrap(), 0);
    store.apply("p", 9, Vec::new()).await.unwrap();
    assert_eq!(store.checkpoint("p").await.unwrap(), 9);
}

pub async fn conversation_rows_track_unread<S: ReadModels>(store: S) {
    let mut writes = direct_message("alice", "bob", 1, 1);
    writes.extend(direct_message("alice", "bob", 2, 2));
    store.apply("p", 2, writes).await.unwrap();
    let conv = ConvId::direct(&user("alice"), &user("bob"));

    let bob = store.conversations(&app(), &user("bob")).await.unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].conv, conv);
    assert_eq!(bob[0].peer, Some(user("alice")));
    assert_eq!((bob[0].last_seq, bob[0].read_seq, bob[0].unread), (2, 0, 2));

    let alice = store
        .conversation(&app(), &user("alice"), &conv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.peer, Some(user("bob")));
    assert_eq!((alice.last_seq, alice.read_seq, alice.unread), (2, 2, 0));

    // bob replies: his row is read up to his reply, alice now has one unread.
    store
        .apply("p", 3, direct_message("bob", "alice", 3, 3))
        .await
        .unwrap();
    let bob = store
        .conversation(&app(), &user("bob"), &conv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bob.last_seq, bob.read_seq, bob.unread), (3, 3, 0));
    let alice = store
        .conversation(&app(), &user("alice"), &conv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((alice.last_seq, alice.read_seq, alice.unread), (3, 2, 1));
    // The newest message comes with the row (joined from the timeline).
    let last = alice.last_message.expect("the newest message");
    assert_eq!((last.conv_seq, last.from.as_str()), (3, "bob"));
    let listed = store.conversations(&app(), &user("alice")).await.unwrap();
    assert_eq!(listed[0].last_message.as_ref().map(|m| m.conv_seq), Some(3));

    assert!(
        store
            .conversation(&app(), &user("carol"), &conv)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn timeline_pages_newest_first<S: ReadModels>(store: S) {
    let writes = (1..=5)
        .flat_map(|s| direct_message("alice", "bob", s, s))
        .collect();
    store.apply("p", 5, writes).await.unwrap();
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let page = store.messages_before(&app(), &conv, None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|m| m.message.conv_seq).collect::<Vec<_>>(),
        [5, 4]
    );
    let page = store
        .messages_before(&app(), &conv, Some(4), 10)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.message.conv_seq).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    let other = ConvId::direct(&user("alice"), &user("carol"));
    assert!(
        store
            .messages_before(&app(), &other, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn users_and_devices<S: ReadModels>(store: S) {
    let profile = UserProfile {
        app: app(),
        user: user("alice"),
        name: "Alice".into(),
        avatar_url: None,
        extra: Some(serde_json::json!({"a": 1})),
        version: 1,
        ts: 5,
    };
    store
        .apply(
            "p",
            1,
            vec![Write::PutUser {
                profile: profile.clone(),
                cursor: 1,
            }],
        )
        .await
        .unwrap();
    let row = store.user(&app(), &user("alice")).await.unwrap().unwrap();
    assert_eq!(
        (row.profile, row.cursor, row.deactivated),
        (profile, 1, false)
    );
    assert_eq!(store.user(&app(), &user("bob")).await.unwrap(), None);

    store
        .ack_device(&app(), &user("alice"), "phone", 5)
        .await
        .unwrap();
    store
        .ack_device(&app(), &user("alice"), "phone", 3)
        .await
        .unwrap();
    assert_eq!(
        store
            .device_ack(&app(), &user("alice"), "phone")
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        store
            .device_ack(&app(), &user("alice"), "laptop")
            .await
            .unwrap(),
        0
    );
}

pub async fn digest_reflects_state<S: ReadModels>(a: S, b: S) {
    assert_eq!(a.digest().await.unwrap(), b.digest().await.unwrap());
    for store in [&a, &b] {
        store
            .apply("p", 1, direct_message("alice", "bob", 1, 1))
            .await
            .unwrap();
    }
    assert_eq!(a.digest().await.unwrap(), b.digest().await.unwrap());
    // Device positions are not event-derived and do not count.
    a.ack_device(&app(), &user("bob"), "phone", 1)
        .await
        .unwrap();
    assert_eq!(a.digest().await.unwrap(), b.digest().await.unwrap());
    a.apply("p", 2, direct_message("alice", "bob", 2, 2))
        .await
        .unwrap();
    assert_ne!(a.digest().await.unwrap(), b.digest().await.unwrap());
}

fn put_user(id: &str, cursor: u64) -> Write {
    Write::PutUser {
        profile: UserProfile {
            app: app(),
            user: user(id),
            name: id.into(),
            avatar_url: None,
            extra: None,
            version: 1,
            ts: 1,
        },
        cursor,
    }
}

pub async fn users_changed_follows_cursors<S: ReadModels>(store: S) {
    store
        .apply(
            "p",
            3,
            vec![
                put_user("alice", 1),
                put_user("bob", 2),
                put_user("carol", 3),
            ],
        )
        .await
        .unwrap();
    let names = |rows: Vec<tidings_store::UserRow>| -> Vec<String> {
        rows.into_iter()
            .map(|r| r.profile.user.to_string())
            .collect()
    };
    assert_eq!(
        names(store.users_changed(&app(), 0, 10).await.unwrap()),
        ["alice", "bob", "carol"]
    );
    assert_eq!(
        names(store.users_changed(&app(), 1, 1).await.unwrap()),
        ["bob"]
    );
    // alice changes again (status and profile in one batch): she moves to the end, once.
    let status = Write::UserStatus {
        app: app(),
        user: user("alice"),
        deactivated: Some(true),
        token_epoch: Some(2),
        cursor: 4,
    };
    store
        .apply("p", 5, vec![status, put_user("alice", 5)])
        .await
        .unwrap();
    assert_eq!(
        names(store.users_changed(&app(), 0, 10).await.unwrap()),
        ["bob", "carol", "alice"]
    );
    let alice = store.user(&app(), &user("alice")).await.unwrap().unwrap();
    assert_eq!(
        (alice.deactivated, alice.token_epoch, alice.cursor),
        (true, 2, 5)
    );
    assert!(store.users_changed(&app(), 5, 10).await.unwrap().is_empty());
}

pub async fn relations_apply_patches<S: ReadModels>(store: S) {
    let relation = |owner: &str, other: &str, patch: RelationPatch, cursor: u64| Write::Relation {
        app: app(),
        user: user(owner),
        other: user(other),
        patch,
        ts: cursor as i64,
        cursor,
    };
    let request = |d| RelationPatch {
        request: Some(Some((d, Some("hi".into())))),
        ..Default::default()
    };
    store
        .apply(
            "p",
            1,
            vec![
                relation("alice", "bob", request(Direction::Out), 1),
                relation("bob", "alice", request(Direction::In), 1),
            ],
        )
        .await
        .unwrap();
    let bob = store.relations(&app(), &user("bob")).await.unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(
        (bob[0].request, bob[0].note.as_deref(), bob[0].friend),
        (Some(Direction::In), Some("hi"), false)
    );

    let accept = RelationPatch {
        friend: Some(true),
        request: Some(None),
        ..Default::default()
    };
    let block = RelationPatch {
        blocked: Some(true),
        ..Default::default()
    };
    store
        .apply(
            "p",
            3,
            vec![
                relation("alice", "bob", accept.clone(), 2),
                relation("bob", "alice", accept, 2),
                relation("bob", "alice", block, 3),
            ],
        )
        .await
        .unwrap();
    let bob = store.relations(&app(), &user("bob")).await.unwrap();
    assert_eq!(
        (bob[0].friend, bob[0].request, bob[0].blocked, bob[0].cursor),
        (true, None, true, 3)
    );
    let alice = store.relations(&app(), &user("alice")).await.unwrap();
    assert_eq!(
        (alice[0].friend, alice[0].blocked, alice[0].note.clone()),
        (true, false, None)
    );
    assert!(
        store
            .relations(&app(), &user("carol"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A batch applied again (after a crash between rows and checkpoint, or by a new partition
/// layout starting from an older checkpoint) changes nothing and pushes nothing.
pub async fn repeated_writes_change_nothing<S: ReadModels>(store: S) {
    let mut writes = direct_message("alice", "bob", 1, 1);
    writes.extend(direct_message("alice", "bob", 2, 2));
    store.apply("p", 2, writes.clone()).await.unwrap();
    let digest = store.digest().await.unwrap();

    assert!(store.apply("p", 2, writes).await.unwrap().is_empty());
    assert_eq!(store.digest().await.unwrap(), digest);

    // A batch that overlaps what was applied delivers only what is new.
    let mut writes = direct_message("alice", "bob", 2, 2);
    writes.extend(direct_message("alice", "bob", 3, 3));
    let delivered = store.apply("p", 3, writes).await.unwrap();
    assert_eq!(
        delivered
            .iter()
            .map(|d| (d.user.as_str(), d.entry.seq))
            .collect::<Vec<_>>(),
        [("alice", 3), ("bob", 3)]
    );
    let bob = store
        .conversation(
            &app(),
            &user("bob"),
            &ConvId::direct(&user("alice"), &user("bob")),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bob.last_seq, bob.unread), (3, 3));

    // One event may deliver several entries to one user (a join decided, then the member
    // added): all of them land, and all of them are skipped on a repeat.
    let notice = |text: &str| Write::Deliver {
        app: app(),
        user: user("bob"),
        ts: 9,
        item: EntryItem::System(tidings_store::SystemNotice {
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000999").unwrap(),
            body: Body::Text { text: text.into() },
        }),
        cursor: 4,
    };
    let twice = vec![notice("first"), notice("second")];
    let delivered = store.apply("p", 4, twice.clone()).await.unwrap();
    assert_eq!(
        delivered.iter().map(|d| d.entry.seq).collect::<Vec<_>>(),
        [4, 5]
    );
    assert!(store.apply("p", 4, twice).await.unwrap().is_empty());
    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 5);
}

fn group_row(id: &str, member_count: usize, cursor: u64) -> tidings_store::GroupRow {
    let group = GroupId::parse(id).unwrap();
    tidings_store::GroupRow {
        conv: ConvId::group(&group),
        group,
        name: format!("team {id}"),
        avatar_url: None,
        intro: Some("intro".into()),
        join_policy: JoinPolicy::Open,
        owner: user("alice"),
        member_count,
        muted_all: false,
        announcement: None,
        dismissed: false,
        diffusion: Diffusion::Write,
        created_at: 1,
        cursor,
    }
}

fn member(id: &str, role: Role) -> MemberRow {
    MemberRow {
        user: user(id),
        role,
        muted: false,
        joined_at: 1,
    }
}

pub async fn groups_members_and_user_groups<S: ReadModels>(store: S) {
    let team = GroupId::parse("team").unwrap();
    let put = |m: MemberRow, cursor| Write::PutMember {
        app: app(),
        group: team.clone(),
        member: m,
        cursor,
    };
    store
        .apply(
            "p",
            1,
            vec![
                Write::PutGroup {
                    app: app(),
                    row: group_row("team", 3, 1),
                },
                put(member("alice", Role::Owner), 1),
                put(member("carol", Role::Member), 1),
                put(member("bob", Role::Member), 1),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.group(&app(), &team).await.unwrap(),
        Some(group_row("team", 3, 1))
    );
    let other = GroupId::parse("other").unwrap();
    assert_eq!(store.group(&app(), &other).await.unwrap(), None);
    let ids = |rows: Vec<MemberRow>| -> Vec<String> {
        rows.into_iter().map(|m| m.user.to_string()).collect()
    };
    assert_eq!(
        ids(store.members(&app(), &team, None, 10).await.unwrap()),
        ["alice", "bob", "carol"]
    );
    assert_eq!(
        ids(store
            .members(&app(), &team, Some(&user("alice")), 1)
            .await
            .unwrap()),
        ["bob"]
    );

    // bob becomes an admin, carol leaves: the member list and each user's groups follow.
    let mut admin = member("bob", Role::Admin);
    admin.muted = true;
    store
        .apply(
            "p",
            3,
            vec![
                put(admin.clone(), 2),
                Write::RemoveMember {
                    app: app(),
                    group: team.clone(),
                    user: user("carol"),
                    cursor: 3,
                },
                Write::PutGroup {
                    app: app(),
                    row: group_row("team", 2, 3),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.member(&app(), &team, &user("bob")).await.unwrap(),
        Some(admin)
    );
    assert_eq!(
        store.member(&app(), &team, &user("carol")).await.unwrap(),
        None
    );
    assert_eq!(
        ids(store.members(&app(), &team, None, 10).await.unwrap()),
        ["alice", "bob"]
    );
    assert_eq!(
        store
            .group(&app(), &team)
            .await
            .unwrap()
            .unwrap()
            .member_count,
        2
    );
    let carol = store.user_groups(&app(), &user("carol")).await.unwrap();
    assert_eq!(
        carol,
        [tidings_store::UserGroupRow {
            group: team.clone(),
            role: None,
            cursor: 3
        }]
    );
    let bob = store.user_groups(&app(), &user("bob")).await.unwrap();
    assert_eq!((bob[0].role, bob[0].cursor), (Some(Role::Admin), 2));
    assert!(
        store
            .user_groups(&app(), &user("dave"))
            .await
            .unwrap()
            .is_empty()
    );
}
