//! Behaviour every `ReadModels` adapter must show. Each check takes a fresh, empty store.

use tidings_domain::event::{ConvSettings, UserProfile};
use tidings_domain::group::{JoinPolicy, Role};
use tidings_domain::push::{PushProvider, PushRegistration, PushSettings};
use tidings_domain::{
    AppId, Attachment, Body, ConvId, DeviceId, FileId, GroupId, MessageId, Recipient, Tag, UserId,
};
use tidings_store::{
    Annotation, Conversation, Diffusion, Direction, Entry, EntryItem, HistoryOrder, HistoryQuery,
    MemberRow, MessageView, PinRow, PushRow, ReactionNotice, ReadModels, Recalled, RelationPatch,
    SettingsRow, Write,
};

pub fn app() -> AppId {
    AppId::parse("demo").unwrap()
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn message(from: &str, to: &str, conv_seq: u64) -> MessageView {
    let (from, to) = (user(from), user(to));
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

/// The writes the projector makes for one direct message, the event at stream sequence `cursor`.
pub fn direct_message(from: &str, to: &str, conv_seq: u64, cursor: u64) -> Vec<Write> {
    let m = std::sync::Arc::new(message(from, to, conv_seq));
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

/// `who`'s row of `conv`, which must exist.
async fn row_of<S: ReadModels>(store: &S, who: &UserId, conv: &ConvId) -> Conversation {
    let row = store.conversation(&app(), who, conv).await.unwrap();
    row.unwrap_or_else(|| panic!("{who} has no row of {conv}"))
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
        EntryItem::Message(message("alice", "bob", 1).into())
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
                    Write::Timeline { message, .. } => {
                        std::sync::Arc::make_mut(message).body = Some(body.clone())
                    }
                    Write::ConversationMessage { message, .. } => {
                        std::sync::Arc::make_mut(message).body = Some(body.clone())
                    }
                    Write::Deliver {
                        item: EntryItem::Message(message),
                        ..
                    } => std::sync::Arc::make_mut(message).body = Some(body.clone()),
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
            EntryItem::Message(m) => m.body.as_ref().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(inbox, bodies.iter().collect::<Vec<_>>());
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let history = store
        .messages_before(&app(), &conv, None, 10)
        .await
        .unwrap();
    assert_eq!(history[0].message.body.as_ref(), Some(&bodies[1]));
    assert_eq!(history[1].message.body.as_ref(), Some(&bodies[0]));
    let row = store
        .conversation(&app(), &user("bob"), &conv)
        .await
        .unwrap();
    assert_eq!(
        row.unwrap().last_message.unwrap().body,
        Some(bodies[1].clone())
    );
}

/// A recall tombstones the message's one timeline row and an edit rewrites it; every read model
/// that shows the message (history, inbox catch-up, the conversation's last message) shows it
/// as the row now is. A replayed older edit changes nothing; nothing follows a recall.
pub async fn recalls_and_edits_rewrite_the_one_timeline_row<S: ReadModels>(store: S) {
    store
        .apply("p", 1, direct_message("alice", "bob", 1, 1))
        .await
        .unwrap();
    store
        .apply("p", 2, direct_message("alice", "bob", 2, 2))
        .await
        .unwrap();
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let annotate = |conv_seq, annotation| Write::Annotate {
        app: app(),
        conv: conv.clone(),
        conv_seq,
        annotation,
    };
    let edit = |edit_seq: u64, ts| Annotation::Edited {
        body: Body::Text {
            text: format!("v{edit_seq}"),
        },
        edit_seq,
        ts,
    };
    store
        .apply("p", 3, vec![annotate(1, edit(1, 3_000))])
        .await
        .unwrap();
    store
        .apply(
            "p",
            4,
            vec![annotate(1, edit(2, 4_000)), annotate(1, edit(1, 3_000))],
        )
        .await
        .unwrap();
    let recall = Annotation::Recalled {
        by: Some(user("alice")),
        ts: 5_000,
    };
    store
        .apply("p", 5, vec![annotate(2, recall)])
        .await
        .unwrap();
    store
        .apply(
            "p",
            6,
            vec![annotate(2, edit(1, 6_000)), annotate(9, edit(1, 6_000))],
        )
        .await
        .unwrap();

    let edited = MessageView {
        body: Some(Body::Text { text: "v2".into() }),
        edit_seq: 2,
        edited_at: Some(4_000),
        ..message("alice", "bob", 1)
    };
    let recalled = MessageView {
        body: None,
        recalled: Some(Recalled {
            by: Some(user("alice")),
            ts: 5_000,
        }),
        ..message("alice", "bob", 2)
    };
    let history = store
        .messages_before(&app(), &conv, None, 10)
        .await
        .unwrap();
    let history: Vec<&MessageView> = history.iter().map(|t| &*t.message).collect();
    assert_eq!(history, [&recalled, &edited]);
    for who in ["alice", "bob"] {
        let inbox = store.inbox_after(&app(), &user(who), 0, 10).await.unwrap();
        let items: Vec<&EntryItem> = inbox.iter().map(|e| &e.item).collect();
        assert_eq!(
            items,
            [
                &EntryItem::Message(edited.clone().into()),
                &EntryItem::Message(recalled.clone().into())
            ],
            "{who}'s inbox"
        );
        let row = store.conversation(&app(), &user(who), &conv).await.unwrap();
        assert_eq!(row.unwrap().last_message, Some(recalled.clone().into()));
    }
    // A conversation whose references in a page are sparse joins them too.
    store
        .apply("p", 7, direct_message("alice", "bob", 100, 7))
        .await
        .unwrap();
    let inbox = store
        .inbox_after(&app(), &user("bob"), 0, 10)
        .await
        .unwrap();
    let seqs: Vec<u64> = inbox
        .iter()
        .map(|e| match &e.item {
            EntryItem::Message(m) => m.conv_seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, [1, 2, 100]);
    assert_eq!(inbox[1].item, EntryItem::Message(recalled.clone().into()));
    assert!(
        store
            .messages_before(&app(), &conv, Some(99), 10)
            .await
            .unwrap()
            .len()
            == 2,
        "an annotation of a message never written writes no row"
    );
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

    let alice = row_of(&store, &user("alice"), &conv).await;
    assert_eq!(alice.peer, Some(user("bob")));
    assert_eq!((alice.last_seq, alice.read_seq, alice.unread), (2, 2, 0));

    // bob replies: his row is read up to his reply, alice now has one unread.
    store
        .apply("p", 3, direct_message("bob", "alice", 3, 3))
        .await
        .unwrap();
    let bob = row_of(&store, &user("bob"), &conv).await;
    assert_eq!((bob.last_seq, bob.read_seq, bob.unread), (3, 3, 0));
    let alice = row_of(&store, &user("alice"), &conv).await;
    assert_eq!((alice.last_seq, alice.read_seq, alice.unread), (3, 2, 1));
    // The newest message comes with the row (joined from the timeline).
    let last = alice.last_message.expect("the newest message");
    assert_eq!((last.conv_seq, last.from.as_str()), (3, "bob"));
    let listed = store.conversations(&app(), &user("alice")).await.unwrap();
    assert_eq!(listed[0].last_message.as_ref().map(|m| m.conv_seq), Some(3));

    // A recipient's row follows the timeline (the fold writes it only when they send): read
    // markers and later messages count however they interleave, alone and in the list.
    let read = |conv_seq| Write::ConversationRead {
        app: app(),
        user: user("alice"),
        conv: conv.clone(),
        conv_seq,
    };
    store.apply("p", 4, vec![read(3)]).await.unwrap();
    let mut writes = direct_message("bob", "alice", 4, 5);
    writes.extend(direct_message("bob", "alice", 5, 6));
    writes.push(read(4));
    writes.extend(direct_message("bob", "alice", 6, 7));
    store.apply("p", 7, writes).await.unwrap();
    let alice = row_of(&store, &user("alice"), &conv).await;
    assert_eq!(
        (alice.last_seq, alice.read_seq, alice.unread, alice.last_ts),
        (6, 4, 2, 1_006)
    );
    assert!(!alice.follows, "the flag is the store's own");
    assert_eq!(alice.last_message.as_ref().map(|m| m.conv_seq), Some(6));
    let listed = store.conversations(&app(), &user("alice")).await.unwrap();
    assert_eq!(listed, [alice]);
    let bob = row_of(&store, &user("bob"), &conv).await;
    assert_eq!((bob.last_seq, bob.read_seq, bob.unread), (6, 6, 0));

    assert!(
        store
            .conversation(&app(), &user("carol"), &conv)
            .await
            .unwrap()
            .is_none()
    );
}

/// Message `conv_seq` of group `g1`, from `from`, and the writes of a fold that moves only
/// the conversation rows of `rows` (the sender's, and members it had not written yet).
fn group_message(from: &str, conv_seq: u64, rows: &[&str]) -> Vec<Write> {
    let group = GroupId::parse("g1").unwrap();
    let m = std::sync::Arc::new(MessageView {
        conv: ConvId::group(&group),
        to: Recipient::Group(group),
        ..message(from, "nobody", conv_seq)
    });
    let ts = 1_000 + conv_seq as i64;
    let mut writes = vec![Write::Timeline {
        app: app(),
        ts,
        message: m.clone(),
    }];
    for u in rows {
        writes.push(Write::ConversationMessage {
            app: app(),
            user: user(u),
            ts,
            message: m.clone(),
        });
    }
    writes
}

pub async fn group_rows_follow_the_timeline_until_a_leave<S: ReadModels>(store: S) {
    let conv = ConvId::group(&GroupId::parse("g1").unwrap());
    let row = |u: &str| {
        let store = &store;
        let (conv, u) = (conv.clone(), user(u));
        async move {
            let one = store
                .conversation(&app(), &u, &conv)
                .await
                .unwrap()
                .unwrap();
            let listed = store.conversations(&app(), &u).await.unwrap();
            assert_eq!(
                listed,
                std::slice::from_ref(&one),
                "the list shows the row as read alone"
            );
            one
        }
    };
    store
        .apply(
            "p",
            1,
            group_message("alice", 1, &["alice", "bob", "carol"]),
        )
        .await
        .unwrap();
    for seq in 2..=4 {
        store
            .apply("p", seq, group_message("alice", seq, &["alice"]))
            .await
            .unwrap();
    }
    // Bob's stored row is at message 1; read, it follows the timeline to message 4.
    let bob = row("bob").await;
    assert_eq!(
        (bob.last_seq, bob.read_seq, bob.unread, bob.last_ts),
        (4, 0, 4, 1_004)
    );
    assert!(!bob.follows, "the flag is the store's own");
    assert_eq!(bob.last_message.map(|m| m.conv_seq), Some(4));
    // A read marker past his stored row counts.
    store
        .apply(
            "p",
            5,
            vec![Write::ConversationRead {
                app: app(),
                user: user("bob"),
                conv: conv.clone(),
                conv_seq: 3,
            }],
        )
        .await
        .unwrap();
    assert_eq!(row("bob").await.unread, 1);
    // Carol leaves after message 4: her row stops there while the group goes on.
    let last = store
        .messages_before(&app(), &conv, None, 1)
        .await
        .unwrap()
        .pop()
        .map(|t| (t.ts, t.message));
    let leave = Write::ConversationLeft {
        app: app(),
        user: user("carol"),
        conv: conv.clone(),
        last,
    };
    store.apply("p", 6, vec![leave]).await.unwrap();
    store
        .apply("p", 7, group_message("alice", 5, &["alice"]))
        .await
        .unwrap();
    let carol = row("carol").await;
    assert_eq!((carol.last_seq, carol.unread, carol.last_ts), (4, 4, 1_004));
    assert_eq!(carol.last_message.map(|m| m.conv_seq), Some(4));
    let bob = row("bob").await;
    assert_eq!((bob.last_seq, bob.unread), (5, 2));
    let alice = row("alice").await;
    assert_eq!((alice.last_seq, alice.read_seq, alice.unread), (5, 5, 0));
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
    store
        .ack_device(&app(), &user("alice"), "laptop", 2)
        .await
        .unwrap();
    store
        .ack_device(&app(), &user("bob"), "tv", 9)
        .await
        .unwrap();
    assert_eq!(
        store.device_acks(&app(), &user("alice")).await.unwrap(),
        vec![("laptop".to_owned(), 2), ("phone".to_owned(), 5)]
    );
    assert!(
        store
            .device_acks(&app(), &user("carol"))
            .await
            .unwrap()
            .is_empty()
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
    // An adapter's own digest (the embedded store hashes its tables on several threads) is
    // the one every adapter's rows make.
    for store in [&a, &b] {
        assert_eq!(
            store.digest().await.unwrap(),
            tidings_store::digest::compute(store).await.unwrap()
        );
    }
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

/// Records messages `1..=ts.len()` of alice and bob's conversation with the given times, in
/// batches of 500 (`None`: that `conv_seq` was never written, as after a purge).
async fn timeline_with_times<S: ReadModels>(store: &S, times: &[Option<i64>]) -> ConvId {
    let mut writes = Vec::new();
    for (i, ts) in times.iter().enumerate() {
        if let Some(ts) = ts {
            writes.push(Write::Timeline {
                app: app(),
                ts: *ts,
                message: message("alice", "bob", i as u64 + 1).into(),
            });
        }
    }
    let mut through = 0;
    for batch in writes.chunks(500) {
        through += 1;
        store.apply("p", through, batch.to_vec()).await.unwrap();
    }
    ConvId::direct(&user("alice"), &user("bob"))
}

/// Every page of a history query, following `next`; each page but the last is full.
async fn every_page<S: ReadModels>(
    store: &S,
    conv: &ConvId,
    since: Option<i64>,
    until: Option<i64>,
    order: HistoryOrder,
    limit: usize,
) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let query = HistoryQuery {
            since,
            until,
            order,
            cursor,
            limit,
        };
        let page = store.history(&app(), conv, query).await.unwrap();
        assert!(page.messages.len() <= limit, "{query:?}");
        seen.extend(page.messages.iter().map(|m| m.message.conv_seq));
        match page.next {
            Some(next) => {
                assert_eq!(page.messages.len(), limit, "only the last page is short");
                assert_eq!(Some(&next), seen.last(), "the cursor is the last conv_seq");
                cursor = Some(next);
            }
            None => return seen,
        }
        assert!(seen.len() <= 10_000, "paging does not end: {query:?}");
    }
}

/// Pages `[since, until)` both ways with several limits and compares with `expected` (oldest
/// first).
async fn pages_match<S: ReadModels>(
    store: &S,
    conv: &ConvId,
    since: Option<i64>,
    until: Option<i64>,
    expected: &[u64],
) {
    for limit in [1, 7, 500] {
        if limit == 1 && expected.len() > 50 {
            continue;
        }
        let oldest = every_page(store, conv, since, until, HistoryOrder::Oldest, limit).await;
        assert_eq!(
            oldest, expected,
            "oldest first, [{since:?}, {until:?}), limit {limit}"
        );
        let mut newest = every_page(store, conv, since, until, HistoryOrder::Newest, limit).await;
        newest.reverse();
        assert_eq!(
            newest, expected,
            "newest first, [{since:?}, {until:?}), limit {limit}"
        );
    }
}

pub async fn history_pages_by_time_both_ways<S: ReadModels>(store: S) {
    // 2,100 messages over three timeline buckets of the Scylla adapter; times in runs of
    // equal ts (three messages to a run), ten milliseconds apart.
    let ts_of = |conv_seq: u64| 1_000 + (conv_seq as i64 / 3) * 10;
    let times: Vec<Option<i64>> = (1..=2_100).map(|s| Some(ts_of(s))).collect();
    let conv = timeline_with_times(&store, &times).await;
    let within = |since: Option<i64>, until: Option<i64>| -> Vec<u64> {
        (1..=2_100)
            .filter(|&s| since.is_none_or(|t| ts_of(s) >= t) && until.is_none_or(|t| ts_of(s) < t))
            .collect()
    };
    let cases = [
        // A run of equal times: `since` takes all of it, `until` none of it.
        (Some(ts_of(30)), Some(ts_of(45))),
        // Bounds between two runs' times.
        (Some(ts_of(30) - 5), Some(ts_of(45) + 5)),
        // Across the buckets at conv_seq 1,000 and 2,000.
        (Some(ts_of(990)), Some(ts_of(1_012))),
        (Some(ts_of(1_998)), None),
        // Open at either end, and before or after every message.
        (None, Some(ts_of(20))),
        (Some(i64::MIN), Some(ts_of(4))),
        (Some(ts_of(2_090)), Some(i64::MAX)),
        // Empty: before the first, after the newest, between two runs.
        (None, Some(ts_of(1))),
        (Some(ts_of(2_100) + 1), None),
        (Some(ts_of(30) + 1), Some(ts_of(30) + 9)),
    ];
    for (since, until) in cases {
        pages_match(&store, &conv, since, until, &within(since, until)).await;
    }
    // No bounds: the whole timeline, newest first as `messages_before` gives it.
    let all = every_page(&store, &conv, None, None, HistoryOrder::Newest, 500).await;
    assert_eq!(all, (1..=2_100).rev().collect::<Vec<u64>>());

    // A cursor outside the range is clamped to it; one inside continues from it.
    let (since, until) = (Some(ts_of(300)), Some(ts_of(330)));
    let range = within(since, until);
    let query = |order, cursor| HistoryQuery {
        since,
        until,
        order,
        cursor,
        limit: 500,
    };
    let seqs = |page: tidings_store::HistoryPage| -> Vec<u64> {
        page.messages.iter().map(|m| m.message.conv_seq).collect()
    };
    let newest = store
        .history(&app(), &conv, query(HistoryOrder::Newest, Some(2_000)))
        .await
        .unwrap();
    assert_eq!(
        seqs(newest),
        range.iter().rev().copied().collect::<Vec<_>>()
    );
    let oldest = store
        .history(&app(), &conv, query(HistoryOrder::Oldest, Some(3)))
        .await
        .unwrap();
    assert_eq!(seqs(oldest), range);
    let middle = range[range.len() / 2];
    let newer = store
        .history(&app(), &conv, query(HistoryOrder::Oldest, Some(middle)))
        .await
        .unwrap();
    assert_eq!(
        seqs(newer),
        range
            .iter()
            .copied()
            .filter(|&s| s > middle)
            .collect::<Vec<_>>()
    );
    let older = store
        .history(&app(), &conv, query(HistoryOrder::Newest, Some(middle)))
        .await
        .unwrap();
    assert_eq!(
        seqs(older),
        range
            .iter()
            .rev()
            .copied()
            .filter(|&s| s < middle)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        store
            .history(&app(), &conv, query(HistoryOrder::Newest, Some(range[0])))
            .await
            .unwrap()
            .messages,
        []
    );

    // A conversation without messages.
    let other = ConvId::direct(&user("alice"), &user("carol"));
    for order in [HistoryOrder::Newest, HistoryOrder::Oldest] {
        assert_eq!(
            every_page(&store, &other, Some(0), Some(i64::MAX), order, 10).await,
            Vec::<u64>::new()
        );
    }
}

pub async fn history_by_time_splits_skewed_times_and_holes_without_gap_or_overlap<S: ReadModels>(
    store: S,
) {
    // Times recorded before they were kept in order (out of order by clock skew), then in
    // order; conv_seq 6 and 12 were never written (purged from the stream).
    let times = [
        Some(100),
        Some(130),
        Some(120),
        Some(150),
        Some(140),
        None,
        Some(160),
        Some(200),
        Some(200),
        Some(210),
        Some(240),
        None,
        Some(250),
        Some(250),
        Some(300),
    ];
    let conv = timeline_with_times(&store, &times).await;
    let written: Vec<u64> = (1..=15).filter(|s| ![6, 12].contains(s)).collect();
    // Adjacent ranges (each one's `until` the next one's `since`) split the timeline: every
    // message in exactly one, in conv_seq order.
    let bounds = [
        None,
        Some(125),
        Some(145),
        Some(200),
        Some(245),
        Some(250),
        None,
    ];
    let mut split = Vec::new();
    for pair in bounds.windows(2) {
        let (since, until) = (pair[0], pair[1]);
        let oldest = every_page(&store, &conv, since, until, HistoryOrder::Oldest, 2).await;
        let mut newest = every_page(&store, &conv, since, until, HistoryOrder::Newest, 2).await;
        newest.reverse();
        assert_eq!(oldest, newest, "[{since:?}, {until:?})");
        split.extend(oldest);
    }
    assert_eq!(split, written);
    // Where times are in order, a range holds exactly the messages whose time is in it,
    // holes included.
    pages_match(&store, &conv, Some(200), Some(250), &[8, 9, 10, 11]).await;
    pages_match(&store, &conv, Some(241), Some(251), &[13, 14]).await;
    pages_match(&store, &conv, Some(300), None, &[15]).await;
}

/// What `user` removed from their own view: a message hidden or a conversation cleared.
fn hide(who: &str, peer: &str, conv_seq: u64) -> Write {
    Write::Hide {
        app: app(),
        user: user(who),
        conv: ConvId::direct(&user(who), &user(peer)),
        conv_seq,
    }
}

fn clear(who: &str, peer: &str, up_to: u64) -> Write {
    Write::Clear {
        app: app(),
        user: user(who),
        conv: ConvId::direct(&user(who), &user(peer)),
        up_to,
    }
}

fn page_seqs(page: &tidings_store::HistoryPage) -> Vec<u64> {
    page.messages.iter().map(|m| m.message.conv_seq).collect()
}

/// Hidden messages and clear marks are one user's rows: that user's history, inbox pages and
/// conversation row leave them out (pages refilled, cursors exact), the peer's do not, and
/// repeating the writes or clearing backwards changes nothing.
pub async fn hidden_and_cleared_filter_only_that_users_reads<S: ReadModels>(store: S) {
    use tidings_store::visibility;
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let mut writes = Vec::new();
    for conv_seq in 1..=6 {
        writes.extend(direct_message("alice", "bob", conv_seq, conv_seq));
    }
    store.apply("p", 6, writes).await.unwrap();
    let removals = vec![
        hide("bob", "alice", 2),
        hide("bob", "alice", 5),
        clear("bob", "alice", 1),
    ];
    store.apply("p", 7, removals.clone()).await.unwrap();
    let digest = store.digest().await.unwrap();
    store.apply("p", 7, removals).await.unwrap();
    store
        .apply("p", 8, vec![clear("bob", "alice", 1)])
        .await
        .unwrap();
    assert_eq!(
        store.digest().await.unwrap(),
        digest,
        "repeats change nothing"
    );

    let (a, bob, alice) = (app(), user("bob"), user("alice"));
    assert_eq!(store.removal_mark(&a, &bob, &conv).await.unwrap(), Some(1));
    assert_eq!(store.removal_mark(&a, &alice, &conv).await.unwrap(), None);
    assert_eq!(
        store.removal_marks(&a, &bob).await.unwrap(),
        [(conv.clone(), 1)]
    );
    assert!(store.removal_marks(&a, &alice).await.unwrap().is_empty());
    assert_eq!(
        store
            .hidden_between(&a, &bob, &conv, 0, u64::MAX)
            .await
            .unwrap(),
        [2, 5]
    );
    assert_eq!(
        store.hidden_between(&a, &bob, &conv, 3, 5).await.unwrap(),
        [5]
    );
    assert!(
        store
            .hidden_between(&a, &alice, &conv, 0, 9)
            .await
            .unwrap()
            .is_empty()
    );

    let query = |order, cursor, limit| HistoryQuery {
        since: None,
        until: None,
        order,
        cursor,
        limit,
    };
    // Newest first, two a page: 6 4 | 3, then the end; the peer sees everything.
    let first = visibility::history(
        &store,
        &a,
        &bob,
        &conv,
        query(HistoryOrder::Newest, None, 2),
    )
    .await
    .unwrap();
    assert_eq!((page_seqs(&first), first.next), (vec![6, 4], Some(4)));
    let second = visibility::history(
        &store,
        &a,
        &bob,
        &conv,
        query(HistoryOrder::Newest, Some(4), 2),
    )
    .await
    .unwrap();
    assert_eq!((page_seqs(&second), second.next), (vec![3], None));
    // Oldest first, one a page: 3 | 4 | 6, the last with no next page.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = visibility::history(
            &store,
            &a,
            &bob,
            &conv,
            query(HistoryOrder::Oldest, cursor, 1),
        )
        .await
        .unwrap();
        seen.extend(page_seqs(&page));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, [3, 4, 6]);
    let peer = visibility::history(
        &store,
        &a,
        &alice,
        &conv,
        query(HistoryOrder::Newest, None, 10),
    )
    .await
    .unwrap();
    assert_eq!(page_seqs(&peer), [6, 5, 4, 3, 2, 1]);

    // Inbox pages: bob's entries 1-6 are messages 1-6; 1, 2 and 5 read back as placeholders,
    // so the pages stay gapless.
    let kinds = |page: &[Entry]| -> Vec<(u64, bool)> {
        page.iter()
            .map(|e| (e.seq, matches!(e.item, EntryItem::Removed(_))))
            .collect()
    };
    let page = visibility::inbox_page(&store, &a, &bob, 0, 4)
        .await
        .unwrap();
    assert_eq!(kinds(&page), [(1, true), (2, true), (3, false), (4, false)]);
    let page = visibility::inbox_page(&store, &a, &bob, 4, 4)
        .await
        .unwrap();
    assert_eq!(kinds(&page), [(5, true), (6, false)]);
    let EntryItem::Removed(removed) = &page[0].item else {
        unreachable!()
    };
    assert_eq!((&removed.conv, removed.conv_seq), (&conv, 5));
    let page = visibility::inbox_page(&store, &a, &bob, 6, 2)
        .await
        .unwrap();
    assert!(page.is_empty());
    let page = visibility::inbox_page(&store, &a, &alice, 0, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 6);

    // The conversation row: unread without removed messages, the newest one still seen.
    let row = |who: UserId| {
        let store = store.clone();
        let a = a.clone();
        let conv = conv.clone();
        async move {
            let row = store.conversation(&a, &who, &conv).await.unwrap().unwrap();
            visibility::conversation(&store, &a, &who, row)
                .await
                .unwrap()
        }
    };
    let seen = row(bob.clone()).await;
    assert_eq!((seen.last_seq, seen.unread), (6, 3));
    assert_eq!(seen.last_message.map(|m| m.conv_seq), Some(6));
    store
        .apply("p", 9, vec![hide("bob", "alice", 6)])
        .await
        .unwrap();
    let seen = row(bob.clone()).await;
    assert_eq!((seen.last_seq, seen.unread), (6, 2));
    assert_eq!(seen.last_message.map(|m| m.conv_seq), Some(4));
    let listed = visibility::conversations(&store, &a, &bob).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_message.as_ref().map(|m| m.conv_seq), Some(4));
    store
        .apply("p", 10, vec![clear("bob", "alice", 6)])
        .await
        .unwrap();
    let seen = row(bob.clone()).await;
    assert_eq!(
        (seen.last_seq, seen.unread, seen.last_message),
        (6, 0, None)
    );
    let page = visibility::history(
        &store,
        &a,
        &bob,
        &conv,
        query(HistoryOrder::Newest, None, 5),
    )
    .await
    .unwrap();
    assert_eq!((page_seqs(&page), page.next), (vec![], None));
    let seen = row(alice.clone()).await;
    assert_eq!(seen.last_message.map(|m| m.conv_seq), Some(6));
    // A hide alone marks its conversation, with nothing cleared.
    store
        .apply("p", 11, vec![hide("alice", "bob", 6)])
        .await
        .unwrap();
    assert_eq!(
        store.removal_mark(&a, &alice, &conv).await.unwrap(),
        Some(0)
    );
    let seen = row(alice).await;
    assert_eq!(seen.last_message.map(|m| m.conv_seq), Some(5));
}

/// However many messages in a row a user removed, paging through their history (both orders,
/// any page size, by time too) and their inbox yields every message they still see exactly
/// once, in order, and ends only at the end.
pub async fn removals_never_break_paging<S: ReadModels>(store: S) {
    use tidings_store::visibility;
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let mut writes = Vec::new();
    for conv_seq in 1..=40 {
        writes.extend(direct_message("alice", "bob", conv_seq, conv_seq));
    }
    store.apply("p", 40, writes).await.unwrap();
    // Cleared up to 3, a run of 20 hidden, scattered ones, and the newest.
    let mut removals = vec![clear("bob", "alice", 3)];
    removals.extend((8..28).map(|s| hide("bob", "alice", s)));
    removals.extend([31, 33, 40].map(|s| hide("bob", "alice", s)));
    store.apply("p", 41, removals).await.unwrap();
    let visible: Vec<u64> = (1..=40)
        .filter(|s| *s > 3 && !(8..28).contains(s) && ![31, 33, 40].contains(s))
        .collect();
    let (a, bob) = (app(), user("bob"));
    for limit in [1, 2, 3, 7, 50] {
        for (order, since) in [
            (HistoryOrder::Newest, None),
            (HistoryOrder::Oldest, None),
            (HistoryOrder::Newest, Some(0)),
            (HistoryOrder::Oldest, Some(1_005)),
        ] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let query = HistoryQuery {
                    since,
                    until: None,
                    order,
                    cursor,
                    limit,
                };
                let page = visibility::history(&store, &a, &bob, &conv, query)
                    .await
                    .unwrap();
                assert!(page.messages.len() <= limit);
                seen.extend(page_seqs(&page));
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let mut expected: Vec<u64> = visible
                .iter()
                .copied()
                .filter(|s| since.is_none_or(|t| 1_000 + *s as i64 >= t))
                .collect();
            if order == HistoryOrder::Newest {
                expected.reverse();
            }
            assert_eq!(seen, expected, "limit {limit}, {order:?}, since {since:?}");
        }
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = visibility::inbox_page(&store, &a, &bob, after, limit)
                .await
                .unwrap();
            let Some(last) = page.last() else {
                break;
            };
            assert!(page.len() <= limit);
            // Gapless: every seq after `after`, the removed ones as placeholders.
            for (i, e) in page.iter().enumerate() {
                assert_eq!(e.seq, after + 1 + i as u64, "inbox pages of {limit}");
            }
            after = last.seq;
            seen.extend(
                page.iter()
                    .filter(|e| !matches!(e.item, EntryItem::Removed(_)))
                    .map(|e| e.seq),
            );
        }
        // Bob's inbox entry n is message n.
        assert_eq!(seen, visible, "inbox pages of {limit}");
    }
}

/// The projector's writes for `reactor`'s reaction `key` on message 1 of alice and bob, told to
/// both, the event at stream sequence `cursor`.
pub fn reaction(reactor: &str, key: &str, added: bool, cursor: u64) -> Vec<Write> {
    let m = message("alice", "bob", 1);
    let notice = ReactionNotice {
        conv: m.conv,
        conv_seq: 1,
        msg_id: m.msg_id,
        user: user(reactor),
        key: key.into(),
        added,
    };
    let mut writes = vec![Write::Reaction {
        app: app(),
        notice: notice.clone(),
        ts: cursor as i64,
    }];
    for u in ["alice", "bob"] {
        writes.push(Write::ReactionEntry {
            app: app(),
            user: user(u),
            notice: notice.clone(),
            ts: cursor as i64,
            cursor,
        });
    }
    writes
}

pub async fn reactions_count_once_and_are_told_on_change<S: ReadModels>(store: S) {
    store
        .apply("p", 1, direct_message("alice", "bob", 1, 1))
        .await
        .unwrap();
    // Bob adds twice (two devices), alice once, in two batches; then bob removes twice.
    let first = [
        reaction("bob", "👍", true, 2),
        reaction("bob", "👍", true, 3),
    ]
    .concat();
    store.apply("p", 3, first).await.unwrap();
    store
        .apply("p", 4, reaction("alice", "👍", true, 4))
        .await
        .unwrap();
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let rows = store.reactions(&app(), &conv, 1, 1).await.unwrap();
    let mut who: Vec<&str> = rows.iter().map(|r| r.user.as_str()).collect();
    who.sort();
    assert_eq!(who, ["alice", "bob"]);
    assert!(rows.iter().all(|r| r.key == "👍" && r.conv_seq == 1));
    let removals = [
        reaction("bob", "👍", false, 5),
        reaction("bob", "👍", false, 6),
    ]
    .concat();
    store.apply("p", 6, removals).await.unwrap();
    let rows = store.reactions(&app(), &conv, 1, 1).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user, user("alice"));
    assert!(
        store
            .reactions(&app(), &conv, 2, 9)
            .await
            .unwrap()
            .is_empty()
    );
    let entries = store
        .inbox_after(&app(), &user("alice"), 0, 10)
        .await
        .unwrap();
    let told: Vec<(u64, String, bool)> = entries
        .iter()
        .filter_map(|e| match &e.item {
            EntryItem::Reaction(n) => Some((e.seq, n.user.to_string(), n.added)),
            _ => None,
        })
        .collect();
    assert_eq!(
        told,
        [
            (2, "bob".into(), true),
            (3, "alice".into(), true),
            (4, "bob".into(), false)
        ],
        "the message is seq 1; each change once"
    );
    // A batch repeated from an older checkpoint changes nothing.
    let before = store.digest().await.unwrap();
    store
        .apply("p", 6, reaction("bob", "👍", false, 6))
        .await
        .unwrap();
    assert_eq!(store.digest().await.unwrap(), before);
}

pub async fn pins_are_set_and_deleted<S: ReadModels>(store: S) {
    let conv = ConvId::direct(&user("alice"), &user("bob"));
    let pin = |conv_seq: u64, pinned: bool| Write::Pin {
        app: app(),
        conv: conv.clone(),
        conv_seq,
        row: pinned.then(|| PinRow {
            conv_seq,
            msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-{conv_seq:012}")).unwrap(),
            by: Some(user("bob")),
            ts: conv_seq as i64,
        }),
    };
    store
        .apply("p", 1, vec![pin(3, true), pin(1, true), pin(2, true)])
        .await
        .unwrap();
    store.apply("p", 2, vec![pin(2, false)]).await.unwrap();
    let pins = store.pins(&app(), &conv).await.unwrap();
    let seqs: Vec<u64> = pins.iter().map(|p| p.conv_seq).collect();
    assert_eq!(seqs, [1, 3]);
    assert_eq!(pins[0].by, Some(user("bob")));
    let other = ConvId::direct(&user("alice"), &user("carol"));
    assert!(store.pins(&app(), &other).await.unwrap().is_empty());
}

pub async fn settings_rows_are_replaced_per_conversation<S: ReadModels>(store: S) {
    let alice = user("alice");
    let with_bob = ConvId::direct(&alice, &user("bob"));
    let with_carol = ConvId::direct(&alice, &user("carol"));
    let set = |conv: &ConvId, pinned: bool, draft: Option<&str>, cursor: u64| Write::Settings {
        app: app(),
        user: alice.clone(),
        row: SettingsRow {
            conv: conv.clone(),
            settings: ConvSettings {
                pinned,
                muted_until: Some(7),
                draft: draft.map(String::from),
                marked_unread: false,
                hidden: false,
                hidden_up_to: 0,
            },
            cursor,
        },
    };
    let first = vec![
        set(&with_bob, true, Some("hi"), 1),
        set(&with_carol, false, None, 1),
    ];
    store.apply("p", 1, first.clone()).await.unwrap();
    let second = vec![set(&with_bob, false, None, 2)];
    store.apply("p", 2, second.clone()).await.unwrap();
    let mut rows = store.conv_settings(&app(), &alice).await.unwrap();
    rows.sort_by(|a, b| a.conv.cmp(&b.conv));
    let seen: Vec<(&str, bool, Option<&str>, u64)> = rows
        .iter()
        .map(|r| {
            let s = &r.settings;
            (r.conv.as_str(), s.pinned, s.draft.as_deref(), r.cursor)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (with_bob.as_str(), false, None, 2),
            (with_carol.as_str(), false, None, 1)
        ]
    );
    assert!(
        store
            .conv_settings(&app(), &user("bob"))
            .await
            .unwrap()
            .is_empty()
    );
    // Replayed from an older checkpoint, the batches leave the rows as they were.
    let before = store.digest().await.unwrap();
    store.apply("p", 1, first).await.unwrap();
    store.apply("p", 2, second).await.unwrap();
    assert_eq!(store.digest().await.unwrap(), before);
}

pub async fn device_rows_and_device_reads_are_replaced_per_device<S: ReadModels>(store: S) {
    use tidings_domain::DeviceId;
    use tidings_domain::login::Platform;
    use tidings_store::{DeviceReadRow, DeviceRow};
    let alice = user("alice");
    let device = |id: &str| DeviceId::parse(id).unwrap();
    let row = |id: &str, platform, signed_out, cursor| Write::Device {
        app: app(),
        user: alice.clone(),
        row: DeviceRow {
            device: device(id),
            platform,
            at: cursor as i64 * 10,
            signed_out,
            cursor,
        },
    };
    let conv = ConvId::direct(&alice, &user("bob"));
    let read = |id: &str, conv_seq, cursor| Write::DeviceRead {
        app: app(),
        user: alice.clone(),
        row: DeviceReadRow {
            device: device(id),
            conv: conv.clone(),
            conv_seq,
            ts: 5,
            cursor,
        },
    };
    let first = vec![
        row("phone", Platform::Ios, false, 1),
        row("laptop", Platform::Desktop, false, 1),
        read("phone", 3, 1),
    ];
    store.apply("p", 1, first.clone()).await.unwrap();
    let second = vec![row("phone", Platform::Ios, true, 2), read("phone", 7, 2)];
    store.apply("p", 2, second.clone()).await.unwrap();

    let devices = store.devices(&app(), &alice).await.unwrap();
    let seen: Vec<(&str, Platform, bool, u64)> = devices
        .iter()
        .map(|d| (d.device.as_str(), d.platform, d.signed_out, d.cursor))
        .collect();
    assert_eq!(
        seen,
        [
            ("laptop", Platform::Desktop, false, 1),
            ("phone", Platform::Ios, true, 2)
        ],
        "ordered by device, the newest change of each"
    );
    let reads = store.device_reads(&app(), &alice).await.unwrap();
    let seen: Vec<(&str, u64)> = reads
        .iter()
        .map(|r| (r.device.as_str(), r.conv_seq))
        .collect();
    assert_eq!(seen, [("phone", 7)]);
    assert!(
        store
            .devices(&app(), &user("bob"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .device_reads(&app(), &user("bob"))
            .await
            .unwrap()
            .is_empty()
    );
    // Replayed from an older checkpoint, the batches leave the rows as they were.
    let before = store.digest().await.unwrap();
    store.apply("p", 1, first).await.unwrap();
    store.apply("p", 2, second).await.unwrap();
    assert_eq!(store.digest().await.unwrap(), before);
}

pub async fn push_rows_are_replaced_per_user<S: ReadModels>(store: S) {
    let alice = user("alice");
    let set = |token: &str, dnd_until: Option<i64>, cursor: u64| Write::Push {
        app: app(),
        user: alice.clone(),
        row: PushRow {
            settings: PushSettings {
                devices: vec![PushRegistration {
                    device: DeviceId::parse("phone").unwrap(),
                    provider: PushProvider::Fcm,
                    token: token.into(),
                    topic: None,
                }],
                dnd_until,
            },
            cursor,
        },
    };
    assert_eq!(store.push_settings(&app(), &alice).await.unwrap(), None);
    let first = vec![set("t1", None, 1)];
    store.apply("p", 1, first.clone()).await.unwrap();
    let second = vec![set("t2", Some(9), 2)];
    store.apply("p", 2, second.clone()).await.unwrap();
    let row = store.push_settings(&app(), &alice).await.unwrap().unwrap();
    assert_eq!(row.cursor, 2);
    assert_eq!(row.settings.devices[0].token, "t2");
    assert_eq!(row.settings.dnd_until, Some(9));
    assert_eq!(
        store.push_settings(&app(), &user("bob")).await.unwrap(),
        None
    );
    // Replayed from an older checkpoint, the batches leave the row as it was.
    let before = store.digest().await.unwrap();
    store.apply("p", 1, first).await.unwrap();
    store.apply("p", 2, second).await.unwrap();
    assert_eq!(store.digest().await.unwrap(), before);
}

/// A service conversation's message keeps its agent and session in the timeline and in every
/// inbox that refers to it; its conversation rows name the service for the customer and the
/// customer for the business side; session notices read back whole.
pub async fn service_messages_keep_their_agent_and_rows_name_the_other_side<S: ReadModels>(
    store: S,
) {
    let (service, customer, agent) = (user("acme"), user("carol"), user("agent1"));
    let conv = ConvId::service(&service, &customer);
    let view = std::sync::Arc::new(MessageView {
        conv: conv.clone(),
        to: Recipient::User(customer.clone()),
        agent: Some(agent.clone()),
        session: Some(2),
        ..message("agent1", "carol", 1)
    });
    let mut writes = vec![Write::Timeline {
        app: app(),
        ts: 1_001,
        message: view.clone(),
    }];
    for reader in [&customer, &service, &agent] {
        writes.push(Write::Deliver {
            app: app(),
            user: reader.clone(),
            ts: 1_001,
            item: EntryItem::Message(view.clone()),
            cursor: 1,
        });
        writes.push(Write::ConversationMessage {
            app: app(),
            user: reader.clone(),
            ts: 1_001,
            message: view.clone(),
        });
    }
    let notice = tidings_store::ServiceNotice {
        conv: conv.clone(),
        service: service.clone(),
        customer: customer.clone(),
        session: 2,
        change: "transferred".into(),
        agent: Some(agent.clone()),
        from: Some(user("agent0")),
        note: Some("vip".into()),
        position: None,
    };
    writes.push(Write::Deliver {
        app: app(),
        user: service.clone(),
        ts: 1_002,
        item: EntryItem::ServiceSession(notice.clone()),
        cursor: 2,
    });
    store.apply("p", 2, writes).await.unwrap();

    let entries = store.inbox_after(&app(), &service, 0, 10).await.unwrap();
    let items: Vec<EntryItem> = entries.into_iter().map(|e| e.item).collect();
    assert_eq!(
        items,
        [
            EntryItem::Message(view.clone()),
            EntryItem::ServiceSession(notice)
        ]
    );
    let query = HistoryQuery {
        since: None,
        until: None,
        order: HistoryOrder::Newest,
        cursor: None,
        limit: 10,
    };
    let page = store.history(&app(), &conv, query).await.unwrap();
    assert_eq!(page.messages[0].message, view);
    for (reader, peer) in [
        (&customer, &service),
        (&agent, &customer),
        (&service, &customer),
    ] {
        let row = row_of(&store, reader, &conv).await;
        assert_eq!(row.peer.as_ref(), Some(peer), "{reader}'s row");
    }

    // The session moves to agent2, and carol writes again: her row and the service account's
    // follow the timeline; agent1's stops at the last message they handled.
    let agent2 = user("agent2");
    let second = std::sync::Arc::new(MessageView {
        conv_seq: 2,
        from: customer.clone(),
        to: Recipient::Service(service.clone()),
        agent: Some(agent2.clone()),
        ..(*view).clone()
    });
    let writes = [&customer, &service, &agent2]
        .into_iter()
        .map(|reader| Write::ConversationMessage {
            app: app(),
            user: reader.clone(),
            ts: 1_003,
            message: second.clone(),
        })
        .chain([Write::Timeline {
            app: app(),
            ts: 1_003,
            message: second.clone(),
        }])
        .collect();
    store.apply("p", 3, writes).await.unwrap();
    for (reader, (last_seq, unread, last_ts)) in [
        (&customer, (2, 0, 1_003)),
        (&service, (2, 2, 1_003)),
        (&agent, (1, 0, 1_001)),
        (&agent2, (2, 2, 1_003)),
    ] {
        let row = row_of(&store, reader, &conv).await;
        assert_eq!(
            (row.last_seq, row.unread, row.last_ts),
            (last_seq, unread, last_ts),
            "{reader}'s row"
        );
        assert_eq!(row.last_message.map(|m| m.conv_seq), Some(last_seq));
    }
}

pub async fn broadcasts_are_stored_once_and_seen_by_their_audience<S: ReadModels>(store: S) {
    use tidings_store::broadcasts::{self, BroadcastRow, EVERYONE};
    let tag = |who: &str, tag: &str, since: Option<u64>| Write::Tag {
        app: app(),
        user: user(who),
        tag: tag.into(),
        since,
    };
    let row = |bseq: u64, tag: Option<&str>, pos: u64| BroadcastRow {
        bseq,
        msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-00000000000{bseq}")).unwrap(),
        tag: tag.map(|t| Tag::parse(t).unwrap()),
        body: Body::Text {
            text: format!("broadcast {bseq}"),
        },
        ts: 1,
        pos,
    };
    let cast = |r: BroadcastRow| Write::Broadcast { app: app(), row: r };
    // alice registers at 1 and is tagged vip at 2; bob registers at 3; broadcast 1 (everyone)
    // at 4, broadcast 2 (vip) at 5; carol registers at 6; bob is tagged vip at 7.
    let first = vec![
        tag("alice", EVERYONE, Some(1)),
        tag("alice", "vip", Some(2)),
        tag("bob", EVERYONE, Some(3)),
        cast(row(1, None, 4)),
        cast(row(2, Some("vip"), 5)),
    ];
    store.apply("p", 5, first.clone()).await.unwrap();
    let second = vec![tag("carol", EVERYONE, Some(6)), tag("bob", "vip", Some(7))];
    store.apply("p", 7, second.clone()).await.unwrap();

    assert_eq!(store.broadcast_head(&app()).await.unwrap(), 2);
    assert_eq!(
        store
            .broadcast_head(&AppId::parse("other").unwrap())
            .await
            .unwrap(),
        0
    );
    let all = store.broadcasts_after(&app(), 0, 10).await.unwrap();
    assert_eq!(all, vec![row(1, None, 4), row(2, Some("vip"), 5)]);
    assert_eq!(
        store.broadcasts_after(&app(), 1, 10).await.unwrap().len(),
        1
    );
    assert_eq!(store.broadcasts_after(&app(), 0, 1).await.unwrap().len(), 1);

    let seen = |who: &'static str| {
        let store = store.clone();
        async move {
            let audience = store.audience(&app(), &user(who)).await.unwrap();
            let (rows, _) = broadcasts::visible_after(&store, &app(), &audience, 0, 10)
                .await
                .unwrap();
            rows.iter().map(|r| r.bseq).collect::<Vec<_>>()
        }
    };
    assert_eq!(seen("alice").await, [1, 2]);
    // Tagged after the vip broadcast: bob sees only the one to everyone.
    assert_eq!(seen("bob").await, [1]);
    // Registered after both: carol sees neither.
    assert!(seen("carol").await.is_empty());
    let vip = Tag::parse("vip").unwrap();
    assert_eq!(
        store.tag_users(&app(), &vip, None, 10).await.unwrap(),
        [user("alice"), user("bob")]
    );
    assert_eq!(
        store
            .tag_users(&app(), &vip, Some(&user("alice")), 10)
            .await
            .unwrap(),
        [user("bob")]
    );
    let everyone = store.audience(&app(), &user("alice")).await.unwrap();
    assert_eq!(everyone.tags(), ["vip"]);

    // Replayed from an older checkpoint, the batches leave the rows as they were.
    let before = store.digest().await.unwrap();
    store.apply("p", 5, first).await.unwrap();
    store.apply("p", 7, second).await.unwrap();
    assert_eq!(store.digest().await.unwrap(), before);

    // Losing the tag hides its broadcasts and leaves the listing.
    store
        .apply("p", 8, vec![tag("alice", "vip", None)])
        .await
        .unwrap();
    assert_eq!(seen("alice").await, [1]);
    assert_eq!(
        store.tag_users(&app(), &vip, None, 10).await.unwrap(),
        [user("bob")]
    );
}
