//! The relationship changes between two users (`friend_requested` ... `user_unblocked`): one
//! struct for all of them, the type header names the change. They share a file because they
//! share the struct, its schema and its versions.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::{
    FRIEND_ADDED, FRIEND_REMOVED, FRIEND_REQUEST_ACCEPTED, FRIEND_REQUEST_CANCELED,
    FRIEND_REQUEST_REJECTED, FRIEND_REQUESTED, USER_BLOCKED, USER_UNBLOCKED,
};
use tidings_domain::event::{PairChange, PairChanged};
use tidings_domain::{AppId, ConvId, Event, UserId};

/// Every relationship change, version 1; the event type header says which change it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PairChangedV1 {
    pub app: String,
    pub conv: String,
    pub actor: String,
    pub other: String,
    /// Only for `friend_requested`.
    pub note: Option<String>,
    pub ts: i64,
}

/// One entry per change; each names the change its type decodes to.
pub(crate) const ENTRIES: &[Entry] = &[
    v1(
        FRIEND_REQUESTED,
        |p| {
            decode_v1(p, |w| PairChange::FriendRequested {
                note: w.note.clone(),
            })
        },
        || {
            sample_pair(PairChange::FriendRequested {
                note: Some("we met at the conference".into()),
            })
        },
    ),
    v1(
        FRIEND_REQUEST_ACCEPTED,
        |p| decode_v1(p, |_| PairChange::FriendAccepted),
        || sample_pair(PairChange::FriendAccepted),
    ),
    v1(
        FRIEND_REQUEST_REJECTED,
        |p| decode_v1(p, |_| PairChange::FriendRejected),
        || sample_pair(PairChange::FriendRejected),
    ),
    v1(
        FRIEND_REQUEST_CANCELED,
        |p| decode_v1(p, |_| PairChange::FriendRequestCanceled),
        || sample_pair(PairChange::FriendRequestCanceled),
    ),
    v1(
        FRIEND_REMOVED,
        |p| decode_v1(p, |_| PairChange::FriendRemoved),
        || sample_pair(PairChange::FriendRemoved),
    ),
    v1(
        FRIEND_ADDED,
        |p| decode_v1(p, |_| PairChange::FriendAdded),
        || sample_pair(PairChange::FriendAdded),
    ),
    v1(
        USER_BLOCKED,
        |p| decode_v1(p, |_| PairChange::Blocked),
        || sample_pair(PairChange::Blocked),
    ),
    v1(
        USER_UNBLOCKED,
        |p| decode_v1(p, |_| PairChange::Unblocked),
        || sample_pair(PairChange::Unblocked),
    ),
];

/// Encodes any relationship change in the current version.
pub(crate) fn encode(p: &PairChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&PairChangedV1::from(p)))
}

const fn v1(
    event_type: &'static str,
    decode: fn(&[u8]) -> Result<Event, DecodeError>,
    sample: fn() -> Event,
) -> Entry {
    Entry {
        event_type,
        version: 1,
        decode,
        schema: schema::<PairChangedV1>,
        sample,
    }
}

/// Reads version 1 and upgrades it into the domain event with the change `change` picks.
fn decode_v1(
    payload: &[u8],
    change: impl FnOnce(&PairChangedV1) -> PairChange,
) -> Result<Event, DecodeError> {
    let w = rmp_serde::from_slice::<PairChangedV1>(payload)?;
    let change = change(&w);
    Ok(Event::PairChanged(PairChanged {
        app: AppId::parse(w.app)?,
        conv: ConvId::parse(w.conv)?,
        actor: UserId::parse(w.actor)?,
        other: UserId::parse(w.other)?,
        change,
        ts: w.ts,
    }))
}

fn sample_pair(change: PairChange) -> Event {
    let (alice, bob) = (sample::alice(), sample::bob());
    Event::PairChanged(PairChanged {
        app: sample::app(),
        conv: ConvId::direct(&alice, &bob),
        actor: alice,
        other: bob,
        change,
        ts: sample::TS,
    })
}

impl From<&PairChanged> for PairChangedV1 {
    fn from(p: &PairChanged) -> Self {
        PairChangedV1 {
            app: p.app.to_string(),
            conv: p.conv.to_string(),
            actor: p.actor.to_string(),
            other: p.other.to_string(),
            note: match &p.change {
                PairChange::FriendRequested { note } => note.clone(),
                _ => None,
            },
            ts: p.ts,
        }
    }
}
