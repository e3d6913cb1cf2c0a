//! The facts lookup: what a decision about an existing message (recall, edit, and later
//! reactions, pins, replies) needs to know of it, read from the event log, never a read model
//! (the api must not trust a lagging one).
//!
//! Messages are addressed by `(conv, msg_id)`. A message among the conversation's newest
//! [`tidings_domain::conv::RECENT_FACTS`] is found in the cached state; an older one is read
//! from the conversation's subject, starting at the state's mark below it and reading forward
//! to its `message_sent` (one ordered-consumer request). Facts never change once recorded, so
//! the read happens outside the subject's lock; the decision under the lock checks them against
//! the state (`conv_seq <= last_conv_seq`, the message's note).

use crate::aggregate::Repository;
use crate::error::ApiError;
use std::ops::ControlFlow;
use tidings_domain::conv::{ConvState, MessageFacts};
use tidings_domain::{AppId, ConvId, Event, MessageId};

/// Where a message not among the recent ones is looked for.
enum Found {
    Recent(MessageFacts),
    /// Read from this stream sequence on.
    Scan {
        from: u64,
        until_ts: i64,
    },
}

/// The facts of the message `msg_id` of `conv`, or `None` if the conversation has no such
/// message.
pub async fn by_msg_id(
    convs: &Repository<ConvState>,
    app: &AppId,
    conv: &ConvId,
    msg_id: &MessageId,
) -> Result<Option<MessageFacts>, ApiError> {
    let found = convs
        .read(app, conv.as_str(), false, |state| {
            match state.recent_facts(msg_id) {
                Some(facts) => Found::Recent(facts.clone()),
                None => {
                    let start = state.scan_from(msg_id);
                    Found::Scan {
                        from: start.stream_seq,
                        until_ts: start.until_ts,
                    }
                }
            }
        })
        .await?;
    let (from, until_ts) = match found {
        Found::Recent(facts) => return Ok(Some(facts)),
        Found::Scan { from, until_ts } => (from, until_ts),
    };
    // A cached state may not know the newest messages yet: the scan reads to the subject's end.
    convs
        .scan(app, conv.as_str(), from, |event| match event {
            Event::MessageSent(m) if &m.msg_id == msg_id => {
                ControlFlow::Break(Some(MessageFacts::from(m)))
            }
            Event::MessageSent(m) if m.ts > until_ts => ControlFlow::Break(None),
            _ => ControlFlow::Continue(()),
        })
        .await
        .map(Option::flatten)
}

/// The facts of the message at `conv_seq` of `conv`, or `None` if it has no such message.
pub async fn by_conv_seq(
    convs: &Repository<ConvState>,
    app: &AppId,
    conv: &ConvId,
    conv_seq: u64,
) -> Result<Option<MessageFacts>, ApiError> {
    let found = convs
        .read(app, conv.as_str(), false, |state| {
            match state.recent_facts_at(conv_seq) {
                Some(facts) => Found::Recent(facts.clone()),
                None => Found::Scan {
                    from: state.scan_from_conv_seq(conv_seq),
                    until_ts: i64::MAX,
                },
            }
        })
        .await?;
    let from = match found {
        Found::Recent(facts) => return Ok(Some(facts)),
        Found::Scan { from, .. } => from,
    };
    convs
        .scan(app, conv.as_str(), from, |event| match event {
            Event::MessageSent(m) if m.conv_seq == conv_seq => {
                ControlFlow::Break(Some(MessageFacts::from(m)))
            }
            Event::MessageSent(m) if m.conv_seq > conv_seq => ControlFlow::Break(None),
            _ => ControlFlow::Continue(()),
        })
        .await
        .map(Option::flatten)
}
