//! `user_deactivated`: a user can no longer sign in, send or be messaged.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::UserDeactivated;
use tidings_domain::event::types::USER_DEACTIVATED;
use tidings_domain::{AppId, Event, IdError, UserId};

/// `user_deactivated`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserDeactivatedV1 {
    pub app: String,
    pub user: String,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: USER_DEACTIVATED,
    version: 1,
    decode: |p| {
        Ok(Event::UserDeactivated(
            rmp_serde::from_slice::<UserDeactivatedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<UserDeactivatedV1>,
    sample: || {
        Event::UserDeactivated(UserDeactivated {
            app: sample::app(),
            user: sample::alice(),
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(d: &UserDeactivated) -> (u32, Vec<u8>) {
    (1, to_vec(&UserDeactivatedV1::from(d)))
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
