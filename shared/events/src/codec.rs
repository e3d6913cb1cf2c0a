//! MessagePack (with field names) encoding of events, keyed by (type, version) headers. What
//! each (type, version) is and how it decodes is the registry's; this module dispatches to it.

use crate::registry;
use crate::wire::group_changed::GroupWireError;
use crate::wire::{
    app_changed, conversation_cleared, conversation_read, conversation_settings_changed,
    device_changed, group_changed, message_edited, message_hidden, message_recalled, message_sent,
    pair_changed, pin, push_settings_changed, reaction, system_message_sent, user_deactivated,
    user_profile, user_tokens_revoked,
};
use crate::wire::{broadcast_sent, user_tags_changed};
use crate::wire::{service_message_sent, service_roster_changed, service_session_changed};
use serde::Serialize;
use tidings_domain::{Event, IdError};

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
    Group(#[from] GroupWireError),
    #[error("invalid app settings: {0}")]
    AppSettings(String),
}

/// Serializes a wire struct with field names.
pub(crate) fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding plain structs of strings, integers and JSON values cannot fail.
    rmp_serde::to_vec_named(value).expect("wire structs always encode")
}

/// Encodes `event` in its current wire version.
pub fn encode(event: &Event) -> Encoded {
    // The registry's tests check that each of these writes its type's newest registered version.
    let (version, payload) = match event {
        Event::UserRegistered(p) | Event::UserProfileUpdated(p) => user_profile::encode(p),
        Event::UserDeactivated(d) => user_deactivated::encode(d),
        Event::UserTokensRevoked(r) => user_tokens_revoked::encode(r),
        Event::MessageSent(m) => message_sent::encode(m),
        Event::PairChanged(p) => pair_changed::encode(p),
        Event::GroupChanged(g) => group_changed::encode(g),
        Event::ConversationRead(r) => conversation_read::encode(r),
        Event::MessageHidden(h) => message_hidden::encode(h),
        Event::ConversationCleared(c) => conversation_cleared::encode(c),
        Event::ConversationSettingsChanged(c) => conversation_settings_changed::encode(c),
        Event::SystemMessageSent(m) => system_message_sent::encode(m),
        Event::AppChanged(a) => app_changed::encode(a),
        Event::MessageRecalled(r) => message_recalled::encode(r),
        Event::MessageEdited(e) => message_edited::encode(e),
        Event::ReactionAdded(r) | Event::ReactionRemoved(r) => reaction::encode(r),
        Event::MessagePinned(p) | Event::MessageUnpinned(p) => pin::encode(p),
        Event::DeviceRegistered(d) | Event::DeviceSignedOut(d) => device_changed::encode(d),
        Event::ServiceRosterChanged(r) => service_roster_changed::encode(r),
        Event::ServiceSessionChanged(s) => service_session_changed::encode(s),
        Event::ServiceMessageSent(m) => service_message_sent::encode(m),
        Event::PushSettingsChanged(p) => push_settings_changed::encode(p),
        Event::UserTagsChanged(t) => user_tags_changed::encode(t),
        Event::BroadcastSent(b) => broadcast_sent::encode(b),
    };
    Encoded {
        event_type: event.event_type(),
        version,
        payload,
    }
}

/// Decodes a payload of the given type and version, upgrading it to the domain event.
pub fn decode(event_type: &str, version: u32, payload: &[u8]) -> Result<Event, DecodeError> {
    match registry::find(event_type, version) {
        Some(entry) => (entry.decode)(payload),
        None if registry::is_known(event_type) => Err(DecodeError::UnknownVersion {
            event_type: event_type.to_owned(),
            version,
        }),
        None => Err(DecodeError::UnknownType(event_type.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::event::types::MESSAGE_SENT;

    #[test]
    fn unknown_type_and_version_are_named() {
        assert!(matches!(
            decode("nope", 1, &[]),
            Err(DecodeError::UnknownType(t)) if t == "nope"
        ));
        assert!(matches!(
            decode(MESSAGE_SENT, 9, &[]),
            Err(DecodeError::UnknownVersion { version: 9, .. })
        ));
        assert!(matches!(
            decode(MESSAGE_SENT, 1, &[0xc1]),
            Err(DecodeError::Malformed(_))
        ));
    }
}
