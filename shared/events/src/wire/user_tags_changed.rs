//! `user_tags_changed`: the app server added and removed tags of a user.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::UserTagsChanged;
use tidings_domain::event::types::USER_TAGS_CHANGED;
use tidings_domain::{AppId, Event, IdError, Tag, UserId};

/// `user_tags_changed`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserTagsChangedV1 {
    pub app: String,
    pub user: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: USER_TAGS_CHANGED,
    version: 1,
    decode: |p| {
        Ok(Event::UserTagsChanged(
            rmp_serde::from_slice::<UserTagsChangedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<UserTagsChangedV1>,
    sample: || {
        Event::UserTagsChanged(UserTagsChanged {
            app: sample::app(),
            user: sample::alice(),
            added: vec![Tag::parse("vip").expect("valid")],
            removed: vec![Tag::parse("trial").expect("valid")],
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(t: &UserTagsChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&UserTagsChangedV1::from(t)))
}

fn tags(names: Vec<String>) -> Result<Vec<Tag>, IdError> {
    names.into_iter().map(Tag::parse).collect()
}

impl TryFrom<UserTagsChangedV1> for UserTagsChanged {
    type Error = IdError;
    fn try_from(w: UserTagsChangedV1) -> Result<Self, IdError> {
        Ok(UserTagsChanged {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            added: tags(w.added)?,
            removed: tags(w.removed)?,
            ts: w.ts,
        })
    }
}

impl From<&UserTagsChanged> for UserTagsChangedV1 {
    fn from(t: &UserTagsChanged) -> Self {
        UserTagsChangedV1 {
            app: t.app.to_string(),
            user: t.user.to_string(),
            added: t.added.iter().map(ToString::to_string).collect(),
            removed: t.removed.iter().map(ToString::to_string).collect(),
            ts: t.ts,
        }
    }
}
