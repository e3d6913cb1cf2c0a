//! Ids and messages the crate's unit tests build their rows from.

use crate::model::MessageView;
use tidings_domain::{Body, ConvId, MessageId, Recipient, UserId};

pub fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub fn msg_id(n: u64) -> MessageId {
    MessageId::parse(format!("019b7b1c-3a00-7000-8000-{n:012}")).unwrap()
}

/// A text message ("hi") of the direct conversation of `from` and `to`, numbered `conv_seq`.
pub fn message(from: &str, to: &str, conv_seq: u64) -> MessageView {
    let (from, to) = (user(from), user(to));
    MessageView {
        conv: ConvId::direct(&from, &to),
        conv_seq,
        msg_id: msg_id(conv_seq),
        from,
        to: Recipient::User(to),
        body: Some(Body::Text { text: "hi".into() }),
        mentions: Vec::new(),
        mention_all: false,
        reply_to: None,
        forward_of: None,
        recalled: None,
        edit_seq: 0,
        edited_at: None,
        agent: None,
        session: None,
    }
}
