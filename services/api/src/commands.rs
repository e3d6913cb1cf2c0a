//! The command side: every write Tidings accepts goes through here, whatever door it came in
//! by (WebSocket, signed HTTP, NATS). It checks what needs other aggregates, then lets the
//! target aggregate decide.

use crate::aggregate::Repository;
use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tidings_domain::conv::{self, ConvState, Receipt, SendDecision, SendMessage};
use tidings_domain::user::{self, UpsertUser, UserState};
use tidings_domain::{
    AppId, Body, BodyLimits, ClientMsgId, ConvId, Event, MessageId, Recipient, UserId,
};
use tidings_events::subjects;

/// A message to send, as clients and app servers give it.
#[derive(Debug, Clone, Deserialize)]
pub struct SendRequest {
    pub to: Recipient,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
}

/// The answer to a send: the `sent` frame's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub msg_id: MessageId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub ts: i64,
}

impl From<Receipt> for Sent {
    fn from(r: Receipt) -> Self {
        Sent {
            msg_id: r.msg_id,
            conv: r.conv,
            conv_seq: r.conv_seq,
            ts: r.ts,
        }
    }
}

/// A profile upsert, as app servers give it.
#[derive(Debug, Clone, Deserialize)]
pub struct UpsertUserRequest {
    pub user_id: UserId,
    pub name: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

struct Inner {
    users: Repository<UserState>,
    convs: Repository<ConvState>,
    limits: BodyLimits,
}

/// The command handler, cheap to clone.
#[derive(Clone)]
pub struct Commands(Arc<Inner>);

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Commands {
    /// Commands over the events stream (which must exist: see `definitions::provision`).
    pub async fn new(
        js: async_nats::jetstream::Context,
        cache_capacity: u64,
        limits: BodyLimits,
    ) -> anyhow::Result<Self> {
        let stream = js.get_stream(subjects::EVENTS_STREAM).await?;
        Ok(Self(Arc::new(Inner {
            users: Repository::new(js.clone(), stream.clone(), cache_capacity),
            convs: Repository::new(js, stream, cache_capacity),
            limits,
        })))
    }

    /// Registers or updates a user; returns the profile version.
    pub async fn upsert_user(
        &self,
        app: &AppId,
        request: UpsertUserRequest,
    ) -> Result<u64, ApiError> {
        let user = request.user_id.clone();
        self.0
            .users
            .execute(app, user.as_str(), |state| {
                let events = user::decide_upsert(
                    state,
                    UpsertUser {
                        app: app.clone(),
                        user: request.user_id.clone(),
                        name: request.name.clone(),
                        avatar_url: request.avatar_url.clone(),
                        extra: request.extra.clone(),
                        ts: now_millis(),
                    },
                )?;
                let version = match events.last() {
                    Some(Event::UserRegistered(p) | Event::UserProfileUpdated(p)) => p.version,
                    _ => state.version(),
                };
                Ok((events, version))
            })
            .await
    }

    /// Whether `user` is registered. A cached "yes" is final (users are never deleted); a
    /// "no" is checked against the stream.
    pub async fn is_registered(&self, app: &AppId, user: &UserId) -> Result<bool, ApiError> {
        let users = &self.0.users;
        if users
            .read(app, user.as_str(), false, UserState::is_registered)
            .await?
        {
            return Ok(true);
        }
        users
            .read(app, user.as_str(), true, UserState::is_registered)
            .await
    }

    /// Sends a message from `from`; idempotent on (`from`, `client_msg_id`).
    pub async fn send(
        &self,
        app: &AppId,
        from: &UserId,
        request: SendRequest,
    ) -> Result<Sent, ApiError> {
        match &request.to {
            Recipient::User(to) => {
                if !self.is_registered(app, to).await? {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("user {to} not found"),
                    ));
                }
            }
            Recipient::Group(group) => {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("group {group} not found"),
                ));
            }
        }
        let conv = ConvId::between(from, &request.to);
        let msg_id = MessageId::parse(uuid::Uuid::now_v7().to_string())
            .expect("uuid text is a valid message id");
        let ts = now_millis();
        let limits = self.0.limits;
        self.0
            .convs
            .execute(app, conv.as_str(), |state| {
                let command = SendMessage {
                    app: app.clone(),
                    from: from.clone(),
                    to: request.to.clone(),
                    client_msg_id: request.client_msg_id.clone(),
                    body: request.body.clone(),
                    msg_id: msg_id.clone(),
                    ts,
                };
                Ok(match conv::decide_send(state, command, limits)? {
                    SendDecision::Duplicate(receipt) => (Vec::new(), receipt.into()),
                    SendDecision::Record(message) => {
                        let sent = Sent {
                            msg_id: message.msg_id.clone(),
                            conv: message.conv.clone(),
                            conv_seq: message.conv_seq,
                            ts: message.ts,
                        };
                        (vec![Event::MessageSent(message)], sent)
                    }
                })
            })
            .await
    }
}
