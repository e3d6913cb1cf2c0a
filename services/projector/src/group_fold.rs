//! The fold for groups: group changes become rows, members and notices; group messages fan
//! out to the members (write diffusion) or, above the large-group size, go to the timeline once
//! with a small `group_advanced` entry per member and full entries for those mentioned.

use crate::directory::{Directory, Roster};
use std::collections::BTreeMap;
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
        let mut roster = Roster {
            row: GroupRow {
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
            members: BTreeMap::new(),
        };
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
            roster.members.clear();
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
            out.writes.push(Write::RemoveMember {
                app: app.clone(),
                group: group.clone(),
                user: user.clone(),
                cursor,
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

/// The writes for a message to a group.
pub fn project_group_message(
    message: &MessageSent,
    group: &GroupId,
    cursor: u64,
    directory: &Directory,
) -> Vec<Write> {
    let view = MessageView::from(message);
    let mut writes = vec![Write::Timeline {
        app: message.app.clone(),
        ts: message.ts,
        message: view.clone(),
    }];
    let Some(roster) = directory.get(&message.app, group) else {
        tracing::error!(%group, "message to a group the projection never saw created");
        return writes;
    };
    let advance = EntryItem::GroupAdvanced(GroupAdvance {
        group: group.clone(),
        conv: message.conv.clone(),
        conv_seq: message.conv_seq,
    });
    for user in roster.members.keys() {
        let full = roster.row.diffusion == Diffusion::Write
            || user == &message.from
            || message.mention_all
            || message.mentions.contains(user);
        writes.push(Write::Deliver {
            app: message.app.clone(),
            user: user.clone(),
            ts: message.ts,
            item: if full {
                EntryItem::Message(view.clone())
            } else {
                advance.clone()
            },
            cursor,
        });
        writes.push(Write::ConversationMessage {
            app: message.app.clone(),
            user: user.clone(),
            ts: message.ts,
            message: view.clone(),
        });
    }
    writes
}
