//! MessagePack (with field names) encoding of events, keyed by (type, version) headers.

use crate::wire::{v1, v2};
use serde::Serialize;
use tidings_domain::{Event, IdError};

/// Event types other than relationship and group changes.
const KNOWN_TYPES: [&str; 7] = [
    "user_registered",
    "user_profile_updated",
    "user_deactivated",
    "user_tokens_revoked",
    "message_sent",
    "conversation_read",
    "system_message_sent",
];

/// Relationship changes: one wire struct, the type header names the change.
pub const PAIR_TYPES: [&str; 8] = [
    "friend_requested",
    "friend_request_accepted",
    "friend_request_rejected",
    "friend_request_canceled",
    "friend_removed",
    "friend_added",
    "user_blocked",
    "user_unblocked",
];

/// Group changes: one wire struct, the type header names the change.
pub const GROUP_TYPES: [&str; 12] = [
    "group_created",
    "group_updated",
    "group_dismissed",
    "group_owner_transferred",
    "group_admin_set",
    "group_members_added",
    "group_member_removed",
    "group_join_requested",
    "group_join_decided",
    "group_announced",
    "group_member_muted",
    "group_muted_all",
];

/// An event ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub event_type: &'static str,
    pub version: u32,
    pub payload: Vec<u8>,
}

/// Why a payload could not become a domain event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("unknown version {version} of event type {event_type:?}")]
    UnknownVersion { event_type: String, version: u32 },
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    #[error("malformed payload: {0}")]
    Malformed(#[from] rmp_serde::decode::Error),
    #[error("invalid field: {0}")]
    Invalid(#[from] IdError),
    #[error("invalid group event: {0}")]
    Group(#[from] v2::GroupWireError),
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding plain structs of strings, integers and JSON values cannot fail.
    rmp_serde::to_vec_named(value).expect("wire structs always encode")
}

/// Encodes `event` in its current wire version.
pub fn encode(event: &Event) -> Encoded {
    let (version, payload) = match event {
        Event::UserRegistered(p) | Event::UserProfileUpdated(p) => {
            (1, to_vec(&v1::UserProfileV1::from(p)))
        }
        Event::UserDeactivated(d) => (1, to_vec(&v1::UserDeactivatedV1::from(d))),
        Event::UserTokensRevoked(r) => (1, to_vec(&v1::UserTokensRevokedV1::from(r))),
        Event::MessageSent(m) => (2, to_vec(&v2::MessageSentV2::from(m))),
        Event::PairChanged(p) => (1, to_vec(&v1::PairChangedV1::from(p))),
        Event::GroupChanged(g) => (1, to_vec(&v2::GroupChangedV1::from(g))),
        Event::ConversationRead(r) => (1, to_vec(&v2::ConversationReadV1::from(r))),
        Event::SystemMessageSent(m) => (1, to_vec(&v2::SystemMessageSentV1::from(m))),
    };
    Encoded {
        event_type: event.event_type(),
        version,
        payload,
    }
}

/// Decodes a payload of the given type and version, upgrading it to the domain event.
pub fn decode(event_type: &str, version: u32, payload: &[u8]) -> Result<Event, DecodeError> {
    match (event_type, version) {
        ("user_registered", 1) => Ok(Event::UserRegistered(
            rmp_serde::from_slice::<v1::UserProfileV1>(payload)?.try_into()?,
        )),
        ("user_profile_updated", 1) => Ok(Event::UserProfileUpdated(
            rmp_serde::from_slice::<v1::UserProfileV1>(payload)?.try_into()?,
        )),
        ("user_deactivated", 1) => Ok(Event::UserDeactivated(
            rmp_serde::from_slice::<v1::UserDeactivatedV1>(payload)?.try_into()?,
        )),
        ("user_tokens_revoked", 1) => Ok(Event::UserTokensRevoked(
            rmp_serde::from_slice::<v1::UserTokensRevokedV1>(payload)?.try_into()?,
        )),
        ("message_sent", 1) => Ok(Event::MessageSent(
            v2::MessageSentV2::from(rmp_serde::from_slice::<v1::MessageSentV1>(payload)?)
                .try_into()?,
        )),
        ("message_sent", 2) => Ok(Event::MessageSent(
            rmp_serde::from_slice::<v2::MessageSentV2>(payload)?.try_into()?,
        )),
        ("system_message_sent", 1) => Ok(Event::SystemMessageSent(
            rmp_serde::from_slice::<v2::SystemMessageSentV1>(payload)?.try_into()?,
        )),
        ("conversation_read", 1) => Ok(Event::ConversationRead(
            rmp_serde::from_slice::<v2::ConversationReadV1>(payload)?.try_into()?,
        )),
        (group_type, 1) if GROUP_TYPES.contains(&group_type) => {
            let wire = rmp_serde::from_slice::<v2::GroupChangedV1>(payload)?;
            let event = wire
                .upgrade(group_type)?
                .expect("listed group types upgrade");
            Ok(Event::GroupChanged(event))
        }
        (pair_type, 1) if PAIR_TYPES.contains(&pair_type) => {
            let wire = rmp_serde::from_slice::<v1::PairChangedV1>(payload)?;
            let event = wire.upgrade(pair_type)?.expect("listed pair types upgrade");
            Ok(Event::PairChanged(event))
        }
        (known, _)
            if KNOWN_TYPES.contains(&known)
                || PAIR_TYPES.contains(&known)
                || GROUP_TYPES.contains(&known) =>
        {
            Err(DecodeError::UnknownVersion {
                event_type: event_type.to_owned(),
                version,
            })
        }
        _ => Err(DecodeError::UnknownType(event_type.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    #[test]
    fn every_sample_round_trips() {
        for entry in catalogue::entries() {
            let event = (entry.sample)();
            let encoded = encode(&event);
            assert_eq!(encoded.event_type, entry.event_type);
            if encoded.version == entry.version {
                let back = decode(encoded.event_type, encoded.version, &encoded.payload).unwrap();
                assert_eq!(back, event);
            }
        }
    }

    #[test]
    fn unknown_type_and_version_are_named() {
        assert!(matches!(
            decode("nope", 1, &[]),
            Err(DecodeError::UnknownType(t)) if t == "nope"
        ));
        assert!(matches!(
            decode("message_sent", 9, &[]),
            Err(DecodeError::UnknownVersion { version: 9, .. })
        ));
        assert!(matches!(
            decode("message_sent", 1, &[0xc1]),
            Err(DecodeError::Malformed(_))
        ));
    }
}
