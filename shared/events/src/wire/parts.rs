//! Wire values embedded in more than one event: a message's recipient and body.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::{Body, GroupId, IdError, Recipient, UserId};

/// A message's recipient, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecipientV1 {
    User(String),
    Group(String),
}

/// A message body, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum BodyV1 {
    Text { text: String },
    Custom { data: serde_json::Value },
}

impl TryFrom<RecipientV1> for Recipient {
    type Error = IdError;
    fn try_from(w: RecipientV1) -> Result<Self, IdError> {
        Ok(match w {
            RecipientV1::User(u) => Recipient::User(UserId::parse(u)?),
            RecipientV1::Group(g) => Recipient::Group(GroupId::parse(g)?),
        })
    }
}

impl From<&Recipient> for RecipientV1 {
    fn from(r: &Recipient) -> Self {
        match r {
            Recipient::User(u) => RecipientV1::User(u.to_string()),
            Recipient::Group(g) => RecipientV1::Group(g.to_string()),
        }
    }
}

impl From<BodyV1> for Body {
    fn from(w: BodyV1) -> Self {
        match w {
            BodyV1::Text { text } => Body::Text { text },
            BodyV1::Custom { data } => Body::Custom { data },
        }
    }
}

impl From<&Body> for BodyV1 {
    fn from(b: &Body) -> Self {
        match b {
            Body::Text { text } => BodyV1::Text { text: text.clone() },
            Body::Custom { data } => BodyV1::Custom { data: data.clone() },
        }
    }
}
