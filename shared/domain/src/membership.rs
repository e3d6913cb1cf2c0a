//! Value types of group membership that events carry and the group aggregate decides on. They
//! live apart from `group` so that `event` depends on them without depending on the aggregate.

use serde::{Deserialize, Serialize};

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

/// Who may join without an admin adding them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Anyone may join by applying; no approval.
    Open,
    /// Applications wait for an admin's decision.
    #[default]
    Approval,
    /// Only admins add members; applications are refused.
    InviteOnly,
}
