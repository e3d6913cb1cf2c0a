//! The `reads` aggregate: how far one user has read each of their conversations. Its own
//! subject per user, so frequent read markers never contend with message sends.

use crate::event::{ConversationRead, Event};
use crate::{AppId, ConvId, DomainError, UserId};
use std::collections::HashMap;

/// A user's read positions, folded from their reads subject.
#[derive(Debug, Clone, Default)]
pub struct ReadState {
    read: HashMap<ConvId, u64>,
}

impl ReadState {
    /// Applies one event of the subject.
    pub fn evolve(&mut self, event: &Event) {
        if let Event::ConversationRead(r) = event {
            let seq = self.read.entry(r.conv.clone()).or_default();
            *seq = (*seq).max(r.conv_seq);
        }
    }

    /// How far `conv` is read, 0 when never.
    pub fn read_seq(&self, conv: &ConvId) -> u64 {
        self.read.get(conv).copied().unwrap_or(0)
    }
}

/// Marks `conv` read up to `conv_seq`, which must exist (`last_conv_seq` is the
/// conversation's newest). Moving backwards is a no-op.
pub fn decide_read(
    state: &ReadState,
    app: &AppId,
    user: &UserId,
    conv: &ConvId,
    conv_seq: u64,
    last_conv_seq: u64,
    ts: i64,
) -> Result<Vec<Event>, DomainError> {
    if conv_seq == 0 || conv_seq > last_conv_seq {
        return Err(DomainError::Invalid(format!(
            "conv_seq must be 1-{last_conv_seq} for {conv}"
        )));
    }
    if conv_seq <= state.read_seq(conv) {
        return Ok(Vec::new());
    }
    Ok(vec![Event::ConversationRead(ConversationRead {
        app: app.clone(),
        user: user.clone(),
        conv: conv.clone(),
        conv_seq,
        ts,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_move_forward_within_the_conversation() {
        let (app, user) = (AppId::parse("a").unwrap(), UserId::parse("u").unwrap());
        let conv = ConvId::parse("d~u~v").unwrap();
        let mut state = ReadState::default();
        assert!(decide_read(&state, &app, &user, &conv, 4, 3, 1).is_err());
        assert!(decide_read(&state, &app, &user, &conv, 0, 3, 1).is_err());
        for e in decide_read(&state, &app, &user, &conv, 2, 3, 1).unwrap() {
            state.evolve(&e);
        }
        assert_eq!(state.read_seq(&conv), 2);
        assert!(
            decide_read(&state, &app, &user, &conv, 1, 3, 1)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            decide_read(&state, &app, &user, &conv, 3, 3, 1)
                .unwrap()
                .len(),
            1
        );
    }
}
