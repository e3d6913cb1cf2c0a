//! `message_pinned` and `message_unpinned`: one struct, told apart by the type header.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::Pin;
use tidings_domain::event::types::{MESSAGE_PINNED, MESSAGE_UNPINNED};
use tidings_domain::{AppId, ConvId, Event, IdError, MessageId, UserId};

/// `message_pinned` / `message_unpinned`, version 1. `by` is absent when the app server acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PinV1 {
    pub app: String,
    pub conv: String,
    pub conv_seq: u64,
    pub msg_id: String,
    #[serde(default)]
    pub by: Option<String>,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[
    v1(
        MESSAGE_PINNED,
        |p| Ok(Event::MessagePinned(decode_v1(p)?)),
        || Event::MessagePinned(sample_pin()),
    ),
    v1(
        MESSAGE_UNPINNED,
        |p| Ok(Event::MessageUnpinned(decode_v1(p)?)),
        || Event::MessageUnpinned(sample_pin()),
    ),
];

const fn v1(
    event_type: &'static str,
    decode: fn(&[u8]) -> Result<Event, DecodeError>,
    sample: fn() -> Event,
) -> Entry {
    Entry {
        event_type,
        version: 1,
        decode,
        schema: schema::<PinV1>,
        sample,
    }
}

fn decode_v1(p: &[u8]) -> Result<Pin, DecodeError> {
    Ok(rmp_serde::from_slice::<PinV1>(p)?.try_into()?)
}

fn sample_pin() -> Pin {
    Pin {
        app: sample::app(),
        conv: ConvId::direct(&sample::alice(), &sample::bob()),
        conv_seq: 7,
        msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000007").expect("valid"),
        by: Some(sample::bob()),
        ts: sample::TS,
    }
}

/// Encodes a pin or unpin in the current version.
pub(crate) fn encode(p: &Pin) -> (u32, Vec<u8>) {
    (1, to_vec(&PinV1::from(p)))
}

impl TryFrom<PinV1> for Pin {
    type Error = IdError;
    fn try_from(w: PinV1) -> Result<Self, IdError> {
        Ok(Pin {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            msg_id: MessageId::parse(w.msg_id)?,
            by: w.by.map(UserId::parse).transpose()?,
            ts: w.ts,
        })
    }
}

impl From<&Pin> for PinV1 {
    fn from(p: &Pin) -> Self {
        PinV1 {
            app: p.app.to_string(),
            conv: p.conv.to_string(),
            conv_seq: p.conv_seq,
            msg_id: p.msg_id.to_string(),
            by: p.by.as_ref().map(ToString::to_string),
            ts: p.ts,
        }
    }
}
