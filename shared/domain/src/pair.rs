//! The relationship of two users (friendship, a pending request, blocks). It lives in the
//! aggregate of the pair's direct conversation, on the same subject as its messages, so a send
//! and a block or unfriend are decided against one sequence: a message is either recorded
//! before the block, or refused.

use crate::event::{Event, PairChange, PairChanged};
use crate::{AppId, ConvId, DomainError, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest friend-request note, in bytes.
pub const MAX_NOTE_BYTES: usize = 256;

/// A friend request waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub from: UserId,
    pub note: Option<String>,
}

/// The relationship of a pair, folded from their direct conversation's subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairState {
    pub friends: bool,
    pub pending: Option<PendingRequest>,
    /// Which of the two block the other.
    pub blockers: BTreeSet<UserId>,
}

impl PairState {
    /// Applies one relationship event.
    pub fn evolve(&mut self, event: &PairChanged) {
        match &event.change {
            PairChange::FriendRequested { note } => {
                self.pending = Some(PendingRequest {
                    from: event.actor.clone(),
                    note: note.clone(),
                });
            }
            PairChange::FriendAccepted | PairChange::FriendAdded => {
                self.friends = true;
                self.pending = None;
            }
            PairChange::FriendRejected | PairChange::FriendRequestCanceled => self.pending = None,
            PairChange::FriendRemoved => self.friends = false,
            PairChange::Blocked => {
                self.blockers.insert(event.actor.clone());
            }
            PairChange::Unblocked => {
                self.blockers.remove(&event.actor);
            }
        }
    }

    /// Whether `user` blocks the other one.
    pub fn blocks(&self, user: &UserId) -> bool {
        self.blockers.contains(user)
    }
}

/// What one user does to their relationship with another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairCommand {
    Request {
        note: Option<String>,
    },
    Accept,
    Reject,
    Cancel,
    Remove,
    /// Make the two friends at once (the app server's social graph).
    Add,
    Block,
    Unblock,
}

/// `actor` changes their relationship with `other` (a command of the direct conversation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePair {
    pub app: AppId,
    pub actor: UserId,
    pub other: UserId,
    pub command: PairCommand,
    pub ts: i64,
}

/// Decides a relationship command by `actor` about `other`. Repeats are no-ops.
pub(crate) fn decide(state: &PairState, cmd: &ChangePair) -> Result<Vec<Event>, DomainError> {
    let ChangePair {
        app,
        actor,
        other,
        command,
        ts,
    } = cmd;
    if actor == other {
        return Err(DomainError::Invalid(
            "a user has no relationship with themselves".into(),
        ));
    }
    let pending_from = |u: &UserId| state.pending.as_ref().is_some_and(|p| &p.from == u);
    let change = match command {
        PairCommand::Request { note } => {
            if note.as_ref().is_some_and(|n| n.len() > MAX_NOTE_BYTES) {
                return Err(DomainError::TooLarge(format!(
                    "note must be at most {MAX_NOTE_BYTES} bytes"
                )));
            }
            if state.blocks(other) {
                return Err(DomainError::Blocked(format!(
                    "{other} does not accept requests from you"
                )));
            }
            if state.blocks(actor) {
                return Err(DomainError::Forbidden(format!(
                    "you block {other}: unblock first"
                )));
            }
            if state.friends || pending_from(actor) {
                None
            } else if pending_from(other) {
                // Both asked: the second request accepts the first.
                Some(PairChange::FriendAccepted)
            } else {
                Some(PairChange::FriendRequested { note: note.clone() })
            }
        }
        PairCommand::Accept if state.friends => None,
        PairCommand::Accept | PairCommand::Reject if !pending_from(other) => {
            return Err(DomainError::NotFound(format!(
                "friend request from {other}"
            )));
        }
        PairCommand::Accept => Some(PairChange::FriendAccepted),
        PairCommand::Reject => Some(PairChange::FriendRejected),
        PairCommand::Cancel if !pending_from(actor) => {
            return Err(DomainError::NotFound(format!("friend request to {other}")));
        }
        PairCommand::Cancel => Some(PairChange::FriendRequestCanceled),
        PairCommand::Remove => state.friends.then_some(PairChange::FriendRemoved),
        PairCommand::Add => (!state.friends).then_some(PairChange::FriendAdded),
        PairCommand::Block => (!state.blocks(actor)).then_some(PairChange::Blocked),
        PairCommand::Unblock => state.blocks(actor).then_some(PairChange::Unblocked),
    };
    Ok(change
        .map(|change| {
            Event::PairChanged(PairChanged {
                app: app.clone(),
                conv: ConvId::direct(actor, other),
                actor: actor.clone(),
                other: other.clone(),
                change,
                ts: *ts,
            })
        })
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn run(
        state: &mut PairState,
        actor: &str,
        other: &str,
        cmd: PairCommand,
    ) -> Result<Option<PairChange>, DomainError> {
        let cmd = ChangePair {
            app: AppId::parse("app").unwrap(),
            actor: u(actor),
            other: u(other),
            command: cmd,
            ts: 1,
        };
        let events = decide(state, &cmd)?;
        Ok(events.into_iter().next().map(|e| match e {
            Event::PairChanged(p) => {
                state.evolve(&p);
                p.change
            }
            other => panic!("unexpected {other:?}"),
        }))
    }

    fn request() -> PairCommand {
        PairCommand::Request {
            note: Some("hi".into()),
        }
    }

    #[test]
    fn request_accept_remove() {
        let mut s = PairState::default();
        assert!(matches!(
            run(&mut s, "a", "b", request()),
            Ok(Some(PairChange::FriendRequested { .. }))
        ));
        assert_eq!(
            run(&mut s, "a", "b", request()),
            Ok(None),
            "a repeated request is a no-op"
        );
        assert_eq!(
            run(&mut s, "b", "a", PairCommand::Accept),
            Ok(Some(PairChange::FriendAccepted))
        );
        assert!(s.friends);
        assert_eq!(
            run(&mut s, "a", "b", PairCommand::Remove),
            Ok(Some(PairChange::FriendRemoved))
        );
        assert_eq!(run(&mut s, "a", "b", PairCommand::Remove), Ok(None));
    }

    #[test]
    fn mutual_requests_become_friends() {
        let mut s = PairState::default();
        run(&mut s, "a", "b", request()).unwrap();
        assert_eq!(
            run(&mut s, "b", "a", request()),
            Ok(Some(PairChange::FriendAccepted))
        );
        assert!(s.friends && s.pending.is_none());
    }

    #[test]
    fn only_the_right_side_answers_or_cancels() {
        let mut s = PairState::default();
        run(&mut s, "a", "b", request()).unwrap();
        assert!(matches!(
            run(&mut s, "a", "b", PairCommand::Accept),
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            run(&mut s, "b", "a", PairCommand::Cancel),
            Err(DomainError::NotFound(_))
        ));
        assert_eq!(
            run(&mut s, "a", "b", PairCommand::Cancel),
            Ok(Some(PairChange::FriendRequestCanceled))
        );
        run(&mut s, "a", "b", request()).unwrap();
        assert_eq!(
            run(&mut s, "b", "a", PairCommand::Reject),
            Ok(Some(PairChange::FriendRejected))
        );
        assert!(!s.friends && s.pending.is_none());
    }

    #[test]
    fn blocks_refuse_requests() {
        let mut s = PairState::default();
        assert_eq!(
            run(&mut s, "b", "a", PairCommand::Block),
            Ok(Some(PairChange::Blocked))
        );
        assert_eq!(run(&mut s, "b", "a", PairCommand::Block), Ok(None));
        assert!(matches!(
            run(&mut s, "a", "b", request()),
            Err(DomainError::Blocked(_))
        ));
        assert!(matches!(
            run(&mut s, "b", "a", request()),
            Err(DomainError::Forbidden(_))
        ));
        assert_eq!(
            run(&mut s, "b", "a", PairCommand::Unblock),
            Ok(Some(PairChange::Unblocked))
        );
        assert!(run(&mut s, "a", "b", request()).unwrap().is_some());
    }

    #[test]
    fn bad_requests() {
        let mut s = PairState::default();
        assert!(matches!(
            run(&mut s, "a", "a", request()),
            Err(DomainError::Invalid(_))
        ));
        let long = PairCommand::Request {
            note: Some("n".repeat(300)),
        };
        assert!(matches!(
            run(&mut s, "a", "b", long),
            Err(DomainError::TooLarge(_))
        ));
    }
}
