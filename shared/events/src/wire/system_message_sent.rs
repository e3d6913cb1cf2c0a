//! `system_message_sent`: the app server sent a system message to some users.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use crate::wire::parts::BodyV1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::SystemMessageSent;
use tidings_domain::event::types::SYSTEM_MESSAGE_SENT;
use tidings_domain::{AppId, Body, Event, IdError, MessageId, UserId};

/// `system_message_sent`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemMessageSentV1 {
    pub app: String,
    pub msg_id: String,
    pub to: Vec<String>,
    pub body: BodyV1,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: SYSTEM_MESSAGE_SENT,
    version: 1,
    decode: |p| {
        Ok(Event::SystemMessageSent(
            rmp_serde::from_slice::<SystemMessageSentV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<SystemMessageSentV1>,
    sample: || {
        Event::SystemMessageSent(SystemMessageSent {
            app: sample::app(),
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000003").expect("valid"),
            to: vec![sample::bob(), sample::alice()],
            body: Body::Text {
                text: "maintenance at midnight".into(),
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(m: &SystemMessageSent) -> (u32, Vec<u8>) {
    (1, to_vec(&SystemMessageSentV1::from(m)))
}

impl TryFrom<SystemMessageSentV1> for SystemMessageSent {
    type Error = IdError;
    fn try_from(w: SystemMessageSentV1) -> Result<Self, IdError> {
        Ok(SystemMessageSent {
            app: AppId::parse(w.app)?,
            msg_id: MessageId::parse(w.msg_id)?,
            to: w
                .to
                .into_iter()
                .map(UserId::parse)
                .collect::<Result<_, _>>()?,
            body: w.body.into(),
            ts: w.ts,
        })
    }
}

impl From<&SystemMessageSent> for SystemMessageSentV1 {
    fn from(m: &SystemMessageSent) -> Self {
        SystemMessageSentV1 {
            app: m.app.to_string(),
            msg_id: m.msg_id.to_string(),
            to: m.to.iter().map(ToString::to_string).collect(),
            body: (&m.body).into(),
            ts: m.ts,
        }
    }
}
