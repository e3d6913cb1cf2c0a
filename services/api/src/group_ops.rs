//! Group operations as clients and app servers send them: one JSON shape, tagged by `op`,
//! shared by the WebSocket `group` frame, client REST and the server API.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
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
// `remote = "Self"`: the derive becomes the inherent `GroupOp::deserialize`, called by the
// `Deserialize` impl below.
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

impl<'de> Deserialize<'de> for GroupOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read as a JSON object first: from a flattened frame or body (the WebSocket `group`
        // frame, the server API's), serde's derived tag would also take a variant's index
        // (`"op": 2` was `dismiss`). A JSON value's tag is a name only.
        let object = Map::deserialize(deserializer)?;
        GroupOp::deserialize(Value::Object(object)).map_err(D::Error::custom)
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
    use tidings_domain::GroupId;

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

    /// A WebSocket `group` frame's shape: the op flattened beside other fields.
    #[derive(Debug, Deserialize)]
    struct Framed {
        #[allow(dead_code)]
        group: GroupId,
        #[serde(flatten)]
        op: GroupOp,
    }

    #[test]
    fn an_op_is_a_name_never_an_index() {
        // Found by fuzz/ (group_op): flattened, `"op": 1` was read as `update`.
        let op: GroupOp = serde_json::from_str(r#"{"op":"kick","user":"bob"}"#).unwrap();
        assert!(matches!(op, GroupOp::Kick { .. }));
        let framed: Framed = serde_json::from_str(r#"{"group":"g","op":"dismiss"}"#).unwrap();
        assert!(matches!(framed.op, GroupOp::Dismiss));
        for index in [r#"{"group":"g","op":1}"#, r#"{"group":"g","op":2}"#] {
            assert!(serde_json::from_str::<Framed>(index).is_err(), "{index}");
        }
        assert!(serde_json::from_str::<GroupOp>(r#"{"op":2}"#).is_err());
    }

    #[test]
    fn a_bad_id_in_an_op_is_still_named() {
        let error = serde_json::from_str::<GroupOp>(r#"{"op":"kick","user":"b b"}"#).unwrap_err();
        assert!(error.to_string().starts_with("invalid id for "), "{error}");
    }
}
