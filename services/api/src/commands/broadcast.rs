//! User tags and broadcasts. Tags are decided on the user's subject; a broadcast on its app's
//! broadcast subject, once, whatever the size of its audience.

use super::{Commands, now_millis, observed};
use crate::aggregate::Recorded;
use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use tidings_domain::broadcast::SendBroadcast;
use tidings_domain::tags::SetTags;
use tidings_domain::user::UserCommand;
use tidings_domain::{AppId, Body, MessageId, Tag, UserId};

/// Most tags one request names (added and removed together).
pub const MAX_TAGS_PER_REQUEST: usize = 100;

/// The body of `POST /v1/users/{user_id}/tags`: tags to add and to remove.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TagsRequest {
    #[serde(default)]
    pub add: Vec<Tag>,
    #[serde(default)]
    pub remove: Vec<Tag>,
}

/// The body of `POST /v1/broadcasts`.
#[derive(Debug, Clone, Deserialize)]
pub struct BroadcastRequest {
    /// Absent: every user of the app.
    #[serde(default)]
    pub tag: Option<Tag>,
    pub body: Body,
}

/// A recorded broadcast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Broadcast {
    pub bseq: u64,
    pub msg_id: MessageId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    pub ts: i64,
}

impl Commands {
    /// Adds and removes `user`'s tags; answers all of them as they now are.
    pub async fn set_tags(
        &self,
        app: &AppId,
        user: &UserId,
        request: TagsRequest,
    ) -> Result<Recorded<Vec<Tag>>, ApiError> {
        observed("set_tags", async {
            if request.add.len() + request.remove.len() > MAX_TAGS_PER_REQUEST {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("add and remove name at most {MAX_TAGS_PER_REQUEST} tags"),
                ));
            }
            self.require_active(app, user).await?;
            let command = UserCommand::SetTags(SetTags {
                app: app.clone(),
                user: user.clone(),
                add: request.add,
                remove: request.remove,
                ts: now_millis(),
            });
            self.0
                .users
                .execute_then(app, user.as_str(), &command, |state| {
                    state.tags.iter().cloned().collect()
                })
                .await
        })
        .await
    }

    /// `user`'s tags, read from their subject (immediate).
    pub async fn tags(&self, app: &AppId, user: &UserId) -> Result<Vec<Tag>, ApiError> {
        let (registered, tags) = self
            .0
            .users
            .read(app, user.as_str(), true, |state| {
                (state.is_registered(), state.tags.iter().cloned().collect())
            })
            .await?;
        if !registered {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("user {user} not found"),
            ));
        }
        Ok(tags)
    }

    /// Records one broadcast to every user of `app`, or to the users holding `tag`.
    pub async fn broadcast(
        &self,
        app: &AppId,
        request: BroadcastRequest,
    ) -> Result<Recorded<Broadcast>, ApiError> {
        observed("broadcast", async {
            request
                .body
                .validate(self.0.limits)
                .map_err(|e| ApiError::from(tidings_domain::DomainError::from(e)))?;
            let msg_id = MessageId::parse(uuid::Uuid::now_v7().to_string())
                .expect("uuid text is a valid message id");
            let command = SendBroadcast {
                app: app.clone(),
                msg_id: msg_id.clone(),
                tag: request.tag.clone(),
                body: request.body,
                ts: now_millis(),
            };
            let bseq = self
                .0
                .broadcasts
                .execute_then(app, app.as_str(), &command, |state| state.bseq_of(&msg_id))
                .await?;
            Ok(bseq.map(|bseq| Broadcast {
                bseq: bseq.unwrap_or_default(),
                msg_id,
                tag: request.tag,
                ts: command.ts,
            }))
        })
        .await
    }
}
