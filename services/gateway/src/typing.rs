//! Typing notices (issue 14 item 5, docs/design/devices-presence.md): a member's
//! `typing{conv, state}` goes over core NATS to each other member's push subject
//! `tid.push.<app>.<user>` (header `Tidings-Push-Kind: typing`, so the gateway's one
//! subscription per user carries both) and from there only to that member's open sessions.
//! Nothing is stored: a member with no open session never hears of it, and no inbox holds it.
//! Clients treat `typing` as over after `expires_in` seconds without a refresh.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_domain::{AppId, ConvId, UserId};
use tidings_events::{headers, subjects};
use tidings_store::{Diffusion, ReadModels};
use tokio::time::Instant;

use crate::errors::store_error;

/// Seconds after which a client treats a `typing` state as over without a refresh.
pub const EXPIRES_IN_SECS: u64 = 6;

/// At most one notice per conversation per session in this interval; more are dropped.
pub const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What a member is doing in the composer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypingState {
    Typing,
    Paused,
}

/// A typing notice as it travels on the recipient's push subject (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub conv: ConvId,
    pub user: UserId,
    pub state: TypingState,
}

/// One session's rate limit: the last notice it relayed per conversation.
#[derive(Default)]
pub struct Throttle {
    last: HashMap<ConvId, Instant>,
}

impl Throttle {
    /// Whether a notice for `conv` may go now; records it when it may.
    pub fn allow(&mut self, conv: &ConvId, now: Instant) -> bool {
        self.last
            .retain(|_, at| now.duration_since(*at) < MIN_INTERVAL);
        if self.last.contains_key(conv) {
            return false;
        }
        self.last.insert(conv.clone(), now);
        true
    }
}

/// The members of `conv` other than `user`, who must be one of them. Groups above the
/// read-diffusion threshold have typing off unless `in_large_groups`.
pub async fn recipients<S: ReadModels>(
    store: &S,
    app: &AppId,
    user: &UserId,
    conv: &ConvId,
    in_large_groups: bool,
) -> Result<Vec<UserId>, ApiError> {
    let not_member = || ApiError::new(ErrorCode::NotMember, "only members may type here");
    let Some(group) = conv.group_id() else {
        if !conv.is_direct_member(user) {
            return Err(not_member());
        }
        return Ok(conv.direct_peer(user).into_iter().collect());
    };
    if store
        .member(app, &group, user)
        .await
        .map_err(store_error)?
        .is_none()
    {
        return Err(not_member());
    }
    let row = store.group(app, &group).await.map_err(store_error)?;
    let Some(row) = row else {
        return Err(not_member());
    };
    if row.diffusion == Diffusion::Read && !in_large_groups {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "typing is off in groups above the read-diffusion threshold",
        ));
    }
    let members = store
        .members(app, &group, None, row.member_count.saturating_add(1))
        .await
        .map_err(store_error)?;
    Ok(members
        .into_iter()
        .map(|member| member.user)
        .filter(|member| member != user)
        .collect())
}

/// Publishes `notice` to each of `recipients` (core NATS: only open sessions hear it).
pub async fn relay(
    client: &async_nats::Client,
    app: &AppId,
    notice: &Typing,
    recipients: &[UserId],
) -> Result<(), ApiError> {
    let payload: bytes::Bytes = serde_json::to_vec(notice)
        .expect("a typing notice serializes")
        .into();
    let mut kind = async_nats::HeaderMap::new();
    kind.insert(headers::PUSH_KIND, headers::PUSH_KIND_TYPING);
    for recipient in recipients {
        client
            .publish_with_headers(
                subjects::push(app, recipient),
                kind.clone(),
                payload.clone(),
            )
            .await
            .map_err(|e| ApiError::unavailable("relaying typing", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_notice_per_conversation_per_interval() {
        let mut throttle = Throttle::default();
        let (a, b) = (ConvId::parse("g~a").unwrap(), ConvId::parse("g~b").unwrap());
        let start = Instant::now();
        assert!(throttle.allow(&a, start));
        assert!(!throttle.allow(&a, start + Duration::from_millis(1_999)));
        assert!(throttle.allow(&b, start + Duration::from_millis(1)));
        assert!(throttle.allow(&a, start + MIN_INTERVAL));
        assert_eq!(throttle.last.len(), 2);
    }
}
