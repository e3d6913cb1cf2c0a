//! The pure fold: one event in, the read-model writes it implies out.

use crate::annotation_fold::{project_pin, project_reaction};
use crate::directory::Directory;
use crate::group_fold::{project_group, project_group_message};
use crate::service_fold::{project_service_message, project_service_session};
use std::sync::Arc;
use tidings_domain::event::{DeviceChange, MessageSent, PairChange, PairChanged};
use tidings_domain::{AppId, ConvId, Event, Recipient, UserId};
use tidings_events::Envelope;
use tidings_store::broadcasts::{BroadcastRow, EVERYONE};
use tidings_store::{
    Annotation, ClearedNotice, DeviceReadRow, DeviceRow, Direction, EditNotice, EntryItem,
    HiddenNotice, MessageView, PushRow, ReadReceipt, RecallNotice, RelationNotice, RelationPatch,
    SettingsNotice, SettingsRow, SystemNotice, Write,
};

/// The users whose inbox receives a direct message: the sender too, for their other devices.
fn recipients(message: &MessageSent, to: &UserId) -> Vec<UserId> {
    if to == &message.from {
        vec![message.from.clone()]
    } else {
        vec![message.from.clone(), to.clone()]
    }
}

/// The inbox entry, the users who get it, and the two relation rows' patches for a
/// relationship change. Blocks are private: only the blocker's devices hear of them.
fn pair_effects(p: &PairChanged) -> (EntryItem, Vec<&UserId>, RelationPatch, RelationPatch) {
    let notice = RelationNotice {
        from: p.actor.clone(),
        to: p.other.clone(),
        note: None,
    };
    let both = vec![&p.actor, &p.other];
    let befriend = RelationPatch {
        friend: Some(true),
        request: Some(None),
        ..Default::default()
    };
    let clear_request = RelationPatch {
        request: Some(None),
        ..Default::default()
    };
    let unfriend = RelationPatch {
        friend: Some(false),
        ..Default::default()
    };
    let block = |blocked| RelationPatch {
        blocked: Some(blocked),
        ..Default::default()
    };
    match &p.change {
        PairChange::FriendRequested { note } => (
            EntryItem::FriendRequest(RelationNotice {
                note: note.clone(),
                ..notice
            }),
            both,
            RelationPatch {
                request: Some(Some((Direction::Out, note.clone()))),
                ..Default::default()
            },
            RelationPatch {
                request: Some(Some((Direction::In, note.clone()))),
                ..Default::default()
            },
        ),
        PairChange::FriendAccepted => (
            EntryItem::FriendAccepted(notice),
            both,
            befriend.clone(),
            befriend,
        ),
        PairChange::FriendAdded => (
            EntryItem::FriendAdded(notice),
            both,
            befriend.clone(),
            befriend,
        ),
        PairChange::FriendRejected => (
            EntryItem::FriendRejected(notice),
            both,
            clear_request.clone(),
            clear_request,
        ),
        PairChange::FriendRequestCanceled => (
            EntryItem::FriendRequestCanceled(notice),
            both,
            clear_request.clone(),
            clear_request,
        ),
        PairChange::FriendRemoved => (
            EntryItem::FriendRemoved(notice),
            both,
            unfriend.clone(),
            unfriend,
        ),
        PairChange::Blocked => (
            EntryItem::UserBlocked(notice),
            vec![&p.actor],
            block(true),
            RelationPatch::default(),
        ),
        PairChange::Unblocked => (
            EntryItem::UserUnblocked(notice),
            vec![&p.actor],
            block(false),
            RelationPatch::default(),
        ),
    }
}

/// Groups above this many members use read diffusion.
pub const DEFAULT_LARGE_GROUP: usize = 200;

/// The writes for one event, in the order they must apply, pushed onto `out`. Group events
/// and group messages read and move `directory`; `large_group` is the read-diffusion
/// threshold. The event is consumed: a message's strings move into its rows instead of being
/// copied.
pub fn project(
    envelope: Envelope,
    directory: &mut Directory,
    large_group: usize,
    out: &mut Vec<Write>,
) {
    let cursor = envelope.stream_seq;
    let writes = match envelope.event {
        // Apps have no read model: every instance reads them from their subjects.
        Event::AppChanged(_) => Vec::new(),
        // A service's roster is read from its subject by the api (like apps).
        Event::ServiceRosterChanged(_) => Vec::new(),
        Event::ServiceSessionChanged(s) => project_service_session(&s, cursor),
        Event::ServiceMessageSent(m) => project_service_message(&m, cursor),
        Event::PushSettingsChanged(p) => vec![Write::Push {
            app: p.app.clone(),
            user: p.user.clone(),
            row: PushRow {
                settings: p.settings.clone(),
                cursor,
            },
        }],
        Event::GroupChanged(g) => project_group(&g, cursor, directory, large_group),
        Event::SystemMessageSent(m) => {
            let item = EntryItem::System(SystemNotice {
                msg_id: m.msg_id.clone(),
                body: m.body.clone(),
            });
            m.to.iter()
                .map(|user| Write::Deliver {
                    app: m.app.clone(),
                    user: user.clone(),
                    ts: m.ts,
                    item: item.clone(),
                    cursor,
                })
                .collect()
        }
        Event::ConversationRead(r) => {
            let receipt = EntryItem::Read(ReadReceipt {
                conv: r.conv.clone(),
                user: r.user.clone(),
                conv_seq: r.conv_seq,
            });
            let mut writes = vec![Write::ConversationRead {
                app: r.app.clone(),
                user: r.user.clone(),
                conv: r.conv.clone(),
                conv_seq: r.conv_seq,
            }];
            if let Some(device) = &r.device {
                writes.push(Write::DeviceRead {
                    app: r.app.clone(),
                    user: r.user.clone(),
                    row: DeviceReadRow {
                        device: device.clone(),
                        conv: r.conv.clone(),
                        conv_seq: r.conv_seq,
                        ts: r.ts,
                        cursor,
                    },
                });
            }
            // The reader's devices, and for a direct conversation the peer (a read receipt).
            let mut to = vec![r.user.clone()];
            to.extend(r.conv.direct_peer(&r.user));
            for user in to {
                writes.push(Write::Deliver {
                    app: r.app.clone(),
                    user,
                    ts: r.ts,
                    item: receipt.clone(),
                    cursor,
                });
            }
            writes
        }
        // A removal changes the user's own view only: their rows, and an entry for their
        // other devices.
        Event::MessageHidden(h) => vec![
            Write::Hide {
                app: h.app.clone(),
                user: h.user.clone(),
                conv: h.conv.clone(),
                conv_seq: h.conv_seq,
            },
            Write::Deliver {
                app: h.app.clone(),
                user: h.user.clone(),
                ts: h.ts,
                item: EntryItem::Hidden(HiddenNotice {
                    conv: h.conv.clone(),
                    conv_seq: h.conv_seq,
                }),
                cursor,
            },
        ],
        Event::ConversationCleared(c) => vec![
            Write::Clear {
                app: c.app.clone(),
                user: c.user.clone(),
                conv: c.conv.clone(),
                up_to: c.up_to,
            },
            Write::Deliver {
                app: c.app.clone(),
                user: c.user.clone(),
                ts: c.ts,
                item: EntryItem::Cleared(ClearedNotice {
                    conv: c.conv.clone(),
                    up_to: c.up_to,
                }),
                cursor,
            },
        ],
        // The user's other devices learn the change live and at catch-up.
        Event::ConversationSettingsChanged(c) => vec![
            Write::Settings {
                app: c.app.clone(),
                user: c.user.clone(),
                row: SettingsRow {
                    conv: c.conv.clone(),
                    settings: c.settings.clone(),
                    cursor,
                },
            },
            Write::Deliver {
                app: c.app.clone(),
                user: c.user.clone(),
                ts: c.ts,
                item: EntryItem::Settings(SettingsNotice {
                    conv: c.conv.clone(),
                    settings: c.settings.clone(),
                }),
                cursor,
            },
        ],
        Event::MessageRecalled(r) => {
            let annotation = Annotation::Recalled {
                by: r.by.clone(),
                ts: r.ts,
            };
            let item = EntryItem::Recalled(RecallNotice {
                conv: r.conv.clone(),
                conv_seq: r.conv_seq,
                msg_id: r.msg_id.clone(),
                by: r.by.clone(),
            });
            let target = (&r.app, &r.conv, r.conv_seq, r.ts);
            project_annotation(target, annotation, item, cursor, directory)
        }
        Event::MessageEdited(e) => {
            let annotation = Annotation::Edited {
                body: e.body.clone(),
                edit_seq: e.edit_seq,
                ts: e.ts,
            };
            let item = EntryItem::Edited(EditNotice {
                conv: e.conv.clone(),
                conv_seq: e.conv_seq,
                msg_id: e.msg_id.clone(),
                body: e.body.clone(),
                edit_seq: e.edit_seq,
            });
            let target = (&e.app, &e.conv, e.conv_seq, e.ts);
            project_annotation(target, annotation, item, cursor, directory)
        }
        Event::ReactionAdded(r) => project_reaction(&r, true, cursor, directory),
        Event::ReactionRemoved(r) => project_reaction(&r, false, cursor, directory),
        Event::MessagePinned(p) => project_pin(&p, true, cursor, directory),
        Event::MessageUnpinned(p) => project_pin(&p, false, cursor, directory),
        // Messages, nearly every event of a stream, push their writes onto `out` where they
        // are built (a write is hundreds of bytes: moved once, not twice); other events'
        // few writes are appended below.
        Event::MessageSent(message) => match &message.to {
            Recipient::Group(group) => {
                let group = group.clone();
                return project_group_message(message, &group, cursor, directory, out);
            }
            Recipient::User(to) => {
                let users = recipients(&message, to);
                return project_direct(message, users, cursor, out);
            }
            // Never recorded: service conversations record `service_message_sent`.
            Recipient::Service(_) => Vec::new(),
        },
        // A new user joins the audience of broadcasts to everyone from now on.
        Event::UserRegistered(profile) => vec![
            Write::PutUser {
                profile: profile.clone(),
                cursor,
            },
            Write::Tag {
                app: profile.app.clone(),
                user: profile.user.clone(),
                tag: EVERYONE.to_owned(),
                since: Some(cursor),
            },
        ],
        Event::UserProfileUpdated(profile) => {
            vec![Write::PutUser {
                profile: profile.clone(),
                cursor,
            }]
        }
        Event::UserTagsChanged(t) => {
            let joined = t.added.iter().map(|tag| (tag, Some(cursor)));
            let left = t.removed.iter().map(|tag| (tag, None));
            joined
                .chain(left)
                .map(|(tag, since)| Write::Tag {
                    app: t.app.clone(),
                    user: t.user.clone(),
                    tag: tag.to_string(),
                    since,
                })
                .collect()
        }
        // Stored once; readers decide who sees it (read diffusion).
        Event::BroadcastSent(b) => vec![Write::Broadcast {
            app: b.app.clone(),
            row: BroadcastRow {
                bseq: b.bseq,
                msg_id: b.msg_id.clone(),
                tag: b.tag.clone(),
                body: b.body.clone(),
                ts: b.ts,
                pos: cursor,
            },
        }],
        Event::UserDeactivated(d) => vec![Write::UserStatus {
            app: d.app.clone(),
            user: d.user.clone(),
            deactivated: Some(true),
            token_epoch: None,
            cursor,
        }],
        Event::UserTokensRevoked(r) => vec![Write::UserStatus {
            app: r.app.clone(),
            user: r.user.clone(),
            deactivated: None,
            token_epoch: Some(r.epoch),
            cursor,
        }],
        Event::DeviceRegistered(d) => vec![device_write(&d, false, cursor)],
        Event::DeviceSignedOut(d) => vec![device_write(&d, true, cursor)],
        Event::PairChanged(p) => {
            let (item, recipients, actor_patch, other_patch) = pair_effects(&p);
            let mut writes: Vec<Write> = recipients
                .into_iter()
                .map(|user| Write::Deliver {
                    app: p.app.clone(),
                    user: user.clone(),
                    ts: p.ts,
                    item: item.clone(),
                    cursor,
                })
                .collect();
            for (user, other, patch) in [
                (&p.actor, &p.other, actor_patch),
                (&p.other, &p.actor, other_patch),
            ] {
                if patch != RelationPatch::default() {
                    writes.push(Write::Relation {
                        app: p.app.clone(),
                        user: user.clone(),
                        other: other.clone(),
                        patch,
                        ts: p.ts,
                        cursor,
                    });
                }
            }
            writes
        }
    };
    out.extend(writes);
}

/// A recall or an edit: the message's timeline row changes, and every participant (every
/// member of a group, whatever its diffusion: they may hold the message) gets `item`.
fn project_annotation(
    (app, conv, conv_seq, ts): (&AppId, &ConvId, u64, i64),
    annotation: Annotation,
    item: EntryItem,
    cursor: u64,
    directory: &Directory,
) -> Vec<Write> {
    let participants = match conv.group_id() {
        Some(group) => match directory.get(app, &group) {
            Some(roster) => roster.members.keys().cloned().collect(),
            None => {
                tracing::error!(%group, "a message of a group the projection never saw created");
                Vec::new()
            }
        },
        None => conv.direct_users(),
    };
    let mut writes = vec![Write::Annotate {
        app: app.clone(),
        conv: conv.clone(),
        conv_seq,
        annotation,
    }];
    writes.extend(participants.into_iter().map(|user| Write::Deliver {
        app: app.clone(),
        user,
        ts,
        item: item.clone(),
        cursor,
    }));
    writes
}

/// A user's device row after a registration or sign-out (the whole row: no read before write).
fn device_write(d: &DeviceChange, signed_out: bool, cursor: u64) -> Write {
    Write::Device {
        app: d.app.clone(),
        user: d.user.clone(),
        row: DeviceRow {
            device: d.device.clone(),
            platform: d.platform,
            at: d.ts,
            signed_out,
            cursor,
        },
    }
}

/// A direct message: its timeline row, and an entry and a conversation row for each of
/// `users`, all sharing one view of it, pushed onto `writes`.
fn project_direct(message: MessageSent, users: Vec<UserId>, cursor: u64, writes: &mut Vec<Write>) {
    let (app, ts) = (message.app.clone(), message.ts);
    let view = Arc::new(MessageView::from(message));
    writes.reserve(1 + 2 * users.len());
    writes.push(Write::Timeline {
        app: app.clone(),
        ts,
        message: Arc::clone(&view),
    });
    for user in users {
        writes.push(Write::Deliver {
            app: app.clone(),
            user: user.clone(),
            ts,
            item: EntryItem::Message(Arc::clone(&view)),
            cursor,
        });
        writes.push(Write::ConversationMessage {
            app: app.clone(),
            user,
            ts,
            message: Arc::clone(&view),
        });
    }
}

#[cfg(test)]
mod tests {
    //! Given an event, then these writes.
    use super::*;
    use tidings_domain::event::{PairChange, PairChanged, UserProfile};
    use tidings_domain::{AppId, Body, ClientMsgId, ConvId, MessageId};

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn sent(from: &str, to: &str) -> Envelope {
        let (from, to) = (id(from), id(to));
        Envelope {
            stream_seq: 9,
            subject: "tid.evt.demo.conv.x".into(),
            event: Event::MessageSent(MessageSent {
                app: AppId::parse("demo").unwrap(),
                conv: ConvId::direct(&from, &to),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
                conv_seq: 4,
                from,
                to: Recipient::User(to),
                client_msg_id: ClientMsgId::parse("c1").unwrap(),
                body: Body::Text { text: "hi".into() },
                mentions: Vec::new(),
                mention_all: false,
                reply_to: None,
                forward_of: None,
                ts: 77,
            }),
        }
    }

    fn project_one(envelope: &Envelope) -> Vec<Write> {
        let mut writes = Vec::new();
        let envelope = envelope.clone();
        project(
            envelope,
            &mut Directory::default(),
            DEFAULT_LARGE_GROUP,
            &mut writes,
        );
        writes
    }

    fn delivered_to(writes: &[Write]) -> Vec<&str> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::Deliver { user, .. } => Some(user.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_direct_message_reaches_both_inboxes_and_the_timeline() {
        let writes = project_one(&sent("alice", "bob"));
        assert_eq!(delivered_to(&writes), ["alice", "bob"]);
        assert!(
            matches!(&writes[0], Write::Timeline { message, ts: 77, .. } if message.conv_seq == 4)
        );
        let conv_rows = writes
            .iter()
            .filter(|w| matches!(w, Write::ConversationMessage { .. }))
            .count();
        assert_eq!(conv_rows, 2);
    }

    #[test]
    fn a_recall_tombstones_the_timeline_row_and_tells_both_users() {
        let (alice, bob) = (id("alice"), id("bob"));
        let envelope = Envelope {
            stream_seq: 10,
            subject: "tid.evt.demo.conv.d~alice~bob".into(),
            event: Event::MessageRecalled(tidings_domain::event::MessageRecalled {
                app: AppId::parse("demo").unwrap(),
                conv: ConvId::direct(&alice, &bob),
                conv_seq: 4,
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
                by: None,
                ts: 80,
            }),
        };
        let writes = project_one(&envelope);
        assert!(matches!(
            &writes[0],
            Write::Annotate {
                conv_seq: 4,
                annotation: Annotation::Recalled { by: None, ts: 80 },
                ..
            }
        ));
        assert_eq!(delivered_to(&writes), ["alice", "bob"]);
        assert!(writes[1..].iter().all(|w| matches!(
            w,
            Write::Deliver { item: EntryItem::Recalled(r), cursor: 10, .. } if r.conv_seq == 4
        )));
    }

    #[test]
    fn a_note_to_self_is_delivered_once() {
        let writes = project_one(&sent("alice", "alice"));
        assert_eq!(delivered_to(&writes), ["alice"]);
    }

    #[test]
    fn app_changes_write_nothing() {
        let created = Envelope {
            stream_seq: 3,
            subject: "tid.evt.acme.app.acme".into(),
            event: Event::AppChanged(tidings_domain::event::AppChanged {
                app: AppId::parse("acme").unwrap(),
                change: tidings_domain::event::AppChange::Created {
                    secret: "0123456789abcdef".into(),
                    settings: Default::default(),
                },
                ts: 1,
            }),
        };
        assert!(project_one(&created).is_empty());
    }

    fn pair(change: PairChange) -> Envelope {
        let (actor, other) = (id("alice"), id("bob"));
        Envelope {
            stream_seq: 12,
            subject: "tid.evt.demo.conv.d~alice~bob".into(),
            event: Event::PairChanged(PairChanged {
                app: AppId::parse("demo").unwrap(),
                conv: ConvId::direct(&actor, &other),
                actor,
                other,
                change,
                ts: 5,
            }),
        }
    }

    #[test]
    fn a_friend_request_notifies_both_and_marks_both_rows() {
        let writes = project_one(&pair(PairChange::FriendRequested {
            note: Some("hi".into()),
        }));
        assert_eq!(delivered_to(&writes), ["alice", "bob"]);
        let directions: Vec<_> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Relation {
                    user,
                    patch,
                    cursor: 12,
                    ..
                } => Some((user.as_str(), patch.request.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            directions,
            [
                ("alice", Some(Some((Direction::Out, Some("hi".into()))))),
                ("bob", Some(Some((Direction::In, Some("hi".into())))))
            ]
        );
    }

    #[test]
    fn a_block_is_private_to_the_blocker() {
        let writes = project_one(&pair(PairChange::Blocked));
        assert_eq!(delivered_to(&writes), ["alice"]);
        let rows: Vec<_> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Relation { user, .. } => Some(user.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(rows, ["alice"]);
    }

    #[test]
    fn a_hide_and_a_clear_reach_only_the_users_own_rows_and_devices() {
        let (app, alice, bob) = (AppId::parse("demo").unwrap(), id("alice"), id("bob"));
        let conv = ConvId::direct(&alice, &bob);
        let hidden = Envelope {
            stream_seq: 20,
            subject: "tid.evt.demo.reads.bob".into(),
            event: Event::MessageHidden(tidings_domain::event::MessageHidden {
                app: app.clone(),
                user: bob.clone(),
                conv: conv.clone(),
                conv_seq: 3,
                ts: 9,
            }),
        };
        let writes = project_one(&hidden);
        assert_eq!(delivered_to(&writes), ["bob"]);
        assert_eq!(
            writes[0],
            Write::Hide {
                app: app.clone(),
                user: bob.clone(),
                conv: conv.clone(),
                conv_seq: 3
            }
        );
        let cleared = Envelope {
            stream_seq: 21,
            subject: "tid.evt.demo.reads.bob".into(),
            event: Event::ConversationCleared(tidings_domain::event::ConversationCleared {
                app: app.clone(),
                user: bob.clone(),
                conv: conv.clone(),
                up_to: 4,
                ts: 9,
            }),
        };
        let writes = project_one(&cleared);
        assert_eq!(delivered_to(&writes), ["bob"]);
        assert!(matches!(
            &writes[1],
            Write::Deliver {
                item: EntryItem::Cleared(ClearedNotice { up_to: 4, .. }),
                cursor: 21,
                ..
            }
        ));
    }

    #[test]
    fn a_profile_becomes_a_user_row() {
        let profile = UserProfile {
            app: AppId::parse("demo").unwrap(),
            user: id("alice"),
            name: "Alice".into(),
            avatar_url: None,
            extra: None,
            version: 1,
            ts: 1,
        };
        let envelope = Envelope {
            stream_seq: 1,
            subject: "tid.evt.demo.user.alice".into(),
            event: Event::UserRegistered(profile.clone()),
        };
        // The new user joins the audience of broadcasts to everyone.
        assert_eq!(
            project_one(&envelope),
            vec![
                Write::PutUser { profile, cursor: 1 },
                Write::Tag {
                    app: AppId::parse("demo").unwrap(),
                    user: id("alice"),
                    tag: EVERYONE.into(),
                    since: Some(1),
                }
            ]
        );
    }

    #[test]
    fn tags_change_audiences_and_a_broadcast_is_one_write() {
        let app = AppId::parse("demo").unwrap();
        let vip = tidings_domain::Tag::parse("vip").unwrap();
        let old = tidings_domain::Tag::parse("old").unwrap();
        let tagged = Envelope {
            stream_seq: 5,
            subject: "tid.evt.demo.user.alice".into(),
            event: Event::UserTagsChanged(tidings_domain::event::UserTagsChanged {
                app: app.clone(),
                user: id("alice"),
                added: vec![vip.clone()],
                removed: vec![old],
                ts: 1,
            }),
        };
        let tag = |name: &str, since| Write::Tag {
            app: app.clone(),
            user: id("alice"),
            tag: name.into(),
            since,
        };
        assert_eq!(
            project_one(&tagged),
            vec![tag("vip", Some(5)), tag("old", None)]
        );
        let sent = tidings_domain::event::BroadcastSent {
            app: app.clone(),
            bseq: 1,
            msg_id: tidings_domain::MessageId::parse("019b7b1c-3a00-7000-8000-000000000001")
                .unwrap(),
            tag: Some(vip),
            body: tidings_domain::Body::Text { text: "hi".into() },
            ts: 2,
        };
        let envelope = Envelope {
            stream_seq: 6,
            subject: "tid.evt.demo.broadcast.demo".into(),
            event: Event::BroadcastSent(sent),
        };
        let writes = project_one(&envelope);
        assert!(
            matches!(&writes[..], [Write::Broadcast { row, .. }] if row.bseq == 1 && row.pos == 6),
            "{writes:?}"
        );
    }
}
