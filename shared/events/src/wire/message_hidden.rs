//! `message_hidden`: a user hid one message from their own view (delete for me).

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::MessageHidden;
use tidings_domain::event::types::MESSAGE_HIDDEN;
use tidings_domain::{AppId, ConvId, Event, IdError, UserId};

/// `message_hidden`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageHiddenV1 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub conv_seq: u64,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: MESSAGE_HIDDEN,
    version: 1,
    decode: |p| {
        Ok(Event::MessageHidden(
            rmp_serde::from_slice::<MessageHiddenV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<MessageHiddenV1>,
    sample: || {
        let (bob, alice) = (sample::bob(), sample::alice());
        Event::MessageHidden(MessageHidden {
            app: sample::app(),
            conv: ConvId::direct(&bob, &alice),
            user: bob,
            conv_seq: 2,
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(h: &MessageHidden) -> (u32, Vec<u8>) {
    (1, to_vec(&MessageHiddenV1::from(h)))
}

impl TryFrom<MessageHiddenV1> for MessageHidden {
    type Error = IdError;
    fn try_from(w: MessageHiddenV1) -> Result<Self, IdError> {
        Ok(MessageHidden {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            ts: w.ts,
        })
    }
}

impl From<&MessageHidden> for MessageHiddenV1 {
    fn from(h: &MessageHidden) -> Self {
        MessageHiddenV1 {
            app: h.app.to_string(),
            user: h.user.to_string(),
            conv: h.conv.to_string(),
            conv_seq: h.conv_seq,
            ts: h.ts,
        }
    }
}
