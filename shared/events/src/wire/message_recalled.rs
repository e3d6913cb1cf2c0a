//! `message_recalled`: a message's body is withdrawn from every read model.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::MessageRecalled;
use tidings_domain::event::types::MESSAGE_RECALLED;
use tidings_domain::{AppId, ConvId, Event, IdError, MessageId, UserId};

/// `message_recalled`, version 1. `by` is absent when the app server recalled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageRecalledV1 {
    pub app: String,
    pub conv: String,
    pub conv_seq: u64,
    pub msg_id: String,
    #[serde(default)]
    pub by: Option<String>,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: MESSAGE_RECALLED,
    version: 1,
    decode: |p| {
        Ok(Event::MessageRecalled(
            rmp_serde::from_slice::<MessageRecalledV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<MessageRecalledV1>,
    sample: || {
        Event::MessageRecalled(MessageRecalled {
            app: sample::app(),
            conv: ConvId::direct(&sample::alice(), &sample::bob()),
            conv_seq: 7,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000007").expect("valid"),
            by: Some(sample::alice()),
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(r: &MessageRecalled) -> (u32, Vec<u8>) {
    (1, to_vec(&MessageRecalledV1::from(r)))
}

impl TryFrom<MessageRecalledV1> for MessageRecalled {
    type Error = IdError;
    fn try_from(w: MessageRecalledV1) -> Result<Self, IdError> {
        Ok(MessageRecalled {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            msg_id: MessageId::parse(w.msg_id)?,
            by: w.by.map(UserId::parse).transpose()?,
            ts: w.ts,
        })
    }
}

impl From<&MessageRecalled> for MessageRecalledV1 {
    fn from(r: &MessageRecalled) -> Self {
        MessageRecalledV1 {
            app: r.app.to_string(),
            conv: r.conv.to_string(),
            conv_seq: r.conv_seq,
            msg_id: r.msg_id.to_string(),
            by: r.by.as_ref().map(ToString::to_string),
            ts: r.ts,
        }
    }
}
