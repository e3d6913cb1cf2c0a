//! `conversation_cleared`: a user cleared a conversation from their own view up to a
//! `conv_seq` (clear for me).

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::ConversationCleared;
use tidings_domain::event::types::CONVERSATION_CLEARED;
use tidings_domain::{AppId, ConvId, Event, IdError, UserId};

/// `conversation_cleared`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationClearedV1 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub up_to: u64,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: CONVERSATION_CLEARED,
    version: 1,
    decode: |p| {
        Ok(Event::ConversationCleared(
            rmp_serde::from_slice::<ConversationClearedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<ConversationClearedV1>,
    sample: || {
        Event::ConversationCleared(ConversationCleared {
            app: sample::app(),
            user: sample::bob(),
            conv: ConvId::group(&sample::team()),
            up_to: 7,
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(c: &ConversationCleared) -> (u32, Vec<u8>) {
    (1, to_vec(&ConversationClearedV1::from(c)))
}

impl TryFrom<ConversationClearedV1> for ConversationCleared {
    type Error = IdError;
    fn try_from(w: ConversationClearedV1) -> Result<Self, IdError> {
        Ok(ConversationCleared {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            conv: ConvId::parse(w.conv)?,
            up_to: w.up_to,
            ts: w.ts,
        })
    }
}

impl From<&ConversationCleared> for ConversationClearedV1 {
    fn from(c: &ConversationCleared) -> Self {
        ConversationClearedV1 {
            app: c.app.to_string(),
            user: c.user.to_string(),
            conv: c.conv.to_string(),
            up_to: c.up_to,
            ts: c.ts,
        }
    }
}
