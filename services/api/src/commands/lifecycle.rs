//! Recall and edit: actions on a message already recorded, addressed by `(conv, msg_id)`. The
//! target's facts are looked up first (`crate::facts`, outside the conversation's lock), then
//! the conversation's aggregate decides on its current state.

use super::{Commands, now_millis, observed};
use crate::error::{ApiError, ErrorCode};
use crate::facts;
use serde::{Deserialize, Serialize};
use tidings_domain::conv::{
    Actor, ConvCommand, ConvState, EditMessage, MessageFacts, RecallMessage,
};
use tidings_domain::{AppId, Body, ConvId, MessageId, UserId};

/// The answer to a recall: the recall as recorded (by the first recall, for a repeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recalled {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    /// Who recalled it; absent when the app server did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<UserId>,
    pub ts: i64,
    /// The events stream's position of the conversation when answered (`min_pos` for reads).
    pub pos: u64,
}

/// An edit, as clients and app servers give it.
#[derive(Debug, Clone, Deserialize)]
pub struct EditRequest {
    pub body: Body,
    /// The `edit_seq` the editor saw (0: the original); another one is a `conflict`.
    #[serde(default)]
    pub expected_edit_seq: Option<u64>,
}

/// The answer to an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edited {
    pub conv: ConvId,
    pub conv_seq: u64,
    pub msg_id: MessageId,
    pub edit_seq: u64,
    pub edited_at: i64,
    pub pos: u64,
}

fn message_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "message not found")
}

impl Commands {
    /// The facts of the message `msg_id` of `conv`.
    pub(super) async fn facts(
        &self,
        app: &AppId,
        conv: &ConvId,
        msg_id: &MessageId,
    ) -> Result<MessageFacts, ApiError> {
        facts::by_msg_id(&self.0.convs, app, conv, msg_id)
            .await?
            .ok_or_else(message_not_found)
    }

    /// Recalls the message `msg_id` of `conv`, as `by`. Recalling a recalled message records
    /// nothing and answers with the first recall.
    pub async fn recall(
        &self,
        app: &AppId,
        by: Actor,
        conv: &ConvId,
        msg_id: &MessageId,
    ) -> Result<Recalled, ApiError> {
        observed("recall", async {
            if let Actor::User(user) = &by {
                self.require_active(app, user).await?;
            }
            let target = self.facts(app, conv, msg_id).await?;
            let conv_seq = target.conv_seq;
            let command = ConvCommand::Recall(RecallMessage {
                app: app.clone(),
                conv: conv.clone(),
                target,
                by,
                ts: now_millis(),
                window_secs: self.0.apps.recall_window_secs(app),
            });
            let recorded = self
                .0
                .convs
                .execute_then(app, conv.as_str(), &command, |state: &ConvState| {
                    state.note(conv_seq).recalled
                })
                .await?;
            let recall = recorded.value.ok_or_else(|| {
                tracing::error!(%conv, conv_seq, "a recorded recall left no note");
                ApiError::new(ErrorCode::Internal, "the recall's note is missing")
            })?;
            Ok(Recalled {
                conv: conv.clone(),
                conv_seq,
                msg_id: msg_id.clone(),
                by: recall.by,
                ts: recall.ts,
                pos: recorded.pos,
            })
        })
        .await
    }

    /// Replaces the body of `by`'s text message `msg_id` of `conv`.
    pub async fn edit(
        &self,
        app: &AppId,
        by: &UserId,
        conv: &ConvId,
        msg_id: &MessageId,
        request: EditRequest,
    ) -> Result<Edited, ApiError> {
        observed("edit", async {
            self.require_active(app, by).await?;
            let target = self.facts(app, conv, msg_id).await?;
            let conv_seq = target.conv_seq;
            let body = self.screen_words(app, by, request.body)?;
            let command = ConvCommand::Edit(EditMessage {
                app: app.clone(),
                conv: conv.clone(),
                target,
                by: by.clone(),
                body,
                expected_edit_seq: request.expected_edit_seq,
                ts: now_millis(),
                window_secs: self.0.apps.edit_window_secs(app),
                limits: self.0.limits,
            });
            let recorded = self
                .0
                .convs
                .execute_then(app, conv.as_str(), &command, |state: &ConvState| {
                    state.note(conv_seq)
                })
                .await?;
            Ok(Edited {
                conv: conv.clone(),
                conv_seq,
                msg_id: msg_id.clone(),
                edit_seq: recorded.value.edit_seq,
                edited_at: recorded.value.edited_at,
                pos: recorded.pos,
            })
        })
        .await
    }
}
