//! `conversation_read`: a user's read marker in a conversation.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::ConversationRead;
use tidings_domain::event::types::CONVERSATION_READ;
use tidings_domain::{AppId, ConvId, Event, IdError, UserId};

/// `conversation_read`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationReadV1 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub conv_seq: u64,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: CONVERSATION_READ,
    version: 1,
    decode: |p| {
        Ok(Event::ConversationRead(
            rmp_serde::from_slice::<ConversationReadV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<ConversationReadV1>,
    sample: || {
        let (bob, alice) = (sample::bob(), sample::alice());
        Event::ConversationRead(ConversationRead {
            app: sample::app(),
            conv: ConvId::direct(&bob, &alice),
            user: bob,
            conv_seq: 3,
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(r: &ConversationRead) -> (u32, Vec<u8>) {
    (1, to_vec(&ConversationReadV1::from(r)))
}

impl TryFrom<ConversationReadV1> for ConversationRead {
    type Error = IdError;
    fn try_from(w: ConversationReadV1) -> Result<Self, IdError> {
        Ok(ConversationRead {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            ts: w.ts,
        })
    }
}

impl From<&ConversationRead> for ConversationReadV1 {
    fn from(r: &ConversationRead) -> Self {
        ConversationReadV1 {
            app: r.app.to_string(),
            user: r.user.to_string(),
            conv: r.conv.to_string(),
            conv_seq: r.conv_seq,
            ts: r.ts,
        }
    }
}
