//! `message_sent`: a message recorded in a conversation. Version 2 added mentions, version 3
//! file and image bodies, version 4 replies and forwards.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use crate::wire::parts::{BodyV1, BodyV2, RecipientV1};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::MESSAGE_SENT;
use tidings_domain::event::{ForwardRef, MessageSent, ReplyRef};
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

/// `message_sent`, version 4: version 3 plus `reply_to` (the message of the same
/// conversation it answers) and `forward_of` (the original of a forwarded copy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageSentV4 {
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
    /// Absent when the message answers nothing (most messages: the field costs nothing then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyRefV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_of: Option<ForwardRefV1>,
    pub ts: i64,
}

/// The message a reply answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplyRefV1 {
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
}

/// The original of a forwarded copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ForwardRefV1 {
    pub conv: String,
    pub msg_id: String,
    pub from: String,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[
    Entry {
        event_type: MESSAGE_SENT,
        version: 1,
        decode: |p| {
            let v1 = rmp_serde::from_slice::<MessageSentV1>(p)?;
            let v3 = MessageSentV3::from(MessageSentV2::from(v1));
            Ok(Event::MessageSent(MessageSentV4::from(v3).try_into()?))
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
                reply_to: None,
                forward_of: None,
                ts: sample::TS,
            })
        },
    },
    Entry {
        event_type: MESSAGE_SENT,
        version: 2,
        decode: |p| {
            let v2 = rmp_serde::from_slice::<MessageSentV2>(p)?;
            let v3 = MessageSentV3::from(v2);
            Ok(Event::MessageSent(MessageSentV4::from(v3).try_into()?))
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
                reply_to: None,
                forward_of: None,
                ts: sample::TS,
            })
        },
    },
    Entry {
        event_type: MESSAGE_SENT,
        version: 3,
        decode: |p| {
            let v3 = rmp_serde::from_slice::<MessageSentV3>(p)?;
            Ok(Event::MessageSent(MessageSentV4::from(v3).try_into()?))
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
                reply_to: None,
                forward_of: None,
                ts: sample::TS,
            })
        },
    },
    Entry {
        event_type: MESSAGE_SENT,
        version: 4,
        decode: |p| {
            Ok(Event::MessageSent(
                rmp_serde::from_slice::<MessageSentV4>(p)?.try_into()?,
            ))
        },
        schema: schema::<MessageSentV4>,
        sample: || {
            let (alice, bob) = (sample::alice(), sample::bob());
            Event::MessageSent(MessageSent {
                app: sample::app(),
                conv: ConvId::direct(&alice, &bob),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000004").expect("valid"),
                conv_seq: 3,
                from: bob.clone(),
                to: Recipient::User(alice.clone()),
                client_msg_id: ClientMsgId::parse("c-4").expect("valid"),
                body: Body::Text {
                    text: "look at this".into(),
                },
                mentions: Vec::new(),
                mention_all: false,
                reply_to: Some(ReplyRef {
                    msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001")
                        .expect("valid"),
                    conv_seq: 1,
                    from: alice,
                }),
                forward_of: Some(ForwardRef {
                    conv: ConvId::group(&sample::team()),
                    msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000002")
                        .expect("valid"),
                    from: bob,
                    ts: sample::TS - 1_000,
                }),
                ts: sample::TS,
            })
        },
    },
];

/// Encodes in the current version, 4.
pub(crate) fn encode(m: &MessageSent) -> (u32, Vec<u8>) {
    (4, to_vec(&MessageSentV4::from(m)))
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

/// Version 3 messages answer nothing and forward nothing.
impl From<MessageSentV3> for MessageSentV4 {
    fn from(w: MessageSentV3) -> Self {
        MessageSentV4 {
            app: w.app,
            conv: w.conv,
            msg_id: w.msg_id,
            conv_seq: w.conv_seq,
            from: w.from,
            to: w.to,
            client_msg_id: w.client_msg_id,
            body: w.body,
            mentions: w.mentions,
            mention_all: w.mention_all,
            reply_to: None,
            forward_of: None,
            ts: w.ts,
        }
    }
}

impl TryFrom<ReplyRefV1> for ReplyRef {
    type Error = IdError;
    fn try_from(w: ReplyRefV1) -> Result<Self, IdError> {
        Ok(ReplyRef {
            msg_id: MessageId::parse(w.msg_id)?,
            conv_seq: w.conv_seq,
            from: UserId::parse(w.from)?,
        })
    }
}

impl TryFrom<ForwardRefV1> for ForwardRef {
    type Error = IdError;
    fn try_from(w: ForwardRefV1) -> Result<Self, IdError> {
        Ok(ForwardRef {
            conv: ConvId::parse(w.conv)?,
            msg_id: MessageId::parse(w.msg_id)?,
            from: UserId::parse(w.from)?,
            ts: w.ts,
        })
    }
}

impl TryFrom<MessageSentV4> for MessageSent {
    type Error = IdError;
    fn try_from(w: MessageSentV4) -> Result<Self, IdError> {
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
            reply_to: w.reply_to.map(TryInto::try_into).transpose()?,
            forward_of: w.forward_of.map(TryInto::try_into).transpose()?,
            ts: w.ts,
        })
    }
}

impl From<&MessageSent> for MessageSentV4 {
    fn from(m: &MessageSent) -> Self {
        MessageSentV4 {
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
            reply_to: m.reply_to.as_ref().map(|r| ReplyRefV1 {
                msg_id: r.msg_id.to_string(),
                conv_seq: r.conv_seq,
                from: r.from.to_string(),
            }),
            forward_of: m.forward_of.as_ref().map(|f| ForwardRefV1 {
                conv: f.conv.to_string(),
                msg_id: f.msg_id.to_string(),
                from: f.from.to_string(),
                ts: f.ts,
            }),
            ts: m.ts,
        }
    }
}
