//! What a message goes through before it is recorded: the app's sensitive-word lists (text
//! bodies), then its before-send hook; and, for a client's send, the per-user message limit.
//! An edit's new body goes through the word lists only.

use super::{Commands, SendRequest, Sent};
use crate::error::ApiError;
use crate::hook::HookRequest;
use crate::word_filter::Verdict;
use tidings_domain::conv::ConvState;
use tidings_domain::hook::{BeforeSendHook, ConvKind};
use tidings_domain::{AppId, Body, ClientMsgId, ConvId, Recipient, UserId};

/// A message about to be recorded, as the screens see it.
pub(super) struct Draft<'a> {
    pub from: &'a UserId,
    pub to: &'a Recipient,
    pub conv: &'a ConvId,
    pub client_msg_id: &'a ClientMsgId,
    pub mentions: &'a [UserId],
}

impl Commands {
    /// A send from a user's client: counted against the app's per-user limit (over all the
    /// user's devices and instances), then sent.
    pub async fn send_from_client(
        &self,
        app: &AppId,
        from: &UserId,
        request: SendRequest,
    ) -> Result<Sent, ApiError> {
        self.0.rate_limits.user_message(app, from).await?;
        self.send(app, from, request).await
    }

    /// The body to record: masked by the word lists, or refused by them (`rejected`, reason
    /// `sensitive_word`), then as the before-send hook leaves it.
    pub(super) async fn screen(
        &self,
        app: &AppId,
        draft: Draft<'_>,
        body: Body,
    ) -> Result<Body, ApiError> {
        let body = self.screen_words(app, draft.from, body)?;
        let Some(hook) = self.0.apps.before_send(app) else {
            return Ok(body);
        };
        let conv_kind = match draft.conv.group_id() {
            Some(_) => ConvKind::Group,
            None => ConvKind::Direct,
        };
        if !hook.applies(conv_kind, body.kind()) {
            return Ok(body);
        }
        // Boxed: the hook's round trip is a large state that a send without a hook (the usual
        // case) should not carry, nor copy at every level that awaits it.
        Box::pin(self.ask_before_send(app, draft, &hook, conv_kind, body)).await
    }

    /// The before-send hook's verdict on `body`.
    async fn ask_before_send(
        &self,
        app: &AppId,
        draft: Draft<'_>,
        hook: &BeforeSendHook,
        conv_kind: ConvKind,
        body: Body,
    ) -> Result<Body, ApiError> {
        // A retry of a recorded message is answered with the original: the hook is not asked
        // again (it could answer differently). A cached state may miss a recent record; then
        // the hook is asked once more, and the conversation still answers with the original.
        let recorded = self
            .0
            .convs
            .read(app, draft.conv.as_str(), false, |state: &ConvState| {
                state.receipt(draft.from, draft.client_msg_id).is_some()
            })
            .await?;
        if recorded {
            return Ok(body);
        }
        let secret = self.0.apps.signing_secret(app).unwrap_or_default();
        let request = HookRequest {
            app,
            from: draft.from,
            to: draft.to,
            conv: draft.conv,
            conv_kind,
            client_msg_id: draft.client_msg_id,
            body: &body,
            mentions: draft.mentions,
        };
        let rewritten = self.0.hooks.before_send(hook, &secret, request).await?;
        Ok(rewritten.unwrap_or(body))
    }

    /// `body` as the app's word lists leave it: masked, or refused (`rejected`, reason
    /// `sensitive_word`). Only text is matched.
    pub(super) fn screen_words(
        &self,
        app: &AppId,
        from: &UserId,
        body: Body,
    ) -> Result<Body, ApiError> {
        let Body::Text { text } = body else {
            return Ok(body);
        };
        match self.0.words.check(app, &text) {
            Verdict::Clean => Ok(Body::Text { text }),
            Verdict::Masked(text) => Ok(Body::Text { text }),
            Verdict::Rejected(_) => {
                tracing::info!(%app, %from, "a word list rejected a message");
                Err(ApiError::rejected(
                    "sensitive_word",
                    "the message contains a word this app does not allow",
                ))
            }
        }
    }
}
