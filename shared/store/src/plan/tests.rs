//! Given rows, given writes, then changes.

use super::*;
use crate::model::{
    Conversation, Direction, EntryItem, MemberRow, MessageView, Relation, RelationPatch,
    SystemNotice,
};
use crate::test_fixtures::{message, msg_id, user};
use crate::write::Annotation;
use rustc_hash::FxHashSet;
use std::collections::BTreeSet;
use tidings_domain::event::UserProfile;
use tidings_domain::group::Role;
use tidings_domain::{AppId, Body, ConvId, GroupId};

fn app() -> AppId {
    AppId::parse("demo").unwrap()
}

fn notice(to: &str, cursor: u64) -> Write {
    Write::Deliver {
        app: app(),
        user: user(to),
        ts: cursor as i64,
        item: EntryItem::System(SystemNotice {
            msg_id: msg_id(cursor),
            body: Body::Text {
                text: format!("n{cursor}"),
            },
        }),
        cursor,
    }
}

fn conversation_message(owner: &str, m: &MessageView, ts: i64) -> Write {
    Write::ConversationMessage {
        app: app(),
        user: user(owner),
        ts,
        message: std::sync::Arc::new(m.clone()),
    }
}

fn profile(id: &str, version: u64) -> UserProfile {
    UserProfile {
        app: app(),
        user: user(id),
        name: format!("{id} v{version}"),
        avatar_url: None,
        extra: None,
        version,
        ts: 1,
    }
}

fn user_row(id: &str, cursor: u64) -> UserRow {
    UserRow {
        profile: profile(id, 1),
        deactivated: false,
        token_epoch: 0,
        cursor,
    }
}

fn seqs(c: &Changes) -> Vec<(&str, u64, u64)> {
    c.entries
        .iter()
        .map(|e| (e.user.as_str(), e.entry.seq, e.cursor))
        .collect()
}

#[test]
fn deliveries_number_from_the_loaded_head_and_skip_what_it_covers() {
    let mut loaded = Loaded::default();
    loaded
        .heads
        .insert((app(), user("bob")), Head { seq: 7, cursor: 20 });
    let writes = vec![
        notice("bob", 19),
        notice("bob", 20),
        notice("bob", 21),
        notice("carol", 21),
        notice("bob", 21),
        notice("bob", 25),
    ];
    let c = plan(&loaded, 25, writes);
    // Both entries of event 21 to bob are new; 19 and 20 were applied before.
    assert_eq!(
        seqs(&c),
        [
            ("bob", 8, 21),
            ("carol", 1, 21),
            ("bob", 9, 21),
            ("bob", 10, 25)
        ]
    );
    assert_eq!(
        c.heads[&(app(), user("bob"))],
        Head {
            seq: 10,
            cursor: 25
        }
    );
    assert_eq!(
        c.heads[&(app(), user("carol"))],
        Head { seq: 1, cursor: 21 }
    );
    assert_eq!(c.through_seq, 25);
    let pushed: Vec<u64> = c.into_deliveries().iter().map(|d| d.entry.seq).collect();
    assert_eq!(pushed, [8, 1, 9, 10]);
}

#[test]
fn a_batch_the_head_already_covers_changes_no_inbox_row() {
    let mut loaded = Loaded::default();
    loaded
        .heads
        .insert((app(), user("bob")), Head { seq: 3, cursor: 9 });
    let c = plan(&loaded, 9, vec![notice("bob", 8), notice("bob", 9)]);
    assert!(c.entries.is_empty() && c.heads.is_empty());
}

#[test]
fn conversations_advance_to_newer_messages_and_read_markers_never_go_back() {
    let key = (app(), user("bob"), message("alice", "bob", 1).conv);
    let mut loaded = Loaded::default();
    loaded.convs.insert(
        key.clone(),
        Conversation {
            conv: key.2.clone(),
            peer: Some(user("alice")),
            group: None,
            last_seq: 4,
            read_seq: 2,
            unread: 2,
            last_ts: 40,
            last_message: None,
            follows: false,
        },
    );
    let read = |conv_seq| Write::ConversationRead {
        app: app(),
        user: user("bob"),
        conv: key.2.clone(),
        conv_seq,
    };
    let writes = vec![
        conversation_message("bob", &message("alice", "bob", 5), 50),
        // An older message only fills in what is missing.
        conversation_message("bob", &message("alice", "bob", 3), 30),
        read(4),
        read(1),
        conversation_message("bob", &message("alice", "bob", 6), 60),
    ];
    let c = plan(&loaded, 60, writes);
    // The row, written before rows followed, follows from the first message on: message 6
    // reaches it when read.
    let row = &c.convs[&key];
    assert!(row.follows);
    assert_eq!(
        (row.last_seq, row.read_seq, row.unread, row.last_ts),
        (5, 4, 1, 50)
    );
    let read_now = crate::rows::follow(row.clone(), Some((6, 60)));
    assert_eq!(
        (
            read_now.last_seq,
            read_now.read_seq,
            read_now.unread,
            read_now.last_ts
        ),
        (6, 4, 2, 60)
    );
    // The sender's own message marks their row read.
    let c = plan(
        &loaded,
        70,
        vec![conversation_message("bob", &message("bob", "alice", 7), 70)],
    );
    let row = &c.convs[&key];
    assert_eq!((row.last_seq, row.read_seq, row.unread), (7, 7, 0));
}

#[test]
fn a_direct_row_is_written_by_its_first_message_and_its_users_sends_only() {
    let conv = message("alice", "bob", 1).conv;
    let key = |u: &str| (app(), user(u), conv.clone());
    // The first message writes both rows, following.
    let c = plan(
        &Loaded::default(),
        1,
        vec![
            conversation_message("alice", &message("alice", "bob", 1), 10),
            conversation_message("bob", &message("alice", "bob", 1), 10),
        ],
    );
    assert!(c.convs[&key("alice")].follows && c.convs[&key("bob")].follows);
    let loaded = Loaded {
        convs: c.convs.clone(),
        ..Loaded::default()
    };
    // The next moves the sender's row alone: the recipient's follows the timeline.
    let next = |from: &str, to: &str, conv_seq: u64| {
        let m = message(from, to, conv_seq);
        let ts = conv_seq as i64 * 10;
        vec![
            conversation_message(from, &m, ts),
            conversation_message(to, &m, ts),
        ]
    };
    let c = plan(&loaded, 2, next("alice", "bob", 2));
    assert_eq!(c.convs.keys().collect::<Vec<_>>(), [&key("alice")]);
    assert_eq!(c.convs[&key("alice")].read_seq, 2);
    // Bob's reply moves his row (and his read marker) alone.
    let c = plan(&loaded, 3, next("bob", "alice", 3));
    assert_eq!(c.convs.keys().collect::<Vec<_>>(), [&key("bob")]);
    let bob = &c.convs[&key("bob")];
    assert_eq!((bob.last_seq, bob.read_seq, bob.unread), (3, 3, 0));
}

#[test]
fn a_service_row_follows_for_its_customer_and_service_account_but_not_for_an_agent() {
    // Alice asks shop; bob is the agent serving her.
    let conv = ConvId::service(&user("shop"), &user("alice"));
    let key = |u: &str| (app(), user(u), conv.clone());
    let m = |from: &str, conv_seq: u64| MessageView {
        conv: conv.clone(),
        to: if from == "alice" {
            tidings_domain::Recipient::Service(user("shop"))
        } else {
            tidings_domain::Recipient::User(user("alice"))
        },
        ..message(from, "shop", conv_seq)
    };
    let readers = |from: &str, conv_seq: u64| {
        let m = m(from, conv_seq);
        ["alice", "shop", "bob"]
            .map(|u| conversation_message(u, &m, conv_seq as i64 * 10))
            .to_vec()
    };
    let c = plan(&Loaded::default(), 1, readers("alice", 1));
    let follows = |c: &Changes, u: &str| c.convs[&key(u)].follows;
    assert!(follows(&c, "alice") && follows(&c, "shop") && !follows(&c, "bob"));
    let loaded = Loaded {
        convs: c.convs.clone(),
        ..Loaded::default()
    };
    // The customer's next message moves her row and the agent's, who may hand the session on.
    let c = plan(&loaded, 2, readers("alice", 2));
    let mut written: Vec<_> = c.convs.keys().map(|k| k.1.as_str()).collect();
    written.sort();
    assert_eq!(written, ["alice", "bob"]);
    // The agent's answer moves the agent's row alone.
    let c = plan(&loaded, 3, readers("bob", 2));
    assert_eq!(c.convs.keys().collect::<Vec<_>>(), [&key("bob")]);
    assert_eq!(c.convs[&key("bob")].read_seq, 2);
}

/// Message `conv_seq` of group `g1`, from `from`.
fn group_message(from: &str, conv_seq: u64) -> MessageView {
    let group = GroupId::parse("g1").unwrap();
    MessageView {
        conv: ConvId::group(&group),
        to: tidings_domain::Recipient::Group(group),
        ..message(from, "nobody", conv_seq)
    }
}

#[test]
fn a_group_row_follows_its_timeline_until_its_member_leaves() {
    let conv = group_message("alice", 1).conv;
    let key = (app(), user("bob"), conv.clone());
    let read = |conv_seq| Write::ConversationRead {
        app: app(),
        user: user("bob"),
        conv: conv.clone(),
        conv_seq,
    };
    let left = |last: Option<u64>| Write::ConversationLeft {
        app: app(),
        user: user("bob"),
        conv: conv.clone(),
        last: last.map(|s| {
            (
                s as i64 * 10,
                std::sync::Arc::new(group_message("carol", s)),
            )
        }),
    };
    // Written once, the row follows; a read marker past its stored message moves it along.
    let c = plan(
        &Loaded::default(),
        9,
        vec![
            conversation_message("bob", &group_message("alice", 2), 20),
            read(5),
        ],
    );
    let row = c.convs[&key].clone();
    assert!(row.follows);
    assert_eq!((row.last_seq, row.read_seq, row.unread), (5, 5, 0));
    // A read takes the rest from the timeline's newest message, its time too when the
    // marker already stands at it.
    let at_marker = crate::rows::follow(row.clone(), Some((5, 50)));
    assert_eq!(
        (at_marker.last_seq, at_marker.last_ts, at_marker.unread),
        (5, 50, 0)
    );
    let read_now = crate::rows::follow(row.clone(), Some((9, 90)));
    assert!(!read_now.follows);
    assert_eq!(
        (read_now.last_seq, read_now.last_ts, read_now.unread),
        (9, 90, 4)
    );
    // Leaving stops it at the group's last message; a second leave changes nothing.
    let mut loaded = Loaded::default();
    loaded.convs.insert(key.clone(), row);
    let c = plan(&loaded, 10, vec![left(Some(8)), left(Some(12))]);
    let frozen = &c.convs[&key];
    assert!(!frozen.follows);
    assert_eq!((frozen.last_seq, frozen.last_ts, frozen.unread), (8, 80, 3));
    let read_now = crate::rows::follow(frozen.clone(), Some((12, 120)));
    assert_eq!((read_now.last_seq, read_now.unread), (8, 3));
    // No row, nothing to freeze.
    assert!(
        plan(&Loaded::default(), 10, vec![left(Some(8))])
            .convs
            .is_empty()
    );
    // A row a marker moved to the group's last message stops there with that message's time.
    let c = plan(
        &Loaded::default(),
        11,
        vec![
            conversation_message("bob", &group_message("alice", 2), 20),
            read(5),
            left(Some(5)),
        ],
    );
    let frozen = &c.convs[&key];
    assert_eq!((frozen.last_seq, frozen.last_ts, frozen.unread), (5, 50, 0));
}

#[test]
fn a_read_marker_for_a_conversation_without_a_row_writes_nothing() {
    let writes = vec![Write::ConversationRead {
        app: app(),
        user: user("bob"),
        conv: message("alice", "bob", 1).conv,
        conv_seq: 3,
    }];
    assert_eq!(plan(&Loaded::default(), 3, writes).convs.len(), 0);
}

#[test]
fn removals_mark_their_conversation_and_clear_marks_never_move_back() {
    let conv = message("alice", "bob", 1).conv;
    let clear = |up_to| Write::Clear {
        app: app(),
        user: user("bob"),
        conv: conv.clone(),
        up_to,
    };
    let hide = |conv_seq| Write::Hide {
        app: app(),
        user: user("bob"),
        conv: conv.clone(),
        conv_seq,
    };
    let key = (app(), user("bob"), conv.clone());
    let writes = vec![hide(4), clear(2), hide(4), clear(5), hide(6)];
    assert_eq!(RowKeys::of(&writes).cleared.len(), 1);
    let c = plan(&Loaded::default(), 9, writes);
    let hidden: BTreeSet<u64> = c.hidden.iter().map(|(_, _, _, seq)| *seq).collect();
    assert_eq!(hidden, [4, 6].into());
    assert_eq!(c.cleared[&key], 5);
    assert!(c.entries.is_empty() && c.convs.is_empty());
    // A hide marks the conversation (0: nothing cleared) and keeps a stored mark as it is.
    assert_eq!(plan(&Loaded::default(), 9, vec![hide(1)]).cleared[&key], 0);
    let mut loaded = Loaded::default();
    loaded.cleared.insert(key.clone(), 7);
    assert_eq!(plan(&loaded, 9, vec![hide(8)]).cleared[&key], 7);
    assert_eq!(plan(&loaded, 9, vec![clear(3)]).cleared[&key], 7);
}

#[test]
fn a_user_changed_twice_keeps_one_feed_entry_and_names_the_others_stale() {
    let key = (app(), user("alice"));
    let mut loaded = Loaded::default();
    loaded.users.insert(key.clone(), user_row("alice", 4));
    let writes = vec![
        Write::PutUser {
            profile: profile("alice", 2),
            cursor: 10,
        },
        Write::UserStatus {
            app: app(),
            user: user("alice"),
            deactivated: Some(true),
            token_epoch: None,
            cursor: 12,
        },
        // Not registered: a status change alone writes nothing.
        Write::UserStatus {
            app: app(),
            user: user("nobody"),
            deactivated: Some(true),
            token_epoch: Some(2),
            cursor: 13,
        },
    ];
    let c = plan(&loaded, 13, writes);
    assert_eq!(c.users.len(), 1);
    let change = &c.users[&key];
    assert_eq!(change.row.profile.version, 2);
    assert!(change.row.deactivated);
    assert_eq!(change.row.cursor, 12);
    assert_eq!(change.stale_cursors, BTreeSet::from([4, 10]));
}

#[test]
fn a_new_user_has_no_stale_feed_entry() {
    let writes = vec![Write::PutUser {
        profile: profile("bob", 1),
        cursor: 3,
    }];
    let c = plan(&Loaded::default(), 3, writes);
    let change = &c.users[&(app(), user("bob"))];
    assert_eq!(
        (
            change.row.cursor,
            change.row.token_epoch,
            change.row.deactivated
        ),
        (3, 0, false)
    );
    assert!(change.stale_cursors.is_empty());
}

#[test]
fn relation_patches_apply_over_the_loaded_row() {
    let key = (app(), user("alice"), user("bob"));
    let mut loaded = Loaded::default();
    loaded.relations.insert(
        key.clone(),
        Relation {
            user: user("bob"),
            friend: false,
            request: Some(Direction::Out),
            note: Some("hi".into()),
            blocked: false,
            ts: 1,
            cursor: 1,
        },
    );
    let patch = |patch| Write::Relation {
        app: app(),
        user: user("alice"),
        other: user("bob"),
        patch,
        ts: 9,
        cursor: 9,
    };
    let writes = vec![
        patch(RelationPatch {
            friend: Some(true),
            request: Some(None),
            ..Default::default()
        }),
        patch(RelationPatch {
            blocked: Some(true),
            ..Default::default()
        }),
    ];
    let row = &plan(&loaded, 9, writes).relations[&key];
    assert!(row.friend && row.blocked);
    assert_eq!((row.request, &row.note, row.cursor), (None, &None, 9));
}

#[test]
fn a_removed_member_keeps_a_left_group_row_and_the_last_change_wins() {
    let team = GroupId::parse("team").unwrap();
    let member = MemberRow {
        user: user("bob"),
        role: Role::Member,
        muted: false,
        joined_at: 1,
    };
    let writes = vec![
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
    ];
    let c = plan(&Loaded::default(), 4, writes);
    assert_eq!(
        c.members[&(app(), team.clone(), user("bob"))],
        MemberChange {
            cursor: 4,
            row: None
        }
    );
    let row = &c.user_groups[&(app(), user("bob"), team)];
    assert_eq!((row.role, row.cursor), (None, 4));
}

#[test]
fn timeline_rows_are_keyed_by_conversation_and_seq() {
    let m = message("alice", "bob", 2);
    let writes = vec![Write::Timeline {
        app: app(),
        ts: 20,
        message: m.clone().into(),
    }];
    let c = plan(&Loaded::default(), 20, writes);
    let row = &c.timeline[&(app(), m.conv.clone(), 2)];
    assert_eq!((row.ts, &*row.message), (20, &m));
}

#[test]
fn annotations_rewrite_the_loaded_or_batched_timeline_row_and_never_undo_a_recall() {
    let (m1, m2) = (message("alice", "bob", 1), message("alice", "bob", 2));
    let conv = m1.conv.clone();
    let mut loaded = Loaded::default();
    let stored = TimelineMessage {
        ts: 10,
        message: m1.clone().into(),
    };
    loaded.timeline.insert((app(), conv.clone(), 1), stored);
    let annotate = |conv_seq, annotation| Write::Annotate {
        app: app(),
        conv: conv.clone(),
        conv_seq,
        annotation,
    };
    let edit = |edit_seq, text: &str| Annotation::Edited {
        body: Body::Text { text: text.into() },
        edit_seq,
        ts: 30 + edit_seq as i64,
    };
    let writes = vec![
        annotate(1, edit(2, "second")),
        annotate(1, edit(1, "first, replayed")),
        Write::Timeline {
            app: app(),
            ts: 20,
            message: m2.clone().into(),
        },
        annotate(2, Annotation::Recalled { by: None, ts: 40 }),
        annotate(2, edit(1, "after the recall")),
        annotate(3, Annotation::Recalled { by: None, ts: 40 }),
    ];
    assert_eq!(
        RowKeys::of(&writes).timeline,
        FxHashSet::from_iter([(&app(), &conv, 1), (&app(), &conv, 2), (&app(), &conv, 3)])
    );
    let c = plan(&loaded, 40, writes);
    let edited = &c.timeline[&(app(), conv.clone(), 1)].message;
    assert_eq!(
        (&edited.body, edited.edit_seq, edited.edited_at),
        (
            &Some(Body::Text {
                text: "second".into()
            }),
            2,
            Some(32)
        )
    );
    let recalled = &c.timeline[&(app(), conv.clone(), 2)].message;
    assert_eq!((&recalled.body, recalled.edit_seq), (&None, 0));
    assert_eq!(
        recalled.recalled,
        Some(crate::model::Recalled { by: None, ts: 40 })
    );
    assert!(
        !c.timeline.contains_key(&(app(), conv, 3)),
        "no row, nothing written"
    );
}

#[test]
fn row_keys_name_exactly_the_rows_the_plan_reads() {
    let m = message("alice", "bob", 1);
    let writes = vec![
        notice("bob", 1),
        notice("bob", 2),
        notice("carol", 2),
        conversation_message("bob", &m, 1),
        Write::Timeline {
            app: app(),
            ts: 1,
            message: m.clone().into(),
        },
        Write::UserStatus {
            app: app(),
            user: user("dave"),
            deactivated: None,
            token_epoch: Some(1),
            cursor: 3,
        },
    ];
    let keys = RowKeys::of(&writes);
    let (demo, bob, carol, dave) = (app(), user("bob"), user("carol"), user("dave"));
    assert_eq!(
        keys.heads,
        FxHashSet::from_iter([(&demo, &bob), (&demo, &carol)])
    );
    assert_eq!(keys.convs, FxHashSet::from_iter([(&demo, &bob, &m.conv)]));
    assert_eq!(keys.users, FxHashSet::from_iter([(&demo, &dave)]));
    assert!(keys.relations.is_empty());
}

fn reaction(reactor: &str, to: &str, added: bool, cursor: u64) -> Vec<Write> {
    let notice = crate::model::ReactionNotice {
        conv: ConvId::direct(&user("alice"), &user("bob")),
        conv_seq: 1,
        msg_id: msg_id(1),
        user: user(reactor),
        key: "+1".into(),
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
            user: user(to),
            notice,
            ts: cursor as i64,
            cursor,
        },
    ]
}

/// Applies `batches` one after the other, carrying the rows each wrote into the next one's
/// `Loaded` as a store would; the entries delivered.
fn run_batches(batches: Vec<Vec<Write>>) -> (Vec<Delivery>, Changes) {
    let mut loaded = Loaded::default();
    let mut delivered = Vec::new();
    let mut last = Changes::default();
    for (i, writes) in batches.into_iter().enumerate() {
        let c = plan(&loaded, i as u64 + 1, writes);
        loaded.heads.extend(c.heads.clone());
        loaded.reaction_marks.extend(c.reaction_marks.clone());
        delivered.extend(c.entries.clone());
        last = c;
    }
    (delivered, last)
}

#[test]
fn a_repeated_reaction_is_told_once_however_events_fall_into_batches() {
    let events = [
        reaction("bob", "alice", true, 10),
        reaction("bob", "alice", true, 11),
        reaction("bob", "alice", false, 12),
        reaction("bob", "alice", false, 13),
        reaction("bob", "alice", true, 14),
    ];
    let one_batch = run_batches(vec![events.concat()]).0;
    let each_alone = run_batches(events.to_vec()).0;
    let told = |d: &[Delivery]| -> Vec<(u64, bool)> {
        d.iter()
            .map(|d| match &d.entry.item {
                EntryItem::Reaction(n) => (d.entry.seq, n.added),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(told(&one_batch), [(1, true), (2, false), (3, true)]);
    assert_eq!(told(&each_alone), told(&one_batch));
}

#[test]
fn a_reaction_row_is_set_then_deleted() {
    let (_, c) = run_batches(vec![
        [
            reaction("bob", "alice", true, 10),
            reaction("bob", "alice", false, 11),
        ]
        .concat(),
    ]);
    let key = (
        app(),
        ConvId::direct(&user("alice"), &user("bob")),
        1,
        "+1".to_owned(),
        user("bob"),
    );
    assert_eq!(c.reactions.get(&key), Some(&None));
}

#[test]
fn a_removal_of_nothing_tells_no_one() {
    let (delivered, _) = run_batches(vec![reaction("bob", "alice", false, 10)]);
    assert!(delivered.is_empty());
}
