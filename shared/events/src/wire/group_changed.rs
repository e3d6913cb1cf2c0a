//! The changes to a group (`group_created` ... `group_muted_all`): one struct for all of them,
//! the type header names the change and only the fields that change uses are set. They share a
//! file because they share the struct, its schema and its versions.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::{
    GROUP_ADMIN_SET, GROUP_ANNOUNCED, GROUP_CREATED, GROUP_DISMISSED, GROUP_JOIN_DECIDED,
    GROUP_JOIN_REQUESTED, GROUP_MEMBER_MUTED, GROUP_MEMBER_REMOVED, GROUP_MEMBERS_ADDED,
    GROUP_MUTED_ALL, GROUP_OWNER_TRANSFERRED, GROUP_UPDATED,
};
use tidings_domain::event::{GroupChange, GroupChanged};
use tidings_domain::group::JoinPolicy;
use tidings_domain::{AppId, ConvId, Event, GroupId, IdError, UserId};

/// Every group change, version 1; the type header says which change, and only the fields that
/// change uses are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupChangedV1 {
    pub app: String,
    pub group: String,
    pub conv: String,
    pub actor: String,
    pub ts: i64,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub intro: Option<String>,
    /// `open`, `approval` or `invite_only`.
    pub join_policy: Option<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub user: Option<String>,
    pub flag: Option<bool>,
    pub note: Option<String>,
    pub text: Option<String>,
}

/// Why a group event's fields do not fit its type.
#[derive(Debug, thiserror::Error)]
pub enum GroupWireError {
    #[error("{0}")]
    Id(#[from] IdError),
    #[error("field {0} is missing")]
    Missing(&'static str),
}

/// One entry per change; each reads the fields its change uses.
pub(crate) const ENTRIES: &[Entry] = &[
    v1(
        GROUP_CREATED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::Created {
                    name: w.required_name()?,
                    avatar_url: w.avatar_url.clone(),
                    intro: w.intro.clone(),
                    join_policy: w.policy(),
                    members: w.user_ids()?,
                })
            })
        },
        || {
            sample_group(GroupChange::Created {
                name: "Team".into(),
                avatar_url: Some("https://example.com/t.png".into()),
                intro: Some("the team".into()),
                join_policy: JoinPolicy::Approval,
                members: vec![sample::bob()],
            })
        },
    ),
    v1(
        GROUP_UPDATED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::Updated {
                    name: w.required_name()?,
                    avatar_url: w.avatar_url.clone(),
                    intro: w.intro.clone(),
                    join_policy: w.policy(),
                })
            })
        },
        || {
            sample_group(GroupChange::Updated {
                name: "Team B".into(),
                avatar_url: None,
                intro: Some("renamed".into()),
                join_policy: JoinPolicy::InviteOnly,
            })
        },
    ),
    v1(
        GROUP_DISMISSED,
        |p| decode_v1(p, |_| Ok(GroupChange::Dismissed)),
        || sample_group(GroupChange::Dismissed),
    ),
    v1(
        GROUP_OWNER_TRANSFERRED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::OwnerTransferred {
                    to: w.required_user()?,
                })
            })
        },
        || sample_group(GroupChange::OwnerTransferred { to: sample::bob() }),
    ),
    v1(
        GROUP_ADMIN_SET,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::AdminSet {
                    user: w.required_user()?,
                    admin: w.required_flag()?,
                })
            })
        },
        || {
            sample_group(GroupChange::AdminSet {
                user: sample::bob(),
                admin: true,
            })
        },
    ),
    v1(
        GROUP_MEMBERS_ADDED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::MembersAdded {
                    users: w.user_ids()?,
                })
            })
        },
        || {
            sample_group(GroupChange::MembersAdded {
                users: vec![sample::bob()],
            })
        },
    ),
    v1(
        GROUP_MEMBER_REMOVED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::MemberRemoved {
                    user: w.required_user()?,
                    kicked: w.required_flag()?,
                })
            })
        },
        || {
            sample_group(GroupChange::MemberRemoved {
                user: sample::bob(),
                kicked: true,
            })
        },
    ),
    v1(
        GROUP_JOIN_REQUESTED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::JoinRequested {
                    note: w.note.clone(),
                })
            })
        },
        || {
            sample_group(GroupChange::JoinRequested {
                note: Some("let me in".into()),
            })
        },
    ),
    v1(
        GROUP_JOIN_DECIDED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::JoinDecided {
                    user: w.required_user()?,
                    approved: w.required_flag()?,
                })
            })
        },
        || {
            sample_group(GroupChange::JoinDecided {
                user: sample::bob(),
                approved: true,
            })
        },
    ),
    v1(
        GROUP_ANNOUNCED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::Announced {
                    text: w.required_text()?,
                })
            })
        },
        || {
            sample_group(GroupChange::Announced {
                text: "standup at 10".into(),
            })
        },
    ),
    v1(
        GROUP_MEMBER_MUTED,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::MemberMuted {
                    user: w.required_user()?,
                    muted: w.required_flag()?,
                })
            })
        },
        || {
            sample_group(GroupChange::MemberMuted {
                user: sample::bob(),
                muted: true,
            })
        },
    ),
    v1(
        GROUP_MUTED_ALL,
        |p| {
            decode_v1(p, |w| {
                Ok(GroupChange::MutedAll {
                    muted: w.required_flag()?,
                })
            })
        },
        || sample_group(GroupChange::MutedAll { muted: true }),
    ),
];

/// Encodes any group change in the current version.
pub(crate) fn encode(g: &GroupChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&GroupChangedV1::from(g)))
}

const fn v1(
    event_type: &'static str,
    decode: fn(&[u8]) -> Result<Event, DecodeError>,
    sample: fn() -> Event,
) -> Entry {
    Entry {
        event_type,
        version: 1,
        decode,
        schema: schema::<GroupChangedV1>,
        sample,
    }
}

/// Reads version 1 and upgrades it into the domain event with the change `change` reads.
fn decode_v1(
    payload: &[u8],
    change: impl FnOnce(&GroupChangedV1) -> Result<GroupChange, GroupWireError>,
) -> Result<Event, DecodeError> {
    let w = rmp_serde::from_slice::<GroupChangedV1>(payload)?;
    let change = change(&w)?;
    Ok(Event::GroupChanged(GroupChanged {
        app: AppId::parse(w.app)?,
        group: GroupId::parse(w.group)?,
        conv: ConvId::parse(w.conv)?,
        actor: UserId::parse(w.actor)?,
        change,
        ts: w.ts,
    }))
}

impl GroupChangedV1 {
    fn required_name(&self) -> Result<String, GroupWireError> {
        self.name.clone().ok_or(GroupWireError::Missing("name"))
    }

    fn required_text(&self) -> Result<String, GroupWireError> {
        self.text.clone().ok_or(GroupWireError::Missing("text"))
    }

    fn required_user(&self) -> Result<UserId, GroupWireError> {
        let user = self.user.clone().ok_or(GroupWireError::Missing("user"))?;
        Ok(UserId::parse(user)?)
    }

    fn required_flag(&self) -> Result<bool, GroupWireError> {
        self.flag.ok_or(GroupWireError::Missing("flag"))
    }

    fn user_ids(&self) -> Result<Vec<UserId>, GroupWireError> {
        let ids = self.users.iter().cloned().map(UserId::parse);
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// An absent or unknown policy reads as `approval`.
    fn policy(&self) -> JoinPolicy {
        match self.join_policy.as_deref() {
            Some("open") => JoinPolicy::Open,
            Some("invite_only") => JoinPolicy::InviteOnly,
            _ => JoinPolicy::Approval,
        }
    }
}

fn policy_text(p: JoinPolicy) -> String {
    match p {
        JoinPolicy::Open => "open",
        JoinPolicy::Approval => "approval",
        JoinPolicy::InviteOnly => "invite_only",
    }
    .into()
}

fn sample_group(change: GroupChange) -> Event {
    let group = sample::team();
    Event::GroupChanged(GroupChanged {
        app: sample::app(),
        conv: ConvId::group(&group),
        group,
        actor: sample::alice(),
        change,
        ts: sample::TS,
    })
}

impl From<&GroupChanged> for GroupChangedV1 {
    fn from(g: &GroupChanged) -> Self {
        let mut w = GroupChangedV1 {
            app: g.app.to_string(),
            group: g.group.to_string(),
            conv: g.conv.to_string(),
            actor: g.actor.to_string(),
            ts: g.ts,
            ..Default::default()
        };
        let ids = |users: &[UserId]| users.iter().map(ToString::to_string).collect();
        match &g.change {
            GroupChange::Created {
                name,
                avatar_url,
                intro,
                join_policy,
                members,
            } => {
                w.name = Some(name.clone());
                w.avatar_url = avatar_url.clone();
                w.intro = intro.clone();
                w.join_policy = Some(policy_text(*join_policy));
                w.users = ids(members);
            }
            GroupChange::Updated {
                name,
                avatar_url,
                intro,
                join_policy,
            } => {
                w.name = Some(name.clone());
                w.avatar_url = avatar_url.clone();
                w.intro = intro.clone();
                w.join_policy = Some(policy_text(*join_policy));
            }
            GroupChange::Dismissed => {}
            GroupChange::OwnerTransferred { to } => w.user = Some(to.to_string()),
            GroupChange::AdminSet { user, admin: flag }
            | GroupChange::MemberRemoved { user, kicked: flag }
            | GroupChange::JoinDecided {
                user,
                approved: flag,
            }
            | GroupChange::MemberMuted { user, muted: flag } => {
                w.user = Some(user.to_string());
                w.flag = Some(*flag);
            }
            GroupChange::MembersAdded { users } => w.users = ids(users),
            GroupChange::JoinRequested { note } => w.note = note.clone(),
            GroupChange::Announced { text } => w.text = Some(text.clone()),
            GroupChange::MutedAll { muted } => w.flag = Some(*muted),
        }
        w
    }
}
