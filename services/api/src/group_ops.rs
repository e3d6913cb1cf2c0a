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
// `remote = "Self"`: the derived deserializer becomes `GroupOp::deserialize`, which the
// `Deserialize` impl below calls once `op` is known to be a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", tag = "op", rename_all = "snake_case")]
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

/// An operation is an object whose `op` is a name: the derived form alone would also take a
/// variant index (`"op": 7` is `leave`).
impl<'de> Deserialize<'de> for GroupOp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        match value.get("op") {
            Some(serde_json::Value::String(_)) => {}
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "invalid type: {other}, expected an op name"
                )));
            }
            None if value.is_object() => return Err(D::Error::missing_field("op")),
            None => return Err(D::Error::custom("a group op must be an object")),
        }
        GroupOp::deserialize(value).map_err(D::Error::custom)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_is_named_never_numbered() {
        let op: GroupOp = serde_json::from_str(r#"{"op":"leave"}"#).unwrap();
        assert!(matches!(op, GroupOp::Leave));
        let op: GroupOp = serde_json::from_str(r#"{"op":"kick","user":"bob"}"#).unwrap();
        assert!(matches!(op, GroupOp::Kick { .. }));
        for bad in [
            r#"{"op":7}"#,
            r#"{"op":null}"#,
            r#"{"user":"bob"}"#,
            r#"["kick","bob"]"#,
            r#""leave""#,
            r#"{"op":"kick","user":7}"#,
        ] {
            assert!(serde_json::from_str::<GroupOp>(bad).is_err(), "{bad}");
        }
    }
}
