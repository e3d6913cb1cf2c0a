//! The fold for groups: group changes become rows, members and notices; group messages fan
//! out to the members (write diffusion) or, above the large-group size, go to the timeline once
//! with a small `group_advanced` entry per member and full entries for those mentioned.

use crate::directory::{Directory, Roster};
use std::collections::BTreeMap;
use std::sync::Arc;
use tidings_domain::event::{GroupChange, GroupChanged, MessageSent};
use tidings_domain::group::Role;
use tidings_domain::{GroupId, UserId};
use tidings_store::{
    Diffusion, EntryItem, GroupAdvance, GroupNotice, GroupRow, MemberRow, MessageView, Write,
};

/// The diffusion a group of `members` uses, given the large-group size.
fn diffusion(members: usize, large_group: usize) -> Diffusion {
    if members > large_group {
        Diffusion::Read
    } else {
        Diffusion::Write
    }
}

fn everyone(roster: &Roster) -> Vec<UserId> {
    roster.members.keys().cloned().collect()
}

fn admins_and(roster: &Roster, user: &UserId) -> Vec<UserId> {
    let mut users: Vec<UserId> = roster
        .members
        .values()
        .filter(|m| m.role >= Role::Admin)
        .map(|m| m.user.clone())
        .collect();
    if !users.contains(user) {
        users.push(user.clone());
    }
    users
}

struct Out<'a> {
    event: &'a GroupChanged,
    cursor: u64,
    writes: Vec<Write>,
}

impl Out<'_> {
    fn notify(&mut self, users: Vec<UserId>, item: EntryItem) {
        for user in users {
            self.writes.push(Write::Deliver {
                app: self.event.app.clone(),
                user,
                ts: self.event.ts,
                item: item.clone(),
                cursor: self.cursor,
            });
        }
    }

    fn put_member(&mut self, member: &MemberRow) {
        self.writes.push(Write::PutMember {
            app: self.event.app.clone(),
            group: self.event.group.clone(),
            member: member.clone(),
            cursor: self.cursor,
        });
    }

    fn put_group(&mut self, roster: &mut Roster, large_group: usize) {
        roster.row.member_count = roster.members.len();
        roster.row.diffusion = diffusion(roster.members.len(), large_group);
        roster.row.cursor = self.cursor;
        self.writes.push(Write::PutGroup {
            app: self.event.app.clone(),
            row: roster.row.clone(),
        });
    }
}

fn member(user: &UserId, role: Role, ts: i64) -> MemberRow {
    MemberRow {
        user: user.clone(),
        role,
        muted: false,
        joined_at: ts,
    }
}

/// The writes for a group change; `directory` moves along with it.
pub fn project_group(
    event: &GroupChanged,
    cursor: u64,
    directory: &mut Directory,
    large_group: usize,
) -> Vec<Write> {
    let mut out = Out {
        event,
        cursor,
        writes: Vec::new(),
    };
    let notice = GroupNotice::new(event.group.clone(), event.actor.clone());
    let (app, group, actor, ts) = (&event.app, &event.group, &event.actor, event.ts);
    if let GroupChange::Created {
        name,
        avatar_url,
        intro,
        join_policy,
        members,
    } = &event.change
    {
        let mut roster = Roster::new(
            GroupRow {
                group: group.clone(),
                conv: event.conv.clone(),
                name: name.clone(),
                avatar_url: avatar_url.clone(),
                intro: intro.clone(),
                join_policy: *join_policy,
                owner: actor.clone(),
                member_count: 0,
                muted_all: false,
                announcement: None,
                dismissed: false,
                diffusion: Diffusion::Write,
                created_at: ts,
                cursor,
            },
            BTreeMap::new(),
            None,
        );
        roster
            .members
            .insert(actor.clone(), member(actor, Role::Owner, ts));
        for user in members {
            roster
                .members
                .insert(user.clone(), member(user, Role::Member, ts));
        }
        out.put_group(&mut roster, large_group);
        for m in roster.members.values() {
            out.put_member(m);
        }
        let item = EntryItem::GroupCreated(GroupNotice {
            users: members.clone(),
            name: Some(name.clone()),
            ..notice
        });
        out.notify(everyone(&roster), item);
        directory.insert(app, roster);
        return out.writes;
    }
    // Every other change was decided against a created group, so the directory has it.
    let Some(roster) = directory.get_mut(app, group) else {
        tracing::error!(%group, "group change for a group the projection never saw created");
        return out.writes;
    };
    match &event.change {
        GroupChange::Created { .. } => unreachable!("handled above"),
        GroupChange::Updated {
            name,
            avatar_url,
            intro,
            join_policy,
        } => {
            roster.row.name = name.clone();
            roster.row.avatar_url = avatar_url.clone();
            roster.row.intro = intro.clone();
            roster.row.join_policy = *join_policy;
            out.put_group(roster, large_group);
            let item = EntryItem::GroupUpdated(GroupNotice {
                name: Some(name.clone()),
                ..notice
            });
            out.notify(everyone(roster), item);
        }
        GroupChange::Dismissed => {
            roster.row.dismissed = true;
            let members = everyone(roster);
            out.notify(members.clone(), EntryItem::GroupDismissed(notice));
            for user in members {
                out.writes.push(Write::RemoveMember {
                    app: app.clone(),
                    group: group.clone(),
                    user,
                    cursor,
                });
            }
            // The members' rows follow a timeline that gets no more messages: they stay.
            roster.members.clear();
            roster.newcomers.clear();
            out.put_group(roster, large_group);
        }
        GroupChange::OwnerTransferred { to } => {
            for (user, role) in [(actor, Role::Admin), (to, Role::Owner)] {
                if let Some(m) = roster.members.get_mut(user) {
                    m.role = role;
                    let m = m.clone();
                    out.put_member(&m);
                }
            }
            roster.row.owner = to.clone();
            out.put_group(roster, large_group);
            let item = EntryItem::GroupOwnerTransferred(GroupNotice {
                user: Some(to.clone()),
                ..notice
            });
            out.notify(everyone(roster), item);
        }
        GroupChange::AdminSet { user, admin } => {
            if let Some(m) = roster.members.get_mut(user) {
                m.role = if *admin { Role::Admin } else { Role::Member };
                let m = m.clone();
                out.put_member(&m);
            }
            let item = EntryItem::GroupAdminSet(GroupNotice {
                user: Some(user.clone()),
                flag: Some(*admin),
                ..notice
            });
            out.notify(everyone(roster), item);
        }
        GroupChange::MembersAdded { users } => {
            for user in users {
                let m = member(user, Role::Member, ts);
                out.put_member(&m);
                roster.members.insert(user.clone(), m);
                roster.newcomers.insert(user.clone());
            }
            out.put_group(roster, large_group);
            let item = EntryItem::GroupMemberAdded(GroupNotice {
                users: users.clone(),
                ..notice
            });
            out.notify(everyone(roster), item);
        }
        GroupChange::MemberRemoved { user, kicked } => {
            let item = EntryItem::GroupMemberRemoved(GroupNotice {
                user: Some(user.clone()),
                flag: Some(*kicked),
                ..notice
            });
            out.notify(everyone(roster), item);
            roster.members.remove(user);
            roster.newcomers.remove(user);
            out.writes.push(Write::RemoveMember {
                app: app.clone(),
                group: group.clone(),
                user: user.clone(),
                cursor,
            });
            out.writes.push(Write::ConversationLeft {
                app: app.clone(),
                user: user.clone(),
                conv: roster.row.conv.clone(),
                last: roster.last.clone(),
            });
            out.put_group(roster, large_group);
        }
        GroupChange::JoinRequested { note } => {
            let item = EntryItem::GroupJoinRequested(GroupNotice {
                user: Some(actor.clone()),
                note: note.clone(),
                ..notice
            });
            out.notify(admins_and(roster, actor), item);
        }
        GroupChange::JoinDecided { user, approved } => {
            let item = EntryItem::GroupJoinDecided(GroupNotice {
                user: Some(user.clone()),
                flag: Some(*approved),
                ..notice.clone()
            });
            out.notify(admins_and(roster, user), item);
            if *approved {
                let m = member(user, Role::Member, ts);
                out.put_member(&m);
                roster.members.insert(user.clone(), m);
                roster.newcomers.insert(user.clone());
                out.put_group(roster, large_group);
                let item = EntryItem::GroupMemberAdded(GroupNotice {
                    users: vec![user.clone()],
                    ..notice
                });
                out.notify(everyone(roster), item);
            }
        }
        GroupChange::Announced { text } => {
            roster.row.announcement = Some(text.clone());
            out.put_group(roster, large_group);
            let item = EntryItem::GroupAnnouncement(GroupNotice {
                text: Some(text.clone()),
                ..notice
            });
            out.notify(everyone(roster), item);
        }
        GroupChange::MemberMuted { user, muted } => {
            if let Some(m) = roster.members.get_mut(user) {
                m.muted = *muted;
                let m = m.clone();
                out.put_member(&m);
            }
            let item = EntryItem::GroupMemberMuted(GroupNotice {
                user: Some(user.clone()),
                flag: Some(*muted),
                ..notice
            });
            out.notify(admins_and(roster, user), item);
        }
        GroupChange::MutedAll { muted } => {
            roster.row.muted_all = *muted;
            out.put_group(roster, large_group);
            let item = EntryItem::GroupMutedAll(GroupNotice {
                flag: Some(*muted),
                ..notice
            });
            out.notify(everyone(roster), item);
        }
    }
    out.writes
}

/// The writes for a message to a group, pushed onto `writes`. Its sender's conversation row
/// moves to it; every other member's row follows the group's timeline (`Conversation::follows`),
/// so it is written only the first time this fold sees the member, to create it or take it
/// back to following.
pub fn project_group_message(
    message: MessageSent,
    group: &GroupId,
    cursor: u64,
    directory: &mut Directory,
    writes: &mut Vec<Write>,
) {
    let (app, ts) = (message.app.clone(), message.ts);
    let roster = directory.get_mut(&app, group);
    let members = roster.as_ref().map_or(0, |roster| roster.members.len());
    let view = Arc::new(MessageView::from(message));
    writes.reserve(2 + members);
    writes.push(Write::Timeline {
        app: app.clone(),
        ts,
        message: Arc::clone(&view),
    });
    let Some(roster) = roster else {
        tracing::error!(%group, "message to a group the projection never saw created");
        return;
    };
    let advance = EntryItem::GroupAdvanced(GroupAdvance {
        group: group.clone(),
        conv: view.conv.clone(),
        conv_seq: view.conv_seq,
    });
    for user in roster.members.keys() {
        let full = roster.row.diffusion == Diffusion::Write
            || user == &view.from
            || view.mention_all
            || view.mentions.contains(user);
        writes.push(Write::Deliver {
            app: app.clone(),
            user: user.clone(),
            ts,
            item: if full {
                EntryItem::Message(Arc::clone(&view))
            } else {
                advance.clone()
            },
            cursor,
        });
        if user == &view.from || roster.rows_unwritten || roster.newcomers.contains(user) {
            writes.push(Write::ConversationMessage {
                app: app.clone(),
                user: user.clone(),
                ts,
                message: Arc::clone(&view),
            });
        }
    }
    roster.rows_unwritten = false;
    roster.newcomers.clear();
    roster.last = Some((ts, view));
}

#[cfg(test)]
mod tests {
    //! Given these group events, when this one, then these writes (cqrs-es `TestFramework`).
    //! Writes are compared as one line each (`deliver bob group_created`) so each case reads
    //! as a table; one case pins every field of a `Created`'s writes.
    use super::*;
    use tidings_domain::group::JoinPolicy;
    use tidings_domain::{AppId, Body, ClientMsgId, ConvId, MessageId, Recipient};

    const LARGE: usize = 4;

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn ids(users: &[&str]) -> Vec<UserId> {
        users.iter().map(|u| id(u)).collect()
    }

    fn app() -> AppId {
        AppId::parse("demo").unwrap()
    }

    fn group() -> GroupId {
        GroupId::parse("g1").unwrap()
    }

    fn created(members: &[&str]) -> GroupChange {
        GroupChange::Created {
            name: "Team".into(),
            avatar_url: None,
            intro: None,
            join_policy: JoinPolicy::Approval,
            members: ids(members),
        }
    }

    /// A projection's state and the stream position of the next event.
    struct Given {
        directory: Directory,
        cursor: u64,
    }

    impl Given {
        /// `alice` created the group with `members`.
        fn group(members: &[&str]) -> Self {
            Self::events(&[("alice", created(members))])
        }

        fn events(events: &[(&str, GroupChange)]) -> Self {
            let mut given = Given {
                directory: Directory::default(),
                cursor: 10,
            };
            for (actor, change) in events {
                given.when(actor, change.clone());
            }
            given
        }

        /// Folds one change; every write it yields carries the event's stream sequence.
        fn when(&mut self, actor: &str, change: GroupChange) -> Vec<Write> {
            self.cursor += 1;
            let event = GroupChanged {
                app: app(),
                group: group(),
                conv: ConvId::group(&group()),
                actor: id(actor),
                change,
                ts: self.cursor as i64 * 1000,
            };
            let writes = project_group(&event, self.cursor, &mut self.directory, LARGE);
            // A leave's freeze of a conversation row has no cursor: it is safe to repeat.
            let cursored = writes
                .iter()
                .filter(|w| !matches!(w, Write::ConversationLeft { .. }));
            for write in cursored {
                assert_eq!(cursor_of(write), Some(self.cursor), "{write:?}");
            }
            writes
        }

        fn message(&mut self, from: &str, mentions: &[&str], mention_all: bool) -> Vec<Write> {
            self.cursor += 1;
            let message = MessageSent {
                app: app(),
                conv: ConvId::group(&group()),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
                conv_seq: 7,
                from: id(from),
                to: Recipient::Group(group()),
                client_msg_id: ClientMsgId::parse("c1").unwrap(),
                body: Body::Text { text: "hi".into() },
                mentions: ids(mentions),
                mention_all,
                reply_to: None,
                forward_of: None,
                ts: 5,
            };
            let mut writes = Vec::new();
            project_group_message(
                message,
                &group(),
                self.cursor,
                &mut self.directory,
                &mut writes,
            );
            writes
        }

        fn roster(&self) -> &Roster {
            self.directory.get(&app(), &group()).expect("group known")
        }
    }

    fn cursor_of(write: &Write) -> Option<u64> {
        match write {
            Write::Deliver { cursor, .. }
            | Write::PutMember { cursor, .. }
            | Write::RemoveMember { cursor, .. } => Some(*cursor),
            Write::PutGroup { row, .. } => Some(row.cursor),
            _ => None,
        }
    }

    fn kind(item: &EntryItem) -> &'static str {
        match item {
            EntryItem::Message(_) => "message",
            EntryItem::GroupCreated(_) => "group_created",
            EntryItem::GroupUpdated(_) => "group_updated",
            EntryItem::GroupDismissed(_) => "group_dismissed",
            EntryItem::GroupOwnerTransferred(_) => "group_owner_transferred",
            EntryItem::GroupAdminSet(_) => "group_admin_set",
            EntryItem::GroupMemberAdded(_) => "group_member_added",
            EntryItem::GroupMemberRemoved(_) => "group_member_removed",
            EntryItem::GroupJoinRequested(_) => "group_join_requested",
            EntryItem::GroupJoinDecided(_) => "group_join_decided",
            EntryItem::GroupAnnouncement(_) => "group_announcement",
            EntryItem::GroupMemberMuted(_) => "group_member_muted",
            EntryItem::GroupMutedAll(_) => "group_muted_all",
            EntryItem::GroupAdvanced(_) => "group_advanced",
            _ => "other",
        }
    }

    /// One line per write, for table-like expectations.
    fn lines(writes: &[Write]) -> Vec<String> {
        writes
            .iter()
            .map(|w| match w {
                Write::Deliver { user, item, .. } => format!("deliver {user} {}", kind(item)),
                Write::PutMember { member, .. } => {
                    let muted = if member.muted { " muted" } else { "" };
                    format!("member {} {:?}{muted}", member.user, member.role)
                }
                Write::RemoveMember { user, .. } => format!("remove {user}"),
                Write::PutGroup { row, .. } => {
                    let dismissed = if row.dismissed { " dismissed" } else { "" };
                    format!("group {} {:?}{dismissed}", row.member_count, row.diffusion)
                }
                Write::Timeline { message, .. } => format!("timeline {}", message.conv_seq),
                Write::ConversationMessage { user, .. } => format!("conversation {user}"),
                Write::ConversationLeft { user, last, .. } => match last {
                    Some((_, m)) => format!("left {user} at {}", m.conv_seq),
                    None => format!("left {user}"),
                },
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// The notices delivered, in order.
    fn notices(writes: &[Write]) -> Vec<&GroupNotice> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::Deliver {
                    item:
                        EntryItem::GroupCreated(n)
                        | EntryItem::GroupMemberAdded(n)
                        | EntryItem::GroupMemberRemoved(n)
                        | EntryItem::GroupJoinDecided(n)
                        | EntryItem::GroupOwnerTransferred(n)
                        | EntryItem::GroupMemberMuted(n),
                    ..
                } => Some(n),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn creating_a_group_writes_its_row_members_and_a_notice_to_each() {
        let mut given = Given::events(&[]);
        let writes = given.when("alice", created(&["bob", "carol"]));
        let row = GroupRow {
            group: group(),
            conv: ConvId::group(&group()),
            name: "Team".into(),
            avatar_url: None,
            intro: None,
            join_policy: JoinPolicy::Approval,
            owner: id("alice"),
            member_count: 3,
            muted_all: false,
            announcement: None,
            dismissed: false,
            diffusion: Diffusion::Write,
            created_at: 11_000,
            cursor: 11,
        };
        let put_member = |user: &str, role| Write::PutMember {
            app: app(),
            group: group(),
            member: MemberRow {
                user: id(user),
                role,
                muted: false,
                joined_at: 11_000,
            },
            cursor: 11,
        };
        let notice = EntryItem::GroupCreated(GroupNotice {
            users: ids(&["bob", "carol"]),
            name: Some("Team".into()),
            ..GroupNotice::new(group(), id("alice"))
        });
        let deliver = |user: &str| Write::Deliver {
            app: app(),
            user: id(user),
            ts: 11_000,
            item: notice.clone(),
            cursor: 11,
        };
        let expected = vec![
            Write::PutGroup {
                app: app(),
                row: row.clone(),
            },
            put_member("alice", Role::Owner),
            put_member("bob", Role::Member),
            put_member("carol", Role::Member),
            deliver("alice"),
            deliver("bob"),
            deliver("carol"),
        ];
        assert_eq!(writes, expected);
        assert_eq!(given.roster().row, row);
    }

    #[test]
    fn a_group_larger_than_the_threshold_uses_read_diffusion() {
        let mut given = Given::events(&[]);
        let writes = given.when("alice", created(&["b", "c", "d", "e"]));
        assert_eq!(lines(&writes[..1]), ["group 5 Read"]);
    }

    #[test]
    fn group_changes_then_writes() {
        type Case = (&'static str, GroupChange, &'static [&'static str]);
        // Given alice (owner) created the group with bob and carol.
        let cases: Vec<Case> = vec![
            (
                "alice",
                GroupChange::MembersAdded {
                    users: ids(&["dave"]),
                },
                &[
                    "member dave Member",
                    "group 4 Write",
                    "deliver alice group_member_added",
                    "deliver bob group_member_added",
                    "deliver carol group_member_added",
                    "deliver dave group_member_added",
                ],
            ),
            (
                "alice",
                GroupChange::MemberRemoved {
                    user: id("bob"),
                    kicked: true,
                },
                // The removed member hears of it too, then leaves; their conversation row
                // (none yet: the group has no message) stops following.
                &[
                    "deliver alice group_member_removed",
                    "deliver bob group_member_removed",
                    "deliver carol group_member_removed",
                    "remove bob",
                    "left bob",
                    "group 2 Write",
                ],
            ),
            (
                "alice",
                GroupChange::Dismissed,
                &[
                    "deliver alice group_dismissed",
                    "deliver bob group_dismissed",
                    "deliver carol group_dismissed",
                    "remove alice",
                    "remove bob",
                    "remove carol",
                    "group 0 Write dismissed",
                ],
            ),
            (
                "alice",
                GroupChange::OwnerTransferred { to: id("bob") },
                &[
                    "member alice Admin",
                    "member bob Owner",
                    "group 3 Write",
                    "deliver alice group_owner_transferred",
                    "deliver bob group_owner_transferred",
                    "deliver carol group_owner_transferred",
                ],
            ),
            (
                "alice",
                GroupChange::AdminSet {
                    user: id("carol"),
                    admin: true,
                },
                &[
                    "member carol Admin",
                    "deliver alice group_admin_set",
                    "deliver bob group_admin_set",
                    "deliver carol group_admin_set",
                ],
            ),
            (
                // Only the admins and the applicant hear of an application.
                "erin",
                GroupChange::JoinRequested {
                    note: Some("let me in".into()),
                },
                &[
                    "deliver alice group_join_requested",
                    "deliver erin group_join_requested",
                ],
            ),
            (
                "alice",
                GroupChange::JoinDecided {
                    user: id("erin"),
                    approved: true,
                },
                &[
                    "deliver alice group_join_decided",
                    "deliver erin group_join_decided",
                    "member erin Member",
                    "group 4 Write",
                    "deliver alice group_member_added",
                    "deliver bob group_member_added",
                    "deliver carol group_member_added",
                    "deliver erin group_member_added",
                ],
            ),
            (
                "alice",
                GroupChange::JoinDecided {
                    user: id("erin"),
                    approved: false,
                },
                &[
                    "deliver alice group_join_decided",
                    "deliver erin group_join_decided",
                ],
            ),
            (
                // A mute is between the admins and the muted member.
                "alice",
                GroupChange::MemberMuted {
                    user: id("bob"),
                    muted: true,
                },
                &[
                    "member bob Member muted",
                    "deliver alice group_member_muted",
                    "deliver bob group_member_muted",
                ],
            ),
            (
                "alice",
                GroupChange::MutedAll { muted: true },
                &[
                    "group 3 Write",
                    "deliver alice group_muted_all",
                    "deliver bob group_muted_all",
                    "deliver carol group_muted_all",
                ],
            ),
            (
                "alice",
                GroupChange::Announced {
                    text: "hello all".into(),
                },
                &[
                    "group 3 Write",
                    "deliver alice group_announcement",
                    "deliver bob group_announcement",
                    "deliver carol group_announcement",
                ],
            ),
            (
                "alice",
                GroupChange::Updated {
                    name: "Team 2".into(),
                    avatar_url: None,
                    intro: Some("new".into()),
                    join_policy: JoinPolicy::Open,
                },
                &[
                    "group 3 Write",
                    "deliver alice group_updated",
                    "deliver bob group_updated",
                    "deliver carol group_updated",
                ],
            ),
        ];
        for (actor, change, then) in cases {
            let mut given = Given::group(&["bob", "carol"]);
            let what = format!("{change:?}");
            assert_eq!(lines(&given.when(actor, change)), then, "when {what}");
        }
    }

    #[test]
    fn notices_name_who_and_what() {
        let mut given = Given::group(&["bob", "carol"]);
        let writes = given.when(
            "alice",
            GroupChange::MemberRemoved {
                user: id("bob"),
                kicked: true,
            },
        );
        let notice = notices(&writes)[0];
        assert_eq!(
            (&notice.by, notice.user.as_ref(), notice.flag),
            (&id("alice"), Some(&id("bob")), Some(true))
        );
        let writes = given.when(
            "alice",
            GroupChange::JoinDecided {
                user: id("erin"),
                approved: true,
            },
        );
        let notices = notices(&writes);
        assert_eq!(notices[0].user, Some(id("erin")));
        assert_eq!(notices[0].flag, Some(true));
        assert_eq!(notices.last().unwrap().users, ids(&["erin"]));
    }

    #[test]
    fn the_roster_moves_with_the_changes() {
        let mut given = Given::group(&["bob", "carol"]);
        given.when("alice", GroupChange::OwnerTransferred { to: id("bob") });
        given.when(
            "bob",
            GroupChange::MemberRemoved {
                user: id("carol"),
                kicked: true,
            },
        );
        given.when(
            "bob",
            GroupChange::Announced {
                text: "rules".into(),
            },
        );
        let roster = given.roster();
        assert_eq!(roster.row.owner, id("bob"));
        assert_eq!(roster.row.announcement.as_deref(), Some("rules"));
        assert_eq!(roster.row.member_count, 2);
        let roles: Vec<_> = roster
            .members
            .values()
            .map(|m| (m.user.as_str(), m.role))
            .collect();
        assert_eq!(roles, [("alice", Role::Admin), ("bob", Role::Owner)]);
        // The new admin set hears of the next application: the old owner stays an admin.
        let writes = given.when("erin", GroupChange::JoinRequested { note: None });
        assert_eq!(
            lines(&writes),
            [
                "deliver alice group_join_requested",
                "deliver bob group_join_requested",
                "deliver erin group_join_requested",
            ]
        );
    }

    #[test]
    fn diffusion_follows_the_member_count_across_the_threshold() {
        let mut given = Given::group(&["b", "c", "d"]);
        let grown = given.when("alice", GroupChange::MembersAdded { users: ids(&["e"]) });
        assert!(lines(&grown).contains(&"group 5 Read".to_owned()));
        let shrunk = given.when(
            "alice",
            GroupChange::MemberRemoved {
                user: id("e"),
                kicked: false,
            },
        );
        assert!(lines(&shrunk).contains(&"group 4 Write".to_owned()));
    }

    #[test]
    fn a_message_to_a_small_group_is_copied_to_every_member() {
        let mut given = Given::group(&["bob", "carol"]);
        let writes = given.message("bob", &[], false);
        assert_eq!(
            lines(&writes),
            [
                "timeline 7",
                "deliver alice message",
                "conversation alice",
                "deliver bob message",
                "conversation bob",
                "deliver carol message",
                "conversation carol",
            ]
        );
        assert!(writes.iter().all(|w| cursor_of(w).is_none_or(|c| c == 12)));
    }

    #[test]
    fn a_message_to_a_large_group_sends_full_entries_only_to_the_sender_and_mentioned() {
        let mut given = Given::group(&["b", "c", "d", "e"]);
        let writes = given.message("b", &["d"], false);
        let delivered: Vec<String> = lines(&writes)
            .into_iter()
            .filter(|l| l.starts_with("deliver"))
            .collect();
        assert_eq!(
            delivered,
            [
                "deliver alice group_advanced",
                "deliver b message",
                "deliver c group_advanced",
                "deliver d message",
                "deliver e group_advanced",
            ]
        );
        // Every member's conversation row moves with the first message the fold sees, and
        // the timeline holds it once.
        let conversations = writes
            .iter()
            .filter(|w| matches!(w, Write::ConversationMessage { .. }))
            .count();
        assert_eq!(conversations, 5);
        assert_eq!(lines(&writes)[0], "timeline 7");

        let everyone = given.message("b", &[], true);
        assert!(
            everyone.iter().all(
                |w| !matches!(w, Write::Deliver { item, .. } if kind(item) == "group_advanced")
            )
        );
    }

    #[test]
    fn a_message_reaches_the_members_it_had_at_that_point_of_the_stream() {
        let mut given = Given::group(&["bob", "carol"]);
        given.when(
            "carol",
            GroupChange::MemberRemoved {
                user: id("carol"),
                kicked: false,
            },
        );
        given.when(
            "alice",
            GroupChange::MembersAdded {
                users: ids(&["dave"]),
            },
        );
        let delivered: Vec<String> = lines(&given.message("alice", &[], false))
            .into_iter()
            .filter(|l| l.starts_with("deliver"))
            .collect();
        assert_eq!(
            delivered,
            [
                "deliver alice message",
                "deliver bob message",
                "deliver dave message"
            ]
        );
    }

    #[test]
    fn conversation_rows_follow_the_timeline_once_written_and_a_leave_freezes_one() {
        let mut given = Given::group(&["bob", "carol"]);
        let conversations = |writes: &[Write]| -> Vec<String> {
            lines(writes)
                .into_iter()
                .filter(|l| l.starts_with("conversation") || l.starts_with("left"))
                .collect()
        };
        // The first message writes every member's row, to create it or make it follow.
        let first = given.message("bob", &[], false);
        assert_eq!(
            conversations(&first),
            [
                "conversation alice",
                "conversation bob",
                "conversation carol"
            ]
        );
        // Then only the sender's row moves (sending reads what came before).
        assert_eq!(
            conversations(&given.message("carol", &[], false)),
            ["conversation carol"]
        );
        // A newcomer's row is written by the first message after they join.
        given.when(
            "alice",
            GroupChange::MembersAdded {
                users: ids(&["dave"]),
            },
        );
        assert_eq!(
            conversations(&given.message("alice", &[], false)),
            ["conversation alice", "conversation dave"]
        );
        // A member who leaves has their row stopped at the group's last message.
        let left = given.when(
            "bob",
            GroupChange::MemberRemoved {
                user: id("bob"),
                kicked: false,
            },
        );
        assert_eq!(conversations(&left), ["left bob at 7"]);
        // Coming back, their row is written again by the next message.
        given.when(
            "alice",
            GroupChange::MembersAdded {
                users: ids(&["bob"]),
            },
        );
        assert_eq!(
            conversations(&given.message("carol", &[], false)),
            ["conversation bob", "conversation carol"]
        );
    }

    #[test]
    fn events_for_a_group_never_created_write_nothing_but_the_timeline() {
        let mut given = Given::events(&[]);
        let writes = given.when("alice", GroupChange::MutedAll { muted: true });
        assert!(writes.is_empty());
        assert_eq!(lines(&given.message("alice", &[], false)), ["timeline 7"]);
    }
}
