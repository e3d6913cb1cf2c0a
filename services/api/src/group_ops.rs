//! Group operations as clients and app servers send them: one JSON shape, tagged by `op`,
//! shared by the WebSocket `group` frame, client REST and the server API.

use serde::Deserialize;
use tidings_domain::UserId;
use tidings_domain::group::{GroupCommand, JoinPolicy};

/// A new group's settings and first members.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupSpec {
    pub name: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub intro: Option<String>,
    #[serde(default)]
    pub join_policy: JoinPolicy,
    #[serde(default)]
    pub members: Vec<UserId>,
}

impl From<GroupSpec> for GroupCommand {
    fn from(spec: GroupSpec) -> Self {
        GroupCommand::Create {
            name: spec.name,
            avatar_url: spec.avatar_url,
            intro: spec.intro,
            join_policy: spec.join_policy,
            members: spec.members,
        }
    }
}

/// One group operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GroupOp {
    Create(GroupSpec),
    Update {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        avatar_url: Option<String>,
        #[serde(default)]
        intro: Option<String>,
        #[serde(default)]
        join_policy: Option<JoinPolicy>,
    },
    Dismiss,
    Transfer {
        to: UserId,
    },
    SetAdmin {
        user: UserId,
        admin: bool,
    },
    Add {
        users: Vec<UserId>,
    },
    Kick {
        user: UserId,
    },
    Leave,
    Apply {
        #[serde(default)]
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

impl From<GroupOp> for GroupCommand {
    fn from(op: GroupOp) -> Self {
        match op {
            GroupOp::Create(spec) => spec.into(),
            GroupOp::Update {
                name,
                avatar_url,
                intro,
                join_policy,
            } => GroupCommand::Update {
                name,
                avatar_url,
                intro,
                join_policy,
            },
            GroupOp::Dismiss => GroupCommand::Dismiss,
            GroupOp::Transfer { to } => GroupCommand::TransferOwner { to },
            GroupOp::SetAdmin { user, admin } => GroupCommand::SetAdmin { user, admin },
            GroupOp::Add { users } => GroupCommand::AddMembers { users },
            GroupOp::Kick { user } => GroupCommand::Kick { user },
            GroupOp::Leave => GroupCommand::Leave,
            GroupOp::Apply { note } => GroupCommand::Apply { note },
            GroupOp::Decide { user, approve } => GroupCommand::Decide { user, approve },
            GroupOp::Announce { text } => GroupCommand::Announce { text },
            GroupOp::Mute { user, muted } => GroupCommand::Mute { user, muted },
            GroupOp::MuteAll { muted } => GroupCommand::MuteAll { muted },
        }
    }
}
