//! Business outcomes that refuse a command. Technical failures never appear here.

use crate::body::BodyError;

/// Why a command was refused by an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    InvalidBody(#[from] BodyError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Blocked(String),
    #[error("{0}")]
    NotFriends(String),
    #[error("{0}")]
    NotMember(String),
    #[error("{0}")]
    Muted(String),
    #[error("{0}")]
    Conflict(String),
}
