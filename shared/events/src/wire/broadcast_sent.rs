//! `broadcast_sent`: the app server broadcast a system message to every user of the app, or to
//! the users holding a tag.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use crate::wire::parts::BodyV1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::BroadcastSent;
use tidings_domain::event::types::BROADCAST_SENT;
use tidings_domain::{AppId, Body, Event, IdError, MessageId, Tag};

/// `broadcast_sent`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BroadcastSentV1 {
    pub app: String,
    pub bseq: u64,
    pub msg_id: String,
    /// Absent: every user of the app.
    #[serde(default)]
    pub tag: Option<String>,
    pub body: BodyV1,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: BROADCAST_SENT,
    version: 1,
    decode: |p| {
        Ok(Event::BroadcastSent(
            rmp_serde::from_slice::<BroadcastSentV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<BroadcastSentV1>,
    sample: || {
        Event::BroadcastSent(BroadcastSent {
            app: sample::app(),
            bseq: 7,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000007").expect("valid"),
            tag: Some(Tag::parse("vip").expect("valid")),
            body: Body::Text {
                text: "new features for our VIPs".into(),
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(b: &BroadcastSent) -> (u32, Vec<u8>) {
    (1, to_vec(&BroadcastSentV1::from(b)))
}

impl TryFrom<BroadcastSentV1> for BroadcastSent {
    type Error = IdError;
    fn try_from(w: BroadcastSentV1) -> Result<Self, IdError> {
        Ok(BroadcastSent {
            app: AppId::parse(w.app)?,
            bseq: w.bseq,
            msg_id: MessageId::parse(w.msg_id)?,
            tag: w.tag.map(Tag::parse).transpose()?,
            body: w.body.into(),
            ts: w.ts,
        })
    }
}

impl From<&BroadcastSent> for BroadcastSentV1 {
    fn from(b: &BroadcastSent) -> Self {
        BroadcastSentV1 {
            app: b.app.to_string(),
            bseq: b.bseq,
            msg_id: b.msg_id.to_string(),
            tag: b.tag.as_ref().map(ToString::to_string),
            body: (&b.body).into(),
            ts: b.ts,
        }
    }
}
