//! `message_sent`: a message recorded in a conversation. Version 2 added mentions, version 3
//! file and image bodies.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use crate::wire::parts::{BodyV1, BodyV2, RecipientV1};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::MessageSent;
use tidings_domain::event::types::MESSAGE_SENT;
use tidings_domain::{
    AppId, Attachment, Body, ClientMsgId, ConvId, Event, FileId, IdError, MessageId, Recipient,
    UserId,
};

/// `message_sent`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageSentV1 {
    pub app: String,
    pub conv: String,
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
    pub to: RecipientV1,
    pub client_msg_id: String,
    pub body: BodyV1,
    pub ts: i64,
}

/// `message_sent`, version 2: version 1 plus `mentions` and `mention_all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageSentV2 {
    pub app: String,
    pub conv: String,
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
    pub to: RecipientV1,
    pub client_msg_id: String,
    pub body: BodyV1,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub ts: i64,
}

/// `message_sent`, version 3: version 2 with a body that may name an uploaded file or image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageSentV3 {
    pub app: String,
    pub conv: String,
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
    pub to: RecipientV1,
    pub client_msg_id: String,
    pub body: BodyV2,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[
    Entry {
        event_type: MESSAGE_SENT,
        version: 1,
        decode: |p| {
            let v1 = rmp_serde::from_slice::<MessageSentV1>(p)?;
            let v3 = MessageSentV3::from(MessageSentV2::from(v1));
            Ok(Event::MessageSent(v3.try_into()?))
        },
        schema: schema::<MessageSentV1>,
        sample: || {
            let (alice, bob) = (sample::alice(), sample::bob());
            Event::MessageSent(MessageSent {
                app: sample::app(),
                conv: ConvId::direct(&alice, &bob),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").expect("valid"),
                conv_seq: 1,
                from: alice,
                to: Recipient::User(bob),
                client_msg_id: ClientMsgId::parse("c-1").expect("valid"),
                body: Body::Text {
                    text: "hello".into(),
                },
                mentions: Vec::new(),
                mention_all: false,
                ts: sample::TS,
            })
        },
    },
    Entry {
        event_type: MESSAGE_SENT,
        version: 2,
        decode: |p| {
            let v2 = rmp_serde::from_slice::<MessageSentV2>(p)?;
            Ok(Event::MessageSent(MessageSentV3::from(v2).try_into()?))
        },
        schema: schema::<MessageSentV2>,
        sample: || {
            let group = sample::team();
            Event::MessageSent(MessageSent {
                app: sample::app(),
                conv: ConvId::group(&group),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000002").expect("valid"),
                conv_seq: 7,
                from: sample::alice(),
                to: Recipient::Group(group),
                client_msg_id: ClientMsgId::parse("c-2").expect("valid"),
                body: Body::Custom {
                    data: serde_json::json!({ "card": { "title": "standup" } }),
                },
                mentions: vec![sample::bob()],
                mention_all: false,
                ts: sample::TS,
            })
        },
    },
    Entry {
        event_type: MESSAGE_SENT,
        version: 3,
        decode: |p| {
            Ok(Event::MessageSent(
                rmp_serde::from_slice::<MessageSentV3>(p)?.try_into()?,
            ))
        },
        schema: schema::<MessageSentV3>,
        sample: || {
            let (alice, bob) = (sample::alice(), sample::bob());
            Event::MessageSent(MessageSent {
                app: sample::app(),
                conv: ConvId::direct(&alice, &bob),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000003").expect("valid"),
                conv_seq: 2,
                from: alice,
                to: Recipient::User(bob),
                client_msg_id: ClientMsgId::parse("c-3").expect("valid"),
                body: Body::Image(Box::new(Attachment {
                    file_id: FileId::parse("019b7b1c-3a00-7000-8000-0000000000f1").expect("valid"),
                    name: "cat.png".into(),
                    size: 48213,
                    mime: "image/png".into(),
                    width: Some(640),
                    height: Some(480),
                })),
                mentions: Vec::new(),
                mention_all: false,
                ts: sample::TS,
            })
        },
    },
];

/// Encodes in the current version, 3.
pub(crate) fn encode(m: &MessageSent) -> (u32, Vec<u8>) {
    (3, to_vec(&MessageSentV3::from(m)))
}

/// Version 1 had no mentions: it upgrades to version 2 with none.
impl From<MessageSentV1> for MessageSentV2 {
    fn from(w: MessageSentV1) -> Self {
        MessageSentV2 {
            app: w.app,
            conv: w.conv,
            msg_id: w.msg_id,
            conv_seq: w.conv_seq,
            from: w.from,
            to: w.to,
            client_msg_id: w.client_msg_id,
            body: w.body,
            mentions: Vec::new(),
            mention_all: false,
            ts: w.ts,
        }
    }
}

/// Version 2's bodies are all version 3 bodies.
impl From<MessageSentV2> for MessageSentV3 {
    fn from(w: MessageSentV2) -> Self {
        MessageSentV3 {
            app: w.app,
            conv: w.conv,
            msg_id: w.msg_id,
            conv_seq: w.conv_seq,
            from: w.from,
            to: w.to,
            client_msg_id: w.client_msg_id,
            body: w.body.into(),
            mentions: w.mentions,
            mention_all: w.mention_all,
            ts: w.ts,
        }
    }
}

impl TryFrom<MessageSentV3> for MessageSent {
    type Error = IdError;
    fn try_from(w: MessageSentV3) -> Result<Self, IdError> {
        Ok(MessageSent {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            msg_id: MessageId::parse(w.msg_id)?,
            conv_seq: w.conv_seq,
            from: UserId::parse(w.from)?,
            to: w.to.try_into()?,
            client_msg_id: ClientMsgId::parse(w.client_msg_id)?,
            body: w.body.try_into()?,
            mentions: w
                .mentions
                .into_iter()
                .map(UserId::parse)
                .collect::<Result<_, _>>()?,
            mention_all: w.mention_all,
            ts: w.ts,
        })
    }
}

impl From<&MessageSent> for MessageSentV3 {
    fn from(m: &MessageSent) -> Self {
        MessageSentV3 {
            app: m.app.to_string(),
            conv: m.conv.to_string(),
            msg_id: m.msg_id.to_string(),
            conv_seq: m.conv_seq,
            from: m.from.to_string(),
            to: (&m.to).into(),
            client_msg_id: m.client_msg_id.to_string(),
            body: (&m.body).into(),
            mentions: m.mentions.iter().map(ToString::to_string).collect(),
            mention_all: m.mention_all,
            ts: m.ts,
        }
    }
}
