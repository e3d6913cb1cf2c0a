//! Reactions and pins as read-model writes. A reaction sets or deletes its row (the
//! conversation's) and asks to tell each recipient, which the planner does only when it
//! changes what they were last told (see `tidings_store::annotations`). Recipients: a direct
//! conversation's two users; a group's members, except in read-diffusion groups, where only the
//! message's sender and the reactor are told (the others see counts in history). Pins are rare
//! and change what every member sees first, so every participant is told.

use crate::directory::Directory;
use tidings_domain::event::{Pin, Reaction};
use tidings_domain::{AppId, ConvId, UserId};
use tidings_store::{Diffusion, EntryItem, PinNotice, PinRow, ReactionNotice, Write};

/// Who takes part in `conv` at this point of the stream; `None` for a group the projection
/// never saw created.
fn participants(
    directory: &Directory,
    app: &AppId,
    conv: &ConvId,
) -> Option<(Vec<UserId>, Diffusion)> {
    match conv.group_id() {
        None => Some((conv.direct_users(), Diffusion::Write)),
        Some(group) => {
            let roster = directory.get(app, &group)?;
            let users = roster.members.keys().cloned().collect();
            Some((users, roster.row.diffusion))
        }
    }
}

/// The writes of an added (`added`) or removed reaction.
pub fn project_reaction(
    r: &Reaction,
    added: bool,
    cursor: u64,
    directory: &Directory,
) -> Vec<Write> {
    let notice = ReactionNotice {
        conv: r.conv.clone(),
        conv_seq: r.conv_seq,
        msg_id: r.msg_id.clone(),
        user: r.user.clone(),
        key: r.key.clone(),
        added,
    };
    let mut writes = vec![Write::Reaction {
        app: r.app.clone(),
        notice: notice.clone(),
        ts: r.ts,
    }];
    let Some((members, diffusion)) = participants(directory, &r.app, &r.conv) else {
        tracing::error!(conv = %r.conv, "reaction in a group the projection never saw created");
        return writes;
    };
    let told = members
        .into_iter()
        .filter(|user| diffusion == Diffusion::Write || user == &r.sender || user == &r.user);
    for user in told {
        writes.push(Write::ReactionEntry {
            app: r.app.clone(),
            user,
            notice: notice.clone(),
            ts: r.ts,
            cursor,
        });
    }
    writes
}

/// The writes of a pin (`pinned`) or unpin.
pub fn project_pin(p: &Pin, pinned: bool, cursor: u64, directory: &Directory) -> Vec<Write> {
    let row = pinned.then(|| PinRow {
        conv_seq: p.conv_seq,
        msg_id: p.msg_id.clone(),
        by: p.by.clone(),
        ts: p.ts,
    });
    let mut writes = vec![Write::Pin {
        app: p.app.clone(),
        conv: p.conv.clone(),
        conv_seq: p.conv_seq,
        row,
    }];
    let notice = PinNotice {
        conv: p.conv.clone(),
        conv_seq: p.conv_seq,
        msg_id: p.msg_id.clone(),
        by: p.by.clone(),
    };
    let item = if pinned {
        EntryItem::Pinned(notice)
    } else {
        EntryItem::Unpinned(notice)
    };
    let Some((members, _)) = participants(directory, &p.app, &p.conv) else {
        tracing::error!(conv = %p.conv, "pin in a group the projection never saw created");
        return writes;
    };
    for user in members {
        writes.push(Write::Deliver {
            app: p.app.clone(),
            user,
            ts: p.ts,
            item: item.clone(),
            cursor,
        });
    }
    writes
}

#[cfg(test)]
mod tests {
    //! Given a conversation, when a reaction or a pin, then who is told.
    use super::*;
    use crate::directory::Roster;
    use tidings_domain::group::{JoinPolicy, Role};
    use tidings_domain::{GroupId, MessageId};
    use tidings_store::{GroupRow, MemberRow};

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn app() -> AppId {
        AppId::parse("demo").unwrap()
    }

    /// A directory holding group `g` (olga, amy, ben, cid) with `diffusion`.
    fn directory(diffusion: Diffusion) -> Directory {
        let group = GroupId::parse("g").unwrap();
        let members = ["olga", "amy", "ben", "cid"]
            .map(|u| {
                let role = if u == "olga" {
                    Role::Owner
                } else {
                    Role::Member
                };
                let row = MemberRow {
                    user: id(u),
                    role,
                    muted: false,
                    joined_at: 1,
                };
                (id(u), row)
            })
            .into_iter()
            .collect();
        let row = GroupRow {
            conv: ConvId::group(&group),
            group,
            name: "g".into(),
            avatar_url: None,
            intro: None,
            join_policy: JoinPolicy::Open,
            owner: id("olga"),
            member_count: 4,
            muted_all: false,
            announcement: None,
            dismissed: false,
            diffusion,
            created_at: 1,
            cursor: 1,
        };
        let mut directory = Directory::default();
        directory.insert(&app(), Roster::new(row, members, None));
        directory
    }

    fn reaction(conv: ConvId) -> Reaction {
        Reaction {
            app: app(),
            conv,
            conv_seq: 3,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000003").unwrap(),
            sender: id("olga"),
            user: id("amy"),
            key: "ok".into(),
            ts: 5,
        }
    }

    fn told(writes: &[Write]) -> Vec<&str> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::ReactionEntry { user, .. } | Write::Deliver { user, .. } => {
                    Some(user.as_str())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn read_diffusion_tells_only_the_sender_and_the_reactor() {
        let conv = ConvId::group(&GroupId::parse("g").unwrap());
        let read = project_reaction(
            &reaction(conv.clone()),
            true,
            9,
            &directory(Diffusion::Read),
        );
        assert!(matches!(&read[0], Write::Reaction { notice, .. } if notice.added));
        assert_eq!(told(&read), ["amy", "olga"]);
        let write = project_reaction(&reaction(conv), false, 9, &directory(Diffusion::Write));
        assert_eq!(told(&write), ["amy", "ben", "cid", "olga"]);
    }

    #[test]
    fn a_direct_reaction_tells_both_users_and_a_pin_every_participant() {
        let conv = ConvId::direct(&id("amy"), &id("olga"));
        let writes = project_reaction(&reaction(conv), true, 9, &Directory::default());
        assert_eq!(told(&writes), ["amy", "olga"]);
        let pin = Pin {
            app: app(),
            conv: ConvId::group(&GroupId::parse("g").unwrap()),
            conv_seq: 3,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000003").unwrap(),
            by: None,
            ts: 5,
        };
        let writes = project_pin(&pin, false, 9, &directory(Diffusion::Read));
        assert!(matches!(&writes[0], Write::Pin { row: None, .. }));
        assert_eq!(told(&writes), ["amy", "ben", "cid", "olga"]);
    }
}
