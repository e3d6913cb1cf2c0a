//! Group operations as clients and app servers send them: one JSON shape, tagged by `op`,
//! shared by the WebSocket `group` frame, client REST and the server API.

use serde::Deserialize;
use tidings_domain::UserId;
use tidings_domain::group::{GroupCommand, JoinPolicy};

/// One group operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GroupOp {
    Create {
        name: String,
        #[serde(default)]
        avatar_url: Option<String>,
        #[serde(default)]
        intro: Option<String>,
        #[serde(default)]
        join_policy: JoinPolicy,
        #[serde(default)]
        members: Vec<UserId>,
    },
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
            GroupOp::Create {
                name,
                avatar_url,
                intro,
                join_policy,
                members,
            } => GroupCommand::Create {
                name,
                avatar_url,
                intro,
                join_policy,
                members,
            },
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
