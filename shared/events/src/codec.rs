//! MessagePack (with field names) encoding of events, keyed by (type, version) headers.

use crate::wire::v1;
use serde::Serialize;
use tidings_domain::{Event, IdError};

/// The version every event is written with today.
pub const CURRENT_VERSION: u32 = 1;

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
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding plain structs of strings, integers and JSON values cannot fail.
    rmp_serde::to_vec_named(value).expect("wire structs always encode")
}

/// Encodes `event` in its current wire version.
pub fn encode(event: &Event) -> Encoded {
    let payload = match event {
        Event::UserRegistered(p) | Event::UserProfileUpdated(p) => {
            to_vec(&v1::UserProfileV1::from(p))
        }
        Event::MessageSent(m) => to_vec(&v1::MessageSentV1::from(m)),
    };
    Encoded {
        event_type: event.event_type(),
        version: CURRENT_VERSION,
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
        ("message_sent", 1) => Ok(Event::MessageSent(
            rmp_serde::from_slice::<v1::MessageSentV1>(payload)?.try_into()?,
        )),
        ("user_registered" | "user_profile_updated" | "message_sent", _) => {
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
            let back = decode(encoded.event_type, encoded.version, &encoded.payload).unwrap();
            assert_eq!(back, event);
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
