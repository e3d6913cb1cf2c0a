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
    let conv = ConvId::direct(&from, &to);
    let body = Body::Text { text: "hi".into() };
    MessageView::sent(
        conv,
        conv_seq,
        msg_id(conv_seq),
        from,
        Recipient::User(to),
        body,
    )
}
