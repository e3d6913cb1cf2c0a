//! Behaviour every `ReadModels` adapter must show. Each check takes a fresh, empty store.

use tidings_domain::event::UserProfile;
use tidings_domain::{AppId, Body, ConvId, MessageId, Recipient, UserId};
use tidings_store::{Direction, EntryItem, MessageView, ReadModels, RelationPatch, Write};

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

/// The writes the projector makes for one direct message.
pub fn direct_message(from: &str, to: &str, conv_seq: u64) -> Vec<Write> {
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
        .apply("p", 1, direct_message("alice", "bob", 1))
        .await
        .unwrap();
    assert_eq!(
        delivered
            .iter()
            .map(|d| (d.user.as_str(), d.entry.seq))
            .collect::<Vec<_>>(),
        [("alice", 1), ("bob", 1)]
    );
    let mut writes = direct_message("alice", "bob", 2);
    writes.extend(direct_message("carol", "bob", 1));
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
        .apply("p", 4, direct_message("bo", "alice", 1))
        .await
        .unwrap();
    assert_eq!(delivered[0].entry.seq, 1);
    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 3);
}

pub async fn checkpoint_moves_with_the_batch<S: ReadModels>(store: S) {
    assert_eq!(store.checkpoint("p").await.unwrap(), 0);
    store
        .apply("p", 7, direct_message("alice", "bob", 1))
        .await
        .unwrap();
    assert_eq!(store.checkpoint("p").await.unwrap(), 7);
    assert_eq!(store.checkpoint("other").await.unwrap(), 0);
    store.apply("p", 9, Vec::new()).await.unwrap();
    assert_eq!(store.checkpoint("p").await.unwrap(), 9);
}

pub async fn conversation_rows_track_unread<S: ReadModels>(store: S) {
    let mut writes = direct_message("alice", "bob", 1);
    writes.extend(direct_message("alice", "bob", 2));
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
        .apply("p", 3, direct_message("bob", "alice", 3))
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
        .flat_map(|s| direct_message("alice", "bob", s))
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
            .apply("p", 1, direct_message("alice", "bob", 1))
            .await
            .unwrap();
    }
    assert_eq!(a.digest().await.unwrap(), b.digest().await.unwrap());
    // Device positions are not event-derived and do not count.
    a.ack_device(&app(), &user("bob"), "phone", 1)
        .await
        .unwrap();
    assert_eq!(a.digest().await.unwrap(), b.digest().await.unwrap());
    a.apply("p", 2, direct_message("alice", "bob", 2))
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
