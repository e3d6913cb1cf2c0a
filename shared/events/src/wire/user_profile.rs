//! Version 1 of every event. Ids are plain strings here; the upgrade into the domain validates.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::{
    PairChange, PairChanged, UserDeactivated, UserProfile, UserTokensRevoked,
};
use tidings_domain::{AppId, Body, ConvId, IdError, Recipient, UserId};

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

/// `user_deactivated`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserDeactivatedV1 {
    pub app: String,
    pub user: String,
    pub ts: i64,
}

impl TryFrom<UserDeactivatedV1> for UserDeactivated {
    type Error = IdError;
    fn try_from(w: UserDeactivatedV1) -> Result<Self, IdError> {
        Ok(UserDeactivated {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            ts: w.ts,
        })
    }
}

impl From<&UserDeactivated> for UserDeactivatedV1 {
    fn from(d: &UserDeactivated) -> Self {
        UserDeactivatedV1 {
            app: d.app.to_string(),
            user: d.user.to_string(),
            ts: d.ts,
        }
    }
}

/// `user_tokens_revoked`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserTokensRevokedV1 {
    pub app: String,
    pub user: String,
    pub epoch: u64,
    pub ts: i64,
}

impl TryFrom<UserTokensRevokedV1> for UserTokensRevoked {
    type Error = IdError;
    fn try_from(w: UserTokensRevokedV1) -> Result<Self, IdError> {
        Ok(UserTokensRevoked {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            epoch: w.epoch,
            ts: w.ts,
        })
    }
}

impl From<&UserTokensRevoked> for UserTokensRevokedV1 {
    fn from(r: &UserTokensRevoked) -> Self {
        UserTokensRevokedV1 {
            app: r.app.to_string(),
            user: r.user.to_string(),
            epoch: r.epoch,
            ts: r.ts,
        }
    }
}

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

impl PairChangedV1 {
    /// Upgrades into the domain event, given the change its type header names.
    pub fn upgrade(self, event_type: &str) -> Result<Option<PairChanged>, IdError> {
        let change = match event_type {
            "friend_requested" => PairChange::FriendRequested { note: self.note },
            "friend_request_accepted" => PairChange::FriendAccepted,
            "friend_request_rejected" => PairChange::FriendRejected,
            "friend_request_canceled" => PairChange::FriendRequestCanceled,
            "friend_removed" => PairChange::FriendRemoved,
            "friend_added" => PairChange::FriendAdded,
            "user_blocked" => PairChange::Blocked,
            "user_unblocked" => PairChange::Unblocked,
            _ => return Ok(None),
        };
        Ok(Some(PairChanged {
            app: AppId::parse(self.app)?,
            conv: ConvId::parse(self.conv)?,
            actor: UserId::parse(self.actor)?,
            other: UserId::parse(self.other)?,
            change,
            ts: self.ts,
        }))
    }
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
