//! Version 1 of every event. Ids are plain strings here; the upgrade into the domain validates.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::{MessageSent, UserProfile};
use tidings_domain::{AppId, Body, ClientMsgId, ConvId, IdError, MessageId, Recipient, UserId};

/// `user_registered` and `user_profile_updated`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserProfileV1 {
    pub app: String,
    pub user: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub extra: Option<serde_json::Value>,
    pub version: u64,
    pub ts: i64,
}

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

/// `message_sent`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageSentV1 {
    pub app: String,
    pub conv: String,
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
    pub to: RecipientV1,
    pub client_msg_id: String,
    pub body: BodyV1,
    pub ts: i64,
}

impl TryFrom<UserProfileV1> for UserProfile {
    type Error = IdError;
    fn try_from(w: UserProfileV1) -> Result<Self, IdError> {
        Ok(UserProfile {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            name: w.name,
            avatar_url: w.avatar_url,
            extra: w.extra,
            version: w.version,
            ts: w.ts,
        })
    }
}

impl From<&UserProfile> for UserProfileV1 {
    fn from(p: &UserProfile) -> Self {
        UserProfileV1 {
            app: p.app.to_string(),
            user: p.user.to_string(),
            name: p.name.clone(),
            avatar_url: p.avatar_url.clone(),
            extra: p.extra.clone(),
            version: p.version,
            ts: p.ts,
        }
    }
}

impl TryFrom<RecipientV1> for Recipient {
    type Error = IdError;
    fn try_from(w: RecipientV1) -> Result<Self, IdError> {
        Ok(match w {
            RecipientV1::User(u) => Recipient::User(UserId::parse(u)?),
            RecipientV1::Group(g) => Recipient::Group(tidings_domain::GroupId::parse(g)?),
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

impl TryFrom<MessageSentV1> for MessageSent {
    type Error = IdError;
    fn try_from(w: MessageSentV1) -> Result<Self, IdError> {
        Ok(MessageSent {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            msg_id: MessageId::parse(w.msg_id)?,
            conv_seq: w.conv_seq,
            from: UserId::parse(w.from)?,
            to: w.to.try_into()?,
            client_msg_id: ClientMsgId::parse(w.client_msg_id)?,
            body: w.body.into(),
            ts: w.ts,
        })
    }
}

impl From<&MessageSent> for MessageSentV1 {
    fn from(m: &MessageSent) -> Self {
        MessageSentV1 {
            app: m.app.to_string(),
            conv: m.conv.to_string(),
            msg_id: m.msg_id.to_string(),
            conv_seq: m.conv_seq,
            from: m.from.to_string(),
            to: (&m.to).into(),
            client_msg_id: m.client_msg_id.to_string(),
            body: (&m.body).into(),
            ts: m.ts,
        }
    }
}
