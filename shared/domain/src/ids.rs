//! Validated identifier newtypes. Every id that reaches an event went through `parse`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id for {kind}: {value:?}; ids are 1-64 characters of [A-Za-z0-9_-]")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
}

/// True when `s` is 1-64 characters of `[A-Za-z0-9_-]`, the rule for every external id.
pub fn is_valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Serializes an id as its text, borrowed: serde's `into = "String"` would clone the id into a
/// fresh `String` for every serialization (rows, events and frames write ids by the million).
macro_rules! serialize_as_str {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

macro_rules! external_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        serialize_as_str!($name);

        impl $name {
            /// Validates `value` as this kind of id.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                if is_valid_id(&value) {
                    Ok(Self(value))
                } else {
                    Err(IdError { kind: $kind, value })
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

external_id!(
    /// A tenant: one customer app (its key).
    AppId,
    "app"
);
external_id!(
    /// A user, chosen by the app server.
    UserId,
    "user_id"
);
external_id!(
    /// A group, chosen by the app server.
    GroupId,
    "group_id"
);
external_id!(
    /// One of a user's devices, named by the client in `hello`.
    DeviceId,
    "device"
);
external_id!(
    /// The sender's idempotency key for one message.
    ClientMsgId,
    "client_msg_id"
);
external_id!(
    /// A label the app server puts on users, naming an audience for broadcasts.
    Tag,
    "tag"
);

/// Where a message goes: one user, one group, or a customer-service account (the sender is
/// its customer).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    User(UserId),
    Group(GroupId),
    Service(UserId),
}

/// A conversation id, derived by the server: `d~<a>~<b>` for a user pair (sorted), `g~<group>`
/// for a group. `~` never occurs in an external id, so the form is unambiguous, and it is a
/// valid NATS subject token and URL path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct ConvId(String);

serialize_as_str!(ConvId);

impl ConvId {
    /// The conversation of two users (the same for both orders).
    pub fn direct(a: &UserId, b: &UserId) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Self(format!("d~{lo}~{hi}"))
    }

    /// The conversation of a group.
    pub fn group(group: &GroupId) -> Self {
        Self(format!("g~{group}"))
    }

    /// The conversation a sender reaches with `to`.
    pub fn between(from: &UserId, to: &Recipient) -> Self {
        match to {
            Recipient::User(user) => Self::direct(from, user),
            Recipient::Group(group) => Self::group(group),
            Recipient::Service(service) => Self::service(service, from),
        }
    }

    /// The conversation of a customer with a service account: `s~<service>~<customer>`.
    pub fn service(service: &UserId, customer: &UserId) -> Self {
        Self(format!("s~{service}~{customer}"))
    }

    /// The (service, customer) of a service conversation, `None` for any other.
    pub fn service_parts(&self) -> Option<(UserId, UserId)> {
        let (service, customer) = self.0.strip_prefix("s~")?.split_once('~')?;
        Some((UserId(service.to_owned()), UserId(customer.to_owned())))
    }

    /// Parses a conversation id received from a client.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        // Parts taken one by one rather than collected into a `Vec`: every event decoded and
        // every command parses one.
        let mut parts = value.split('~');
        let valid = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("d"), Some(a), Some(b), None) => is_valid_id(a) && is_valid_id(b) && a <= b,
            (Some("g"), Some(g), None, None) => is_valid_id(g),
            (Some("s"), Some(service), Some(customer), None) => {
                is_valid_id(service) && is_valid_id(customer) && service != customer
            }
            _ => false,
        };
        if valid {
            Ok(Self(value))
        } else {
            Err(IdError {
                kind: "conv",
                value,
            })
        }
    }

    /// Whether this is a direct conversation of two users (or a note to self).
    pub fn is_direct(&self) -> bool {
        self.0.starts_with("d~")
    }

    /// The other user of a direct conversation that `user` is in; `None` for a group, for a
    /// conversation `user` is not in, and for a note to self.
    pub fn direct_peer(&self, user: &UserId) -> Option<UserId> {
        let (a, b) = self.0.strip_prefix("d~")?.split_once('~')?;
        match (a == user.as_str(), b == user.as_str()) {
            (true, false) => Some(UserId(b.to_owned())),
            (false, true) => Some(UserId(a.to_owned())),
            _ => None,
        }
    }

    /// The users of a direct conversation (one for a note to self), none for a group.
    pub fn direct_users(&self) -> Vec<UserId> {
        match self
            .0
            .strip_prefix("d~")
            .and_then(|rest| rest.split_once('~'))
        {
            Some((a, b)) if a == b => vec![UserId(a.to_owned())],
            Some((a, b)) => vec![UserId(a.to_owned()), UserId(b.to_owned())],
            None => Vec::new(),
        }
    }

    /// Whether `user` is one of the two users of this direct conversation.
    pub fn is_direct_member(&self, user: &UserId) -> bool {
        self.0
            .strip_prefix("d~")
            .and_then(|rest| rest.split_once('~'))
            .is_some_and(|(a, b)| a == user.as_str() || b == user.as_str())
    }

    /// The group of a group conversation, `None` for a direct one.
    pub fn group_id(&self) -> Option<GroupId> {
        self.0.strip_prefix("g~").map(|g| GroupId(g.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ConvId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(value)
    }
}

impl From<ConvId> for String {
    fn from(id: ConvId) -> String {
        id.0
    }
}

impl fmt::Display for ConvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server-assigned message id: UUIDv7 text, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct MessageId(String);

serialize_as_str!(MessageId);

/// Whether `value` is the canonical hyphenated, lowercase UUID text form.
fn is_uuid_text(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

impl MessageId {
    /// Validates the canonical hyphenated, lowercase UUID text form.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        if is_uuid_text(&value) {
            Ok(Self(value))
        } else {
            Err(IdError {
                kind: "msg_id",
                value,
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The creation time a UUIDv7 carries (its first 48 bits, milliseconds since the Unix
    /// epoch). The api draws a message's id just before its `ts`, so a message's `ts` is never
    /// less than this.
    pub fn millis(&self) -> i64 {
        let hex: String = self.0.chars().filter(|c| *c != '-').take(12).collect();
        i64::from_str_radix(&hex, 16).expect("a parsed id is hex")
    }
}

/// A message id as its 16 bytes rather than its 36 characters, for states kept in snapshots,
/// which hold thousands (`#[serde(with = "crate::ids::message_id_bytes")]`). Reads the text
/// form too.
pub mod message_id_bytes {
    use super::MessageId;
    use serde::{Deserializer, Serializer, de, ser};
    use std::fmt;

    pub fn serialize<S: Serializer>(id: &MessageId, serializer: S) -> Result<S::Ok, S::Error> {
        let uuid = uuid::Uuid::parse_str(id.as_str()).map_err(ser::Error::custom)?;
        serializer.serialize_bytes(uuid.as_bytes())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<MessageId, D::Error> {
        deserializer.deserialize_any(Bytes)
    }

    struct Bytes;

    impl de::Visitor<'_> for Bytes {
        type Value = MessageId;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a message id's 16 bytes or its text")
        }

        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<MessageId, E> {
            let uuid = uuid::Uuid::from_slice(bytes).map_err(E::custom)?;
            Ok(MessageId(uuid.hyphenated().to_string()))
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<MessageId, E> {
            MessageId::parse(text).map_err(E::custom)
        }
    }
}

impl TryFrom<String> for MessageId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(value)
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> String {
        id.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server-assigned file id (an uploaded file in the files bucket): UUIDv7 text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct FileId(String);

serialize_as_str!(FileId);

impl FileId {
    /// Validates the canonical hyphenated, lowercase UUID text form.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        if is_uuid_text(&value) {
            Ok(Self(value))
        } else {
            Err(IdError {
                kind: "file_id",
                value,
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FileId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(value)
    }
}

impl From<FileId> for String {
    fn from(id: FileId) -> String {
        id.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_protocol_rule() {
        assert!(UserId::parse("alice_01-x").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a".repeat(65)).is_err());
        assert!(UserId::parse("al ice").is_err());
        assert!(UserId::parse("al.ice").is_err());
        assert!(UserId::parse("ålice").is_err());
    }

    #[test]
    fn direct_conv_is_order_independent_and_round_trips() {
        let a = UserId::parse("bob").unwrap();
        let b = UserId::parse("alice").unwrap();
        let conv = ConvId::direct(&a, &b);
        assert_eq!(conv, ConvId::direct(&b, &a));
        assert_eq!(conv.as_str(), "d~alice~bob");
        assert_eq!(ConvId::parse(conv.as_str()).unwrap(), conv);
        assert_eq!(conv.direct_peer(&a), Some(b.clone()));
        assert!(conv.is_direct_member(&b));
        assert!(!conv.is_direct_member(&UserId::parse("carol").unwrap()));
        assert!(conv.is_direct());
        assert!(!ConvId::group(&GroupId::parse("g1").unwrap()).is_direct());
        assert!(!ConvId::service(&a, &b).is_direct());
    }

    #[test]
    fn conv_parse_rejects_unsorted_and_malformed() {
        assert!(ConvId::parse("d~bob~alice").is_err());
        assert!(ConvId::parse("d~alice").is_err());
        assert!(ConvId::parse("d~alice~bob~carol").is_err());
        assert!(ConvId::parse("g~team~1").is_err());
        assert!(ConvId::parse("g~").is_err());
        assert!(ConvId::parse("x~alice~bob").is_err());
        assert!(ConvId::parse("g~team-1").is_ok());
        assert!(ConvId::parse("s~acme~carol").is_ok());
        assert!(ConvId::parse("s~acme~acme").is_err());
    }

    #[test]
    fn service_conv_names_its_service_and_customer() {
        let (acme, carol) = (
            UserId::parse("acme").unwrap(),
            UserId::parse("carol").unwrap(),
        );
        let conv = ConvId::between(&carol, &Recipient::Service(acme.clone()));
        assert_eq!(conv.as_str(), "s~acme~carol");
        assert_eq!(conv.service_parts(), Some((acme, carol.clone())));
        assert_eq!(conv.direct_peer(&carol), None);
        assert_eq!(conv.group_id(), None);
    }

    #[test]
    fn message_id_accepts_uuid_text_only() {
        assert!(MessageId::parse("0190a6e4-8c1e-7c3a-9f00-0123456789ab").is_ok());
        assert_eq!(
            MessageId::parse("0190a6e4-8c1e-7c3a-9f00-0123456789ab")
                .unwrap()
                .millis(),
            0x0190_a6e4_8c1e
        );
        assert!(MessageId::parse("0190A6E4-8C1E-7C3A-9F00-0123456789AB").is_err());
        assert!(MessageId::parse("not-a-uuid").is_err());
        assert!(FileId::parse("0190a6e4-8c1e-7c3a-9f00-0123456789ab").is_ok());
        assert!(FileId::parse("../0190a6e4-8c1e-7c3a-9f00-0123456789").is_err());
    }
}
