//! `user_registered` and `user_profile_updated`: one struct, the profile as of one version.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::UserProfile;
use tidings_domain::event::types::{USER_PROFILE_UPDATED, USER_REGISTERED};
use tidings_domain::{AppId, Event, IdError, UserId};

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

pub(crate) const ENTRIES: &[Entry] = &[
    Entry {
        event_type: USER_REGISTERED,
        version: 1,
        decode: |p| {
            Ok(Event::UserRegistered(
                rmp_serde::from_slice::<UserProfileV1>(p)?.try_into()?,
            ))
        },
        schema: schema::<UserProfileV1>,
        sample: || Event::UserRegistered(sample_profile(1)),
    },
    Entry {
        event_type: USER_PROFILE_UPDATED,
        version: 1,
        decode: |p| {
            Ok(Event::UserProfileUpdated(
                rmp_serde::from_slice::<UserProfileV1>(p)?.try_into()?,
            ))
        },
        schema: schema::<UserProfileV1>,
        sample: || Event::UserProfileUpdated(sample_profile(2)),
    },
];

/// Encodes either event in the current version.
pub(crate) fn encode(p: &UserProfile) -> (u32, Vec<u8>) {
    (1, to_vec(&UserProfileV1::from(p)))
}

fn sample_profile(version: u64) -> UserProfile {
    UserProfile {
        app: sample::app(),
        user: sample::alice(),
        name: "Alice".into(),
        avatar_url: Some("https://example.com/a.png".into()),
        extra: Some(serde_json::json!({ "level": 3 })),
        version,
        ts: sample::TS,
    }
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
