//! `reaction_added` and `reaction_removed`: one struct, told apart by the type header.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::Reaction;
use tidings_domain::event::types::{REACTION_ADDED, REACTION_REMOVED};
use tidings_domain::{AppId, ConvId, Event, IdError, MessageId, UserId};

/// `reaction_added` / `reaction_removed`, version 1. `sender` is the message's sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReactionV1 {
    pub app: String,
    pub conv: String,
    pub conv_seq: u64,
    pub msg_id: String,
    pub sender: String,
    pub user: String,
    pub key: String,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[
    v1(
        REACTION_ADDED,
        |p| Ok(Event::ReactionAdded(decode_v1(p)?)),
        || Event::ReactionAdded(sample_reaction()),
    ),
    v1(
        REACTION_REMOVED,
        |p| Ok(Event::ReactionRemoved(decode_v1(p)?)),
        || Event::ReactionRemoved(sample_reaction()),
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
        schema: schema::<ReactionV1>,
        sample,
    }
}

fn decode_v1(p: &[u8]) -> Result<Reaction, DecodeError> {
    Ok(rmp_serde::from_slice::<ReactionV1>(p)?.try_into()?)
}

fn sample_reaction() -> Reaction {
    Reaction {
        app: sample::app(),
        conv: ConvId::direct(&sample::alice(), &sample::bob()),
        conv_seq: 7,
        msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000007").expect("valid"),
        sender: sample::alice(),
        user: sample::bob(),
        key: "👍".into(),
        ts: sample::TS,
    }
}

/// Encodes an added or removed reaction in the current version.
pub(crate) fn encode(r: &Reaction) -> (u32, Vec<u8>) {
    (1, to_vec(&ReactionV1::from(r)))
}

impl TryFrom<ReactionV1> for Reaction {
    type Error = IdError;
    fn try_from(w: ReactionV1) -> Result<Self, IdError> {
        Ok(Reaction {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            msg_id: MessageId::parse(w.msg_id)?,
            sender: UserId::parse(w.sender)?,
            user: UserId::parse(w.user)?,
            key: w.key,
            ts: w.ts,
        })
    }
}

impl From<&Reaction> for ReactionV1 {
    fn from(r: &Reaction) -> Self {
        ReactionV1 {
            app: r.app.to_string(),
            conv: r.conv.to_string(),
            conv_seq: r.conv_seq,
            msg_id: r.msg_id.to_string(),
            sender: r.sender.to_string(),
            user: r.user.to_string(),
            key: r.key.clone(),
            ts: r.ts,
        }
    }
}
