//! Wire values embedded in more than one event: a message's recipient and body.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::{Attachment, Body, FileId, GroupId, IdError, Recipient, UserId};

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

/// A message body, version 2: version 1 plus uploaded files and images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum BodyV2 {
    Text { text: String },
    Custom { data: serde_json::Value },
    File(AttachmentV1),
    Image(AttachmentV1),
}

/// An uploaded file a body names, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttachmentV1 {
    pub file_id: String,
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
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
            // A `message_sent` never goes to a service (the conv aggregate refuses it; service
            // conversations record `service_message_sent`), so this arm is never taken.
            Recipient::Service(s) => RecipientV1::User(s.to_string()),
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

/// Version 1 has no file bodies, and only `system_message_sent` still writes it, whose
/// domain refuses them; were one to reach it, it is kept whole as a custom body rather than
/// lost.
impl From<&Body> for BodyV1 {
    fn from(b: &Body) -> Self {
        match b {
            Body::Text { text } => BodyV1::Text { text: text.clone() },
            Body::Custom { data } => BodyV1::Custom { data: data.clone() },
            file @ (Body::File(_) | Body::Image(_)) => BodyV1::Custom {
                data: serde_json::to_value(file).unwrap_or_default(),
            },
        }
    }
}

impl From<BodyV1> for BodyV2 {
    fn from(w: BodyV1) -> Self {
        match w {
            BodyV1::Text { text } => BodyV2::Text { text },
            BodyV1::Custom { data } => BodyV2::Custom { data },
        }
    }
}

impl TryFrom<BodyV2> for Body {
    type Error = IdError;
    fn try_from(w: BodyV2) -> Result<Self, IdError> {
        Ok(match w {
            BodyV2::Text { text } => Body::Text { text },
            BodyV2::Custom { data } => Body::Custom { data },
            BodyV2::File(a) => Body::File(Box::new(a.try_into()?)),
            BodyV2::Image(a) => Body::Image(Box::new(a.try_into()?)),
        })
    }
}

impl From<&Body> for BodyV2 {
    fn from(b: &Body) -> Self {
        match b {
            Body::Text { text } => BodyV2::Text { text: text.clone() },
            Body::Custom { data } => BodyV2::Custom { data: data.clone() },
            Body::File(a) => BodyV2::File(a.as_ref().into()),
            Body::Image(a) => BodyV2::Image(a.as_ref().into()),
        }
    }
}

impl TryFrom<AttachmentV1> for Attachment {
    type Error = IdError;
    fn try_from(w: AttachmentV1) -> Result<Self, IdError> {
        Ok(Attachment {
            file_id: FileId::parse(w.file_id)?,
            name: w.name,
            size: w.size,
            mime: w.mime,
            width: w.width,
            height: w.height,
        })
    }
}

impl From<&Attachment> for AttachmentV1 {
    fn from(a: &Attachment) -> Self {
        AttachmentV1 {
            file_id: a.file_id.to_string(),
            name: a.name.clone(),
            size: a.size,
            mime: a.mime.clone(),
            width: a.width,
            height: a.height,
        }
    }
}
