//! `service_message_sent`: a message of a customer's conversation with a service account.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use crate::wire::parts::BodyV2;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::SERVICE_MESSAGE_SENT;
use tidings_domain::service::ServiceMessageSent;
use tidings_domain::{AppId, Body, ClientMsgId, Event, MessageId, UserId};

/// `service_message_sent`, version 1. `agent` is absent while the customer is queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceMessageSentV1 {
    pub app: String,
    pub service: String,
    pub customer: String,
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
    #[serde(default)]
    pub agent: Option<String>,
    pub session: u64,
    pub client_msg_id: String,
    pub body: BodyV2,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: SERVICE_MESSAGE_SENT,
    version: 1,
    decode: |p| {
        let wire = rmp_serde::from_slice::<ServiceMessageSentV1>(p)?;
        Ok(Event::ServiceMessageSent(wire.try_into()?))
    },
    schema: schema::<ServiceMessageSentV1>,
    sample: || {
        Event::ServiceMessageSent(ServiceMessageSent {
            app: sample::app(),
            service: UserId::parse("acme").expect("valid"),
            customer: sample::alice(),
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000011").expect("valid"),
            conv_seq: 3,
            from: sample::bob(),
            agent: Some(sample::bob()),
            session: 1,
            client_msg_id: ClientMsgId::parse("c-11").expect("valid"),
            body: Body::Text {
                text: "How can I help?".into(),
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(m: &ServiceMessageSent) -> (u32, Vec<u8>) {
    (1, to_vec(&ServiceMessageSentV1::from(m)))
}

impl TryFrom<ServiceMessageSentV1> for ServiceMessageSent {
    type Error = DecodeError;
    fn try_from(w: ServiceMessageSentV1) -> Result<Self, DecodeError> {
        Ok(ServiceMessageSent {
            app: AppId::parse(w.app)?,
            service: UserId::parse(w.service)?,
            customer: UserId::parse(w.customer)?,
            msg_id: MessageId::parse(w.msg_id)?,
            conv_seq: w.conv_seq,
            from: UserId::parse(w.from)?,
            agent: w.agent.map(UserId::parse).transpose()?,
            session: w.session,
            client_msg_id: ClientMsgId::parse(w.client_msg_id)?,
            body: Body::try_from(w.body)?,
            ts: w.ts,
        })
    }
}

impl From<&ServiceMessageSent> for ServiceMessageSentV1 {
    fn from(m: &ServiceMessageSent) -> Self {
        ServiceMessageSentV1 {
            app: m.app.to_string(),
            service: m.service.to_string(),
            customer: m.customer.to_string(),
            msg_id: m.msg_id.to_string(),
            conv_seq: m.conv_seq,
            from: m.from.to_string(),
            agent: m.agent.as_ref().map(ToString::to_string),
            session: m.session,
            client_msg_id: m.client_msg_id.to_string(),
            body: BodyV2::from(&m.body),
            ts: m.ts,
        }
    }
}
