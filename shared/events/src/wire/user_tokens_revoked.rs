//! `user_tokens_revoked`: every token minted before an epoch is revoked.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::UserTokensRevoked;
use tidings_domain::event::types::USER_TOKENS_REVOKED;
use tidings_domain::{AppId, Event, IdError, UserId};

/// `user_tokens_revoked`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserTokensRevokedV1 {
    pub app: String,
    pub user: String,
    pub epoch: u64,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: USER_TOKENS_REVOKED,
    version: 1,
    decode: |p| {
        Ok(Event::UserTokensRevoked(
            rmp_serde::from_slice::<UserTokensRevokedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<UserTokensRevokedV1>,
    sample: || {
        Event::UserTokensRevoked(UserTokensRevoked {
            app: sample::app(),
            user: sample::alice(),
            epoch: 2,
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(r: &UserTokensRevoked) -> (u32, Vec<u8>) {
    (1, to_vec(&UserTokensRevokedV1::from(r)))
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
