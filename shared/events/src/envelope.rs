//! An event as read back from the stream: its position, subject and decoded content.

use crate::codec::{self, DecodeError};
use crate::headers;
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use tidings_domain::Event;

/// The two headers' names as `HeaderName`s (a clone is free): looked up by `&str`, every
/// lookup would copy the name into a new allocation, and three consumers read them for every
/// event.
static EVENT_TYPE: HeaderName = HeaderName::from_static(headers::EVENT_TYPE);
static EVENT_VERSION: HeaderName = HeaderName::from_static(headers::EVENT_VERSION);

/// A decoded event and where it sits in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub stream_seq: u64,
    pub subject: String,
    pub event: Event,
}

/// Reads the type and version headers of an event message.
pub fn type_and_version(headers: Option<&HeaderMap>) -> Result<(&str, u32), DecodeError> {
    let headers = headers.ok_or(DecodeError::MissingHeader(headers::EVENT_TYPE))?;
    let event_type = headers
        .get(EVENT_TYPE.clone())
        .ok_or(DecodeError::MissingHeader(headers::EVENT_TYPE))?
        .as_str();
    let version = headers
        .get(EVENT_VERSION.clone())
        .and_then(|v| v.as_str().parse().ok())
        .ok_or(DecodeError::MissingHeader(headers::EVENT_VERSION))?;
    Ok((event_type, version))
}

impl Envelope {
    /// Decodes a stream message's parts.
    pub fn decode(
        stream_seq: u64,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Self, DecodeError> {
        let (event_type, version) = type_and_version(headers)?;
        Ok(Envelope {
            stream_seq,
            subject: subject.to_owned(),
            event: codec::decode(event_type, version, payload)?,
        })
    }
}

/// The headers an encoded event is published with; `msg_id` is its `Nats-Msg-Id`.
pub fn publish_headers(encoded: &codec::Encoded, msg_id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
    h.insert(EVENT_TYPE.clone(), encoded.event_type);
    h.insert(EVENT_VERSION.clone(), HeaderValue::from(encoded.version));
    h
}

/// The `Nats-Msg-Id` of an event decided on its subject at `subject_version` (the stream
/// sequence of the subject's last event): the same decision always yields the same id, so
/// JetStream's dedupe window drops a re-published copy, while a later, equal-looking decision
/// (block, unblock, block) gets a new one.
///
/// It is the first 128 bits of the SHA-256 of the decision's identity (`identity`), in hex:
/// 32 characters, however long the app's ids are. An identity names the conversation, the
/// sender and the client's id, ~150 characters with UUID user and client ids; every stored
/// event carries its id, and the nats-server keeps each id of its 2-minute window in memory.
pub fn dedupe_id(event: &Event, subject_version: u64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(identity(event, subject_version).as_bytes());
    hex::encode(&digest[..16])
}

/// What makes one decision one: the readable form `dedupe_id` digests.
fn identity(event: &Event, subject_version: u64) -> String {
    match event {
        Event::UserRegistered(p) | Event::UserProfileUpdated(p) => {
            format!("{}.user.{}.v{}", p.app, p.user, p.version)
        }
        Event::UserDeactivated(d) => format!("{}.user.{}.deactivated", d.app, d.user),
        Event::UserTokensRevoked(r) => format!("{}.user.{}.epoch{}", r.app, r.user, r.epoch),
        Event::MessageSent(m) => format!("{}.msg.{}.{}.{}", m.app, m.conv, m.from, m.client_msg_id),
        Event::SystemMessageSent(m) => format!("{}.system.{}", m.app, m.msg_id),
        // One recall per message; one edit per (message, edit_seq).
        Event::MessageRecalled(r) => format!("{}.recall.{}.{}", r.app, r.conv, r.conv_seq),
        Event::MessageEdited(e) => {
            format!("{}.edit.{}.{}.{}", e.app, e.conv, e.conv_seq, e.edit_seq)
        }
        // Every request is recorded (a repeat is the read model's no-op), so two requests get
        // two ids; a retry of one decision at one subject version gets the same.
        Event::ReactionAdded(r) | Event::ReactionRemoved(r) => format!(
            "{}.react.{}.{}.{}.{}.{}.{}",
            r.app,
            r.conv,
            r.conv_seq,
            r.user,
            subject_version,
            event.event_type(),
            r.key
        ),
        Event::MessagePinned(p) | Event::MessageUnpinned(p) => format!(
            "{}.pin.{}.{}.{}.{}",
            p.app,
            p.conv,
            p.conv_seq,
            subject_version,
            event.event_type()
        ),
        Event::ConversationRead(r) => {
            format!("{}.read.{}.{}.{}", r.app, r.user, r.conv, r.conv_seq)
        }
        Event::MessageHidden(h) => {
            format!("{}.hide.{}.{}.{}", h.app, h.user, h.conv, h.conv_seq)
        }
        Event::ConversationCleared(c) => {
            format!("{}.clear.{}.{}.{}", c.app, c.user, c.conv, c.up_to)
        }
        // One decision per subject version: a retry of it gets the same id.
        Event::ConversationSettingsChanged(c) => {
            format!("{}.settings.{}.{}", c.app, c.user, subject_version)
        }
        Event::PushSettingsChanged(p) => {
            format!("{}.user.{}.push{}", p.app, p.user, subject_version)
        }
        Event::GroupChanged(g) => format!(
            "{}.group.{}.{}.{}",
            g.app,
            g.group,
            subject_version,
            g.change.event_type()
        ),
        Event::AppChanged(a) => format!(
            "{}.app.{}.{}",
            a.app,
            subject_version,
            a.change.event_type()
        ),
        Event::PairChanged(p) => format!(
            "{}.pair.{}.{}.{}",
            p.app,
            p.conv,
            subject_version,
            p.change.event_type()
        ),
        // One decision per subject version: a retry of it gets the same id.
        Event::DeviceRegistered(d) | Event::DeviceSignedOut(d) => format!(
            "{}.device.{}.{}.{}",
            d.app,
            d.user,
            subject_version,
            event.event_type()
        ),
        // One roster change per decision; one change of a kind per session per decision (a
        // detach may requeue and reassign the same session).
        Event::ServiceRosterChanged(r) => {
            format!("{}.svc.{}.{}.roster", r.app, r.service, subject_version)
        }
        Event::ServiceSessionChanged(s) => {
            use tidings_domain::service::SessionChange as C;
            let kind = match &s.change {
                C::Assigned { .. } => "assigned",
                C::Queued { .. } => "queued",
                C::Taken => "taken",
                C::Transferred { .. } => "transferred",
                C::Closed { .. } => "closed",
                C::Requeued { .. } => "requeued",
            };
            format!(
                "{}.svc.{}.{}.{}.{}.{kind}",
                s.app, s.service, subject_version, s.customer, s.session
            )
        }
        // A message id is drawn once per request: a republished copy of one decision shares it.
        Event::ServiceMessageSent(m) => format!("{}.svcmsg.{}", m.app, m.msg_id),
        Event::UserTagsChanged(t) => format!("{}.tags.{}.{}", t.app, t.user, subject_version),
        Event::BroadcastSent(b) => format!("{}.broadcast.{}", b.app, b.bseq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::event::UserTokensRevoked;
    use tidings_domain::{AppId, UserId};

    #[test]
    fn dedupe_ids_are_short_and_follow_the_decision() {
        let revoked = |epoch| {
            Event::UserTokensRevoked(UserTokensRevoked {
                app: AppId::parse("app").unwrap(),
                user: UserId::parse("0190a6e4-8c1e-7c3a-9f00-0123456789ab").unwrap(),
                epoch,
                ts: 1,
            })
        };
        let id = dedupe_id(&revoked(2), 7);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, dedupe_id(&revoked(2), 7), "a retry of one decision");
        assert_ne!(id, dedupe_id(&revoked(3), 7), "another decision");
    }
}
