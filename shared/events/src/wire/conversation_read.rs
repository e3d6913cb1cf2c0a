//! `conversation_read`: a user's read marker in a conversation. Version 2 names the device
//! that read, for per-device read positions.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::ConversationRead;
use tidings_domain::event::types::CONVERSATION_READ;
use tidings_domain::{AppId, ConvId, DeviceId, Event, IdError, UserId};

/// `conversation_read`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationReadV1 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub conv_seq: u64,
    pub ts: i64,
}

/// `conversation_read`, version 2: `device` is the device that read (absent when the read
/// came from no device: REST without one, or the app server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationReadV2 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub conv_seq: u64,
    #[serde(default)]
    pub device: Option<String>,
    pub ts: i64,
}

fn sample_read(device: Option<&str>) -> Event {
    let (bob, alice) = (sample::bob(), sample::alice());
    Event::ConversationRead(ConversationRead {
        app: sample::app(),
        conv: ConvId::direct(&bob, &alice),
        user: bob,
        conv_seq: 3,
        device: device.map(|d| DeviceId::parse(d).expect("valid")),
        ts: sample::TS,
    })
}

pub(crate) const ENTRIES: &[Entry] = &[
    Entry {
        event_type: CONVERSATION_READ,
        version: 1,
        decode: |p| {
            let v1 = rmp_serde::from_slice::<ConversationReadV1>(p)?;
            Ok(Event::ConversationRead(
                ConversationReadV2::from(v1).try_into()?,
            ))
        },
        schema: schema::<ConversationReadV1>,
        sample: || sample_read(None),
    },
    Entry {
        event_type: CONVERSATION_READ,
        version: 2,
        decode: |p| {
            Ok(Event::ConversationRead(
                rmp_serde::from_slice::<ConversationReadV2>(p)?.try_into()?,
            ))
        },
        schema: schema::<ConversationReadV2>,
        sample: || sample_read(Some("phone")),
    },
];

/// Encodes in the current version.
pub(crate) fn encode(r: &ConversationRead) -> (u32, Vec<u8>) {
    (2, to_vec(&ConversationReadV2::from(r)))
}

impl From<ConversationReadV1> for ConversationReadV2 {
    fn from(w: ConversationReadV1) -> Self {
        ConversationReadV2 {
            app: w.app,
            user: w.user,
            conv: w.conv,
            conv_seq: w.conv_seq,
            device: None,
            ts: w.ts,
        }
    }
}

impl TryFrom<ConversationReadV2> for ConversationRead {
    type Error = IdError;
    fn try_from(w: ConversationReadV2) -> Result<Self, IdError> {
        Ok(ConversationRead {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            device: w.device.map(DeviceId::parse).transpose()?,
            ts: w.ts,
        })
    }
}

impl From<&ConversationRead> for ConversationReadV2 {
    fn from(r: &ConversationRead) -> Self {
        ConversationReadV2 {
            app: r.app.to_string(),
            user: r.user.to_string(),
            conv: r.conv.to_string(),
            conv_seq: r.conv_seq,
            device: r.device.as_ref().map(ToString::to_string),
            ts: r.ts,
        }
    }
}
