//! The `group` aggregate: lifecycle, roles, membership, join requests, announcement and mutes.
//! It lives on the group conversation's subject with the group's messages, so a kick, a mute or
//! a dismissal applies to the very next send.

use crate::event::{Event, GroupChange, GroupChanged};
use crate::{AppId, ConvId, DomainError, GroupId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::membership::{JoinPolicy, Role};

/// Longest group name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest intro, announcement or join note, in bytes.
pub const MAX_TEXT_BYTES: usize = 2048;

/// One member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub role: Role,
    pub muted: bool,
}

/// A group folded from its subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub created: bool,
    pub dismissed: bool,
    pub name: String,
    pub avatar_url: Option<String>,
    pub intro: Option<String>,
    pub join_policy: JoinPolicy,
    pub members: BTreeMap<UserId, Member>,
    /// Pending applications and their notes.
    pub applicants: BTreeMap<UserId, Option<String>>,
    pub muted_all: bool,
}

impl GroupState {
    /// Whether the group exists and is not dismissed.
    pub fn is_live(&self) -> bool {
        self.created && !self.dismissed
    }

    /// The role of `user`, if a member.
    pub fn role(&self, user: &UserId) -> Option<Role> {
        self.members.get(user).map(|m| m.role)
    }

    /// Whether `user` may send now: a member, not muted (admins and the owner never are).
    pub fn may_send(&self, user: &UserId) -> Result<(), DomainError> {
        match self.members.get(user) {
            None => Err(DomainError::NotMember(
                "you are not a member of this group".into(),
            )),
            Some(m) if m.role >= Role::Admin => Ok(()),
            Some(m) if m.muted => Err(DomainError::Muted("you are muted in this group".into())),
            Some(_) if self.muted_all => Err(DomainError::Muted("the group is muted".into())),
            Some(_) => Ok(()),
        }
    }

    /// Applies one group event.
    pub fn evolve(&mut self, event: &GroupChanged) {
        match &event.change {
            GroupChange::Created {
                name,
                avatar_url,
                intro,
                join_policy,
                members,
            } => {
                self.created = true;
                self.name = name.clone();
                self.avatar_url = avatar_url.clone();
                self.intro = intro.clone();
                self.join_policy = *join_policy;
                self.members.insert(
                    event.actor.clone(),
                    Member {
                        role: Role::Owner,
                        muted: false,
                    },
                );
                self.add(members);
            }
            GroupChange::Updated {
                name,
                avatar_url,
                intro,
                join_policy,
            } => {
                self.name = name.clone();
                self.avatar_url = avatar_url.clone();
                self.intro = intro.clone();
                self.join_policy = *join_policy;
            }
            GroupChange::Dismissed => self.dismissed = true,
            GroupChange::OwnerTransferred { to } => {
                if let Some(old) = self.members.get_mut(&event.actor) {
                    old.role = Role::Admin;
                }
                if let Some(new) = self.members.get_mut(to) {
                    new.role = Role::Owner;
                    new.muted = false;
                }
            }
            GroupChange::AdminSet { user, admin } => {
                if let Some(m) = self.members.get_mut(user) {
                    m.role = if *admin { Role::Admin } else { Role::Member };
                }
            }
            GroupChange::MembersAdded { users } => self.add(users),
            GroupChange::MemberRemoved { user, .. } => {
                self.members.remove(user);
            }
            GroupChange::JoinRequested { note } => {
                self.applicants.insert(event.actor.clone(), note.clone());
            }
            GroupChange::JoinDecided { user, approved } => {
                self.applicants.remove(user);
                if *approved {
                    self.add(std::slice::from_ref(user));
                }
            }
            GroupChange::Announced { .. } => {}
            GroupChange::MemberMuted { user, muted } => {
                if let Some(m) = self.members.get_mut(user) {
                    m.muted = *muted;
                }
            }
            GroupChange::MutedAll { muted } => self.muted_all = *muted,
        }
    }

    fn add(&mut self, users: &[UserId]) {
        for user in users {
            self.applicants.remove(user);
            self.members.entry(user.clone()).or_insert(Member {
                role: Role::Member,
                muted: false,
            });
        }
    }
}

/// What a user asks of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupCommand {
    Create {
        name: String,
        avatar_url: Option<String>,
        intro: Option<String>,
        join_policy: JoinPolicy,
        members: Vec<UserId>,
    },
    Update {
        name: Option<String>,
        avatar_url: Option<String>,
        intro: Option<String>,
        join_policy: Option<JoinPolicy>,
    },
    Dismiss,
    TransferOwner {
        to: UserId,
    },
    SetAdmin {
        user: UserId,
        admin: bool,
    },
    AddMembers {
        users: Vec<UserId>,
    },
    Kick {
        user: UserId,
    },
    Leave,
    Apply {
        note: Option<String>,
    },
    Decide {
        user: UserId,
        approve: bool,
    },
    Announce {
        text: String,
    },
    Mute {
        user: UserId,
        muted: bool,
    },
    MuteAll {
        muted: bool,
    },
}

fn check_text(what: &str, text: Option<&String>, max: usize) -> Result<(), DomainError> {
    match text {
        Some(t) if t.len() > max => Err(DomainError::TooLarge(format!(
            "{what} must be at most {max} bytes"
        ))),
        _ => Ok(()),
    }
}

fn forbidden(why: &str) -> DomainError {
    DomainError::Forbidden(why.to_owned())
}

/// `actor` acts on a group (a command of the group's conversation).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeGroup {
    pub app: AppId,
    pub group: GroupId,
    pub actor: UserId,
    pub command: GroupCommand,
    /// The app's bound on the member count.
    pub member_cap: usize,
    pub ts: i64,
}

/// Decides a group command by `actor`.
pub(crate) fn decide(state: &GroupState, cmd: &ChangeGroup) -> Result<Vec<Event>, DomainError> {
    let (app, group, actor, member_cap, ts) =
        (&cmd.app, &cmd.group, &cmd.actor, cmd.member_cap, cmd.ts);
    let command = cmd.command.clone();
    let event = |change| {
        vec![Event::GroupChanged(GroupChanged {
            app: app.clone(),
            group: group.clone(),
            conv: ConvId::group(group),
            actor: actor.clone(),
            change,
            ts,
        })]
    };
    if let GroupCommand::Create {
        name,
        avatar_url,
        intro,
        join_policy,
        members,
    } = command
    {
        if state.created {
            return Err(DomainError::Conflict(format!(
                "group {group} already exists"
            )));
        }
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(DomainError::Invalid(format!(
                "name must be 1-{MAX_NAME_BYTES} bytes"
            )));
        }
        check_text("intro", intro.as_ref(), MAX_TEXT_BYTES)?;
        let mut members: Vec<UserId> = members.into_iter().filter(|m| m != actor).collect();
        members.sort();
        members.dedup();
        if members.len() + 1 > member_cap {
            return Err(forbidden(&format!(
                "a group holds at most {member_cap} members"
            )));
        }
        return Ok(event(GroupChange::Created {
            name,
            avatar_url,
            intro,
            join_policy,
            members,
        }));
    }
    if !state.is_live() {
        return Err(DomainError::NotFound(format!("group {group}")));
    }
    let role = state.role(actor);
    let is_admin = role >= Some(Role::Admin);
    let is_owner = role == Some(Role::Owner);
    let change = match command {
        GroupCommand::Create { .. } => unreachable!("handled above"),
        GroupCommand::Update { .. } | GroupCommand::Announce { .. } if !is_admin => {
            return Err(forbidden("only the owner or an admin can do this"));
        }
        GroupCommand::Update {
            name,
            avatar_url,
            intro,
            join_policy,
        } => {
            let name = name.unwrap_or_else(|| state.name.clone());
            if name.is_empty() || name.len() > MAX_NAME_BYTES {
                return Err(DomainError::Invalid(format!(
                    "name must be 1-{MAX_NAME_BYTES} bytes"
                )));
            }
            check_text("intro", intro.as_ref(), MAX_TEXT_BYTES)?;
            GroupChange::Updated {
                name,
                avatar_url: avatar_url.or_else(|| state.avatar_url.clone()),
                intro: intro.or_else(|| state.intro.clone()),
                join_policy: join_policy.unwrap_or(state.join_policy),
            }
        }
        GroupCommand::Dismiss
        | GroupCommand::TransferOwner { .. }
        | GroupCommand::SetAdmin { .. }
            if !is_owner =>
        {
            return Err(forbidden("only the owner can do this"));
        }
        GroupCommand::Dismiss => GroupChange::Dismissed,
        GroupCommand::TransferOwner { to } => {
            if state.role(&to).is_none() || &to == actor {
                return Err(DomainError::Invalid(format!("{to} must be another member")));
            }
            GroupChange::OwnerTransferred { to }
        }
        GroupCommand::SetAdmin { user, admin } => match state.role(&user) {
            None => return Err(DomainError::NotMember(format!("{user} is not a member"))),
            Some(Role::Owner) => {
                return Err(DomainError::Invalid("the owner's role is fixed".into()));
            }
            Some(current) if (current == Role::Admin) == admin => return Ok(Vec::new()),
            Some(_) => GroupChange::AdminSet { user, admin },
        },
        GroupCommand::AddMembers { .. } | GroupCommand::Decide { .. } if !is_admin => {
            return Err(forbidden("only the owner or an admin can do this"));
        }
        GroupCommand::AddMembers { users } => {
            let mut users: Vec<UserId> = users
                .into_iter()
                .filter(|u| !state.members.contains_key(u))
                .collect();
            users.sort();
            users.dedup();
            if users.is_empty() {
                return Ok(Vec::new());
            }
            if state.members.len() + users.len() > member_cap {
                return Err(forbidden(&format!(
                    "a group holds at most {member_cap} members"
                )));
            }
            GroupChange::MembersAdded { users }
        }
        GroupCommand::Kick { user } => {
            let target = state.role(&user);
            match target {
                None => return Ok(Vec::new()),
                Some(t) if !is_admin || t >= role.unwrap_or(Role::Member) => {
                    return Err(forbidden("you can only remove members below your role"));
                }
                Some(_) => GroupChange::MemberRemoved { user, kicked: true },
            }
        }
        GroupCommand::Leave => match role {
            None => return Ok(Vec::new()),
            Some(Role::Owner) => {
                return Err(forbidden(
                    "the owner cannot leave: transfer ownership or dismiss",
                ));
            }
            Some(_) => GroupChange::MemberRemoved {
                user: actor.clone(),
                kicked: false,
            },
        },
        GroupCommand::Apply { note } => {
            check_text("note", note.as_ref(), MAX_TEXT_BYTES)?;
            if role.is_some() || state.applicants.contains_key(actor) {
                return Ok(Vec::new());
            }
            if state.members.len() + 1 > member_cap {
                return Err(forbidden(&format!(
                    "a group holds at most {member_cap} members"
                )));
            }
            match state.join_policy {
                JoinPolicy::InviteOnly => return Err(forbidden("this group is invite-only")),
                JoinPolicy::Open => GroupChange::MembersAdded {
                    users: vec![actor.clone()],
                },
                JoinPolicy::Approval => GroupChange::JoinRequested { note },
            }
        }
        GroupCommand::Decide { user, approve } => {
            if !state.applicants.contains_key(&user) {
                return Err(DomainError::NotFound(format!("join request from {user}")));
            }
            if approve && state.members.len() + 1 > member_cap {
                return Err(forbidden(&format!(
                    "a group holds at most {member_cap} members"
                )));
            }
            GroupChange::JoinDecided {
                user,
                approved: approve,
            }
        }
        GroupCommand::Announce { text } => {
            if text.is_empty() {
                return Err(DomainError::Invalid("announcement is empty".into()));
            }
            check_text("announcement", Some(&text), MAX_TEXT_BYTES)?;
            GroupChange::Announced { text }
        }
        GroupCommand::Mute { .. } | GroupCommand::MuteAll { .. } if !is_admin => {
            return Err(forbidden("only the owner or an admin can do this"));
        }
        GroupCommand::Mute { user, muted } => match state.members.get(&user) {
            None => return Err(DomainError::NotMember(format!("{user} is not a member"))),
            Some(m) if m.muted == muted => return Ok(Vec::new()),
            // Muting would not stop them sending (`may_send`), so it is refused, not recorded.
            Some(m) if muted && m.role >= Role::Admin => {
                return Err(forbidden("the owner and admins cannot be muted"));
            }
            Some(_) => GroupChange::MemberMuted { user, muted },
        },
        GroupCommand::MuteAll { muted } if state.muted_all == muted => return Ok(Vec::new()),
        GroupCommand::MuteAll { muted } => GroupChange::MutedAll { muted },
    };
    Ok(event(change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    struct G(GroupState);

    impl G {
        fn run(
            &mut self,
            actor: &str,
            cmd: GroupCommand,
        ) -> Result<Option<GroupChange>, DomainError> {
            let (app, group) = (AppId::parse("app").unwrap(), GroupId::parse("g").unwrap());
            let cmd = ChangeGroup {
                app,
                group,
                actor: u(actor),
                command: cmd,
                member_cap: 4,
                ts: 1,
            };
            let events = decide(&self.0, &cmd)?;
            Ok(events.into_iter().next().map(|e| match e {
                Event::GroupChanged(g) => {
                    self.0.evolve(&g);
                    g.change
                }
                other => panic!("unexpected {other:?}"),
            }))
        }
    }

    fn created(policy: JoinPolicy) -> G {
        let mut g = G(GroupState::default());
        g.run(
            "owner",
            GroupCommand::Create {
                name: "team".into(),
                avatar_url: None,
                intro: None,
                join_policy: policy,
                members: vec![u("amy"), u("owner"), u("amy")],
            },
        )
        .unwrap();
        g
    }

    #[test]
    fn create_add_kick_and_send_rights() {
        let mut g = created(JoinPolicy::Approval);
        assert_eq!(g.0.role(&u("owner")), Some(Role::Owner));
        assert_eq!(
            g.0.members.len(),
            2,
            "duplicates and the creator are folded"
        );
        assert!(matches!(
            g.run(
                "amy",
                GroupCommand::AddMembers {
                    users: vec![u("bo")]
                }
            ),
            Err(DomainError::Forbidden(_))
        ));
        g.run(
            "owner",
            GroupCommand::AddMembers {
                users: vec![u("bo")],
            },
        )
        .unwrap();
        assert!(g.0.may_send(&u("bo")).is_ok());
        g.run("owner", GroupCommand::Kick { user: u("bo") })
            .unwrap();
        assert!(matches!(
            g.0.may_send(&u("bo")),
            Err(DomainError::NotMember(_))
        ));
        assert!(matches!(
            g.run("amy", GroupCommand::Kick { user: u("owner") }),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn the_member_cap_is_enforced() {
        let mut g = created(JoinPolicy::Open);
        g.run(
            "owner",
            GroupCommand::AddMembers {
                users: vec![u("c"), u("d")],
            },
        )
        .unwrap();
        assert!(matches!(
            g.run("owner", GroupCommand::AddMembers { users: vec![u("e")] }),
            Err(DomainError::Forbidden(m)) if m.contains("at most 4")
        ));
        assert!(matches!(
            g.run("e", GroupCommand::Apply { note: None }),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn applications_follow_the_join_policy() {
        let mut g = created(JoinPolicy::Approval);
        assert!(matches!(
            g.run(
                "x",
                GroupCommand::Apply {
                    note: Some("hi".into())
                }
            ),
            Ok(Some(GroupChange::JoinRequested { .. }))
        ));
        assert_eq!(
            g.run("x", GroupCommand::Apply { note: None }),
            Ok(None),
            "a repeated application is a no-op"
        );
        assert!(matches!(
            g.run(
                "x",
                GroupCommand::Decide {
                    user: u("x"),
                    approve: true
                }
            ),
            Err(DomainError::Forbidden(_))
        ));
        g.run(
            "owner",
            GroupCommand::Decide {
                user: u("x"),
                approve: true,
            },
        )
        .unwrap();
        assert_eq!(g.0.role(&u("x")), Some(Role::Member));
        assert!(matches!(
            g.run(
                "owner",
                GroupCommand::Decide {
                    user: u("x"),
                    approve: true
                }
            ),
            Err(DomainError::NotFound(_))
        ));

        let mut open = created(JoinPolicy::Open);
        assert!(matches!(
            open.run("y", GroupCommand::Apply { note: None }),
            Ok(Some(GroupChange::MembersAdded { .. }))
        ));
        let mut closed = created(JoinPolicy::InviteOnly);
        assert!(matches!(
            closed.run("y", GroupCommand::Apply { note: None }),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn mutes_spare_admins_and_ownership_moves() {
        let mut g = created(JoinPolicy::Approval);
        g.run(
            "owner",
            GroupCommand::AddMembers {
                users: vec![u("bo")],
            },
        )
        .unwrap();
        g.run(
            "owner",
            GroupCommand::SetAdmin {
                user: u("amy"),
                admin: true,
            },
        )
        .unwrap();
        g.run(
            "amy",
            GroupCommand::Mute {
                user: u("bo"),
                muted: true,
            },
        )
        .unwrap();
        assert!(matches!(g.0.may_send(&u("bo")), Err(DomainError::Muted(_))));
        g.run(
            "amy",
            GroupCommand::Mute {
                user: u("bo"),
                muted: false,
            },
        )
        .unwrap();
        for admin in ["amy", "owner"] {
            let mute = GroupCommand::Mute {
                user: u(admin),
                muted: true,
            };
            assert!(
                matches!(g.run("owner", mute), Err(DomainError::Forbidden(_))),
                "{admin} cannot be muted: it would not stop them"
            );
        }
        g.run("amy", GroupCommand::MuteAll { muted: true }).unwrap();
        assert!(matches!(g.0.may_send(&u("bo")), Err(DomainError::Muted(_))));
        assert!(g.0.may_send(&u("amy")).is_ok(), "admins are exempt");
        assert!(matches!(
            g.run("owner", GroupCommand::Leave),
            Err(DomainError::Forbidden(_))
        ));
        g.run("owner", GroupCommand::TransferOwner { to: u("bo") })
            .unwrap();
        assert_eq!(
            (g.0.role(&u("bo")), g.0.role(&u("owner"))),
            (Some(Role::Owner), Some(Role::Admin))
        );
        assert!(matches!(
            g.run("owner", GroupCommand::Dismiss),
            Err(DomainError::Forbidden(_))
        ));
        g.run("bo", GroupCommand::Dismiss).unwrap();
        assert!(matches!(
            g.run("bo", GroupCommand::Announce { text: "x".into() }),
            Err(DomainError::NotFound(_))
        ));
    }

    #[test]
    fn bad_input() {
        let mut g = created(JoinPolicy::Approval);
        assert!(matches!(
            g.run(
                "owner",
                GroupCommand::Announce {
                    text: "a".repeat(3000)
                }
            ),
            Err(DomainError::TooLarge(_))
        ));
        assert!(matches!(
            g.run("amy", GroupCommand::Announce { text: "hi".into() }),
            Err(DomainError::Forbidden(_))
        ));
        let again = GroupCommand::Create {
            name: "x".into(),
            avatar_url: None,
            intro: None,
            join_policy: JoinPolicy::Open,
            members: vec![],
        };
        assert!(matches!(
            g.run("owner", again),
            Err(DomainError::Conflict(_))
        ));
    }
}
