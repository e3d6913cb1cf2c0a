//! How rows change: the pure transitions every adapter applies, so all of them agree.

use crate::model::{Conversation, MessageView, Recalled, Relation, RelationPatch};
use crate::write::Annotation;
use tidings_domain::{Recipient, UserId};

/// Applies a patch to a relation row (a fresh one when `row` is `None`).
pub fn patch_relation(
    row: Option<Relation>,
    other: &UserId,
    patch: RelationPatch,
    ts: i64,
    cursor: u64,
) -> Relation {
    let mut row = row.unwrap_or(Relation {
        user: other.clone(),
        friend: false,
        request: None,
        note: None,
        blocked: false,
        ts,
        cursor,
    });
    if let Some(friend) = patch.friend {
        row.friend = friend;
    }
    if let Some(request) = patch.request {
        (row.request, row.note) = match request {
            Some((direction, note)) => (Some(direction), note),
            None => (None, None),
        };
    }
    if let Some(blocked) = patch.blocked {
        row.blocked = blocked;
    }
    row.ts = ts;
    row.cursor = cursor;
    row
}

/// Records `annotation` on a message: a recall drops the body for good (a later edit, which
/// the aggregate refuses anyway, changes nothing); an edit replaces it if newer.
pub fn annotate(message: &mut MessageView, annotation: Annotation) {
    if message.recalled.is_some() {
        return;
    }
    match annotation {
        Annotation::Recalled { by, ts } => {
            message.body = None;
            message.recalled = Some(Recalled { by, ts });
        }
        Annotation::Edited { body, edit_seq, ts } if edit_seq > message.edit_seq => {
            message.body = Some(body);
            message.edit_seq = edit_seq;
            message.edited_at = Some(ts);
        }
        Annotation::Edited { .. } => {}
    }
}

/// Moves a conversation row forward to `message`; older messages only fill in what is missing.
/// The row stores no message body: `last_message` is read from the timeline when the row is
/// read (rows are rewritten on every message, and a body in each of them doubled the bytes the
/// store wrote per message).
pub fn advance_conversation(
    row: Option<Conversation>,
    user: &UserId,
    ts: i64,
    message: &MessageView,
) -> Conversation {
    let (peer, group) = match (&message.to, message.conv.service_parts()) {
        (Recipient::Group(g), _) => (None, Some(g.clone())),
        // The customer's contact is the service; the business side's is the customer.
        (_, Some((service, customer))) => {
            let peer = if &customer == user { service } else { customer };
            (Some(peer), None)
        }
        (Recipient::Service(service), None) => (Some(service.clone()), None),
        (Recipient::User(to), None) => {
            let peer = if &message.from == user {
                to
            } else {
                &message.from
            };
            (Some(peer.clone()), None)
        }
    };
    let mut row = row.unwrap_or(Conversation {
        conv: message.conv.clone(),
        peer,
        group,
        last_seq: 0,
        read_seq: 0,
        unread: 0,
        last_ts: 0,
        last_message: None,
        follows: false,
    });
    // A message reaches a following row only when its user sends it (`advances`); it takes
    // the row back to following whatever it was (a group member's row stops at a leave).
    row.follows = row.may_follow(user.as_str());
    if message.conv_seq > row.last_seq {
        row.last_seq = message.conv_seq;
        row.last_ts = ts;
        if &message.from == user {
            // Sending implies having read everything before it.
            row.read_seq = message.conv_seq;
            row.unread = 0;
        } else {
            row.unread = row.last_seq - row.read_seq;
        }
    }
    row
}

/// Whether `message` changes what `user`'s conversation row `row` stores: not when the row
/// follows its timeline and `user` did not send it (a read takes the message from the
/// timeline; only a send moves the read marker along with it). Every other message is
/// written: one that creates the row, and one that takes a row back to following.
pub fn advances(row: Option<&Conversation>, user: &UserId, message: &MessageView) -> bool {
    !matches!(row, Some(row) if row.follows && &message.from != user)
}

/// Marks a conversation row read up to `conv_seq`: never backwards, never past its last message.
/// A following row's stored `last_seq` may be behind the conversation, so a marker past it
/// moves it along (the api accepts a marker only at a message that exists).
pub fn mark_read(mut row: Conversation, conv_seq: u64) -> Conversation {
    if row.follows {
        row.last_seq = row.last_seq.max(conv_seq);
    }
    row.read_seq = row.read_seq.max(conv_seq.min(row.last_seq));
    row.unread = row.last_seq - row.read_seq;
    row
}

/// Freezes a following row when its user leaves the group: it moves to `last`, the group's
/// last message before the leave (if any), and follows no more. A row that does not follow
/// (its user left before, and no message reached it since they came back) is left as it is.
pub fn leave(row: Conversation, user: &UserId, last: Option<(i64, &MessageView)>) -> Conversation {
    if !row.follows {
        return row;
    }
    let mut row = match last {
        // A read marker may have moved the row to that message already, without its time.
        Some((ts, message)) if message.conv_seq >= row.last_seq => {
            let mut row = advance_conversation(Some(row), user, ts, message);
            row.last_ts = ts;
            row
        }
        _ => row,
    };
    row.follows = false;
    row
}

/// A row as it is read: a following row takes its last message from `newest`, the newest
/// message of its conversation's timeline (a member who did not send it has not read it),
/// and the flag is cleared.
pub fn follow(mut row: Conversation, newest: Option<(u64, i64)>) -> Conversation {
    if !row.follows {
        return row;
    }
    // At `last_seq` too: a read marker moves a following row without the message's time.
    if let Some((conv_seq, ts)) = newest.filter(|(conv_seq, _)| *conv_seq >= row.last_seq) {
        row.last_seq = conv_seq;
        row.last_ts = ts;
    }
    row.unread = row.last_seq.saturating_sub(row.read_seq);
    row.follows = false;
    row
}
