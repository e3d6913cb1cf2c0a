//! `message_edited`: a text message's sender replaced its body.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use crate::wire::parts::BodyV2;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::MessageEdited;
use tidings_domain::event::types::MESSAGE_EDITED;
use tidings_domain::{AppId, Body, ConvId, Event, IdError, MessageId, UserId};

/// `message_edited`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageEditedV1 {
    pub app: String,
    pub conv: String,
    pub conv_seq: u64,
    pub msg_id: String,
    pub by: String,
    pub body: BodyV2,
    pub edit_seq: u64,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: MESSAGE_EDITED,
    version: 1,
    decode: |p| {
        Ok(Event::MessageEdited(
            rmp_serde::from_slice::<MessageEditedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<MessageEditedV1>,
    sample: || {
        Event::MessageEdited(MessageEdited {
            app: sample::app(),
            conv: ConvId::direct(&sample::alice(), &sample::bob()),
            conv_seq: 7,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000007").expect("valid"),
            by: sample::alice(),
            body: Body::Text {
                text: "see you at eight".into(),
            },
            edit_seq: 1,
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(e: &MessageEdited) -> (u32, Vec<u8>) {
    (1, to_vec(&MessageEditedV1::from(e)))
}

impl TryFrom<MessageEditedV1> for MessageEdited {
    type Error = IdError;
    fn try_from(w: MessageEditedV1) -> Result<Self, IdError> {
        Ok(MessageEdited {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            msg_id: MessageId::parse(w.msg_id)?,
            by: UserId::parse(w.by)?,
            body: w.body.try_into()?,
            edit_seq: w.edit_seq,
            ts: w.ts,
        })
    }
}

impl From<&MessageEdited> for MessageEditedV1 {
    fn from(e: &MessageEdited) -> Self {
        MessageEditedV1 {
            app: e.app.to_string(),
            conv: e.conv.to_string(),
            conv_seq: e.conv_seq,
            msg_id: e.msg_id.to_string(),
            by: e.by.to_string(),
            body: (&e.body).into(),
            edit_seq: e.edit_seq,
            ts: e.ts,
        }
    }
}
