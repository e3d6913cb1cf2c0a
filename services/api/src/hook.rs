//! The before-send hook: before a message is recorded, the app's hook (a NATS request on
//! `tid.hook.<app>.before_send` and/or a signed HTTP `POST`) may allow it, reject it (a code and
//! message the sender gets as `rejected`) or rewrite its body. A hook that does not answer in
//! time, or answers what cannot be used, fails open or closed as the app's setting says.

use crate::error::{ApiError, ErrorCode};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tidings_domain::hook::{BeforeSendHook, ConvKind, HookFailure};
use tidings_domain::{AppId, Body, BodyLimits, ClientMsgId, ConvId, Recipient, UserId};
use tidings_events::subjects;
use tidings_runtime::metrics as names;

/// Longest reason code a hook may give; a longer or empty one reads as `rejected_by_hook`.
const MAX_REASON_LEN: usize = 64;
/// Largest answer read from an HTTP hook.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// What the hook is asked about: the message as it would be recorded.
#[derive(Debug, Serialize)]
pub struct HookRequest<'a> {
    pub app: &'a AppId,
    pub from: &'a UserId,
    pub to: &'a Recipient,
    pub conv: &'a ConvId,
    pub conv_kind: ConvKind,
    pub client_msg_id: &'a ClientMsgId,
    pub body: &'a Body,
    pub mentions: &'a [UserId],
}

/// A hook's answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum HookAnswer {
    Allow,
    Reject {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
    Rewrite {
        body: Body,
    },
}

/// Why a call gave no usable answer.
#[derive(Debug)]
enum Failure {
    Timeout,
    Error(String),
}

impl Failure {
    fn describe(&self) -> &str {
        match self {
            Failure::Timeout => "timed out",
            Failure::Error(message) => message,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Error(_) => "error",
        }
    }
}

/// Calls apps' before-send hooks.
#[derive(Clone)]
pub struct Hooks {
    client: async_nats::Client,
    http: reqwest::Client,
    limits: BodyLimits,
}

impl Hooks {
    /// Hooks called over `client` (NATS) and a shared HTTP client.
    pub fn new(client: async_nats::Client, limits: BodyLimits) -> Self {
        Self {
            client,
            http: tidings_runtime::outbound::client()
                .build()
                .expect("the outbound client builds"),
            limits,
        }
    }

    /// Runs `hook` on `request`: the body to record (the given one, or the hook's rewrite), or
    /// the refusal. `secret` signs HTTP calls.
    pub async fn before_send(
        &self,
        hook: &BeforeSendHook,
        secret: &str,
        request: HookRequest<'_>,
    ) -> Result<Option<Body>, ApiError> {
        let timeout = Duration::from_millis(hook.timeout_ms);
        let mut rewritten: Option<Body> = None;
        let transports = [
            hook.nats.then_some("nats"),
            hook.url.as_deref().map(|_| "http"),
        ];
        for transport in transports.into_iter().flatten() {
            let current = HookRequest {
                body: rewritten.as_ref().unwrap_or(request.body),
                ..request
            };
            let payload = serde_json::to_vec(&current).expect("a hook request serializes");
            let started = Instant::now();
            let answer = match transport {
                "nats" => self.over_nats(request.app, payload, timeout).await,
                _ => {
                    let url = hook.url.as_deref().unwrap_or_default();
                    self.over_http(url, request.app, secret, payload, timeout)
                        .await
                }
            };
            metrics::histogram!(names::HOOK_SECONDS, "transport" => transport)
                .record(started.elapsed().as_secs_f64());
            let answer = answer.and_then(|a| self.usable(a));
            let outcome = match &answer {
                Ok(HookAnswer::Allow) => "allow",
                Ok(HookAnswer::Reject { .. }) => "reject",
                Ok(HookAnswer::Rewrite { .. }) => "rewrite",
                Err(failure) => failure.outcome(),
            };
            metrics::counter!(names::HOOK_CALLS, "transport" => transport, "outcome" => outcome)
                .increment(1);
            match answer {
                Ok(HookAnswer::Allow) => {}
                Ok(HookAnswer::Rewrite { body }) => rewritten = Some(body),
                Ok(HookAnswer::Reject { code, message }) => {
                    let reason = code
                        .filter(|c| !c.is_empty() && c.len() <= MAX_REASON_LEN)
                        .unwrap_or_else(|| "rejected_by_hook".into());
                    let message =
                        message.unwrap_or_else(|| "refused by the app's before-send hook".into());
                    tracing::info!(app = %request.app, from = %request.from, %reason, "before-send hook rejected a message");
                    return Err(ApiError::rejected(reason, message));
                }
                Err(failure) => {
                    tracing::warn!(app = %request.app, transport, failure = failure.describe(), mode = ?hook.failure, "before-send hook failed");
                    if hook.failure == HookFailure::Closed {
                        return Err(ApiError::new(
                            ErrorCode::Unavailable,
                            format!(
                                "the app's before-send hook did not answer ({}): try again",
                                failure.outcome()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(rewritten)
    }

    /// Refuses a rewrite Tidings could not record: an attachment (which must name an upload of
    /// the conversation) or a body over the limits.
    fn usable(&self, answer: HookAnswer) -> Result<HookAnswer, Failure> {
        if let HookAnswer::Rewrite { body } = &answer {
            if body.attachment().is_some() {
                return Err(Failure::Error("a rewrite may not name a file".into()));
            }
            body.validate(self.limits)
                .map_err(|e| Failure::Error(format!("rewritten body: {e}")))?;
        }
        Ok(answer)
    }

    async fn over_nats(
        &self,
        app: &AppId,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<HookAnswer, Failure> {
        let request = self
            .client
            .request(subjects::before_send_hook(app), payload.into());
        let reply = match tokio::time::timeout(timeout, request).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
                return Err(Failure::Timeout);
            }
            Ok(Err(e)) => return Err(Failure::Error(e.to_string())),
            Ok(Ok(reply)) => reply,
        };
        serde_json::from_slice(&reply.payload).map_err(|e| Failure::Error(format!("answer: {e}")))
    }

    async fn over_http(
        &self,
        url: &str,
        app: &AppId,
        secret: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<HookAnswer, Failure> {
        let parsed = reqwest::Url::parse(url).map_err(|e| Failure::Error(e.to_string()))?;
        let path_and_query = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let nonce = uuid::Uuid::now_v7().simple().to_string();
        let signature = sign(
            secret,
            "POST",
            &path_and_query,
            &timestamp,
            &nonce,
            &payload,
        );
        let call = async {
            let response = self
                .http
                .post(parsed)
                .header("Content-Type", "application/json")
                .header("X-App-Key", app.as_str())
                .header("X-Timestamp", &timestamp)
                .header("X-Nonce", &nonce)
                .header("X-Signature", signature)
                .body(payload)
                .send()
                .await
                .map_err(|e| Failure::Error(tidings_runtime::outbound::describe(&e)))?;
            if !response.status().is_success() {
                return Err(Failure::Error(format!("status {}", response.status())));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| Failure::Error(e.to_string()))?;
            if bytes.len() > MAX_ANSWER_BYTES {
                return Err(Failure::Error("answer over 1 MiB".into()));
            }
            serde_json::from_slice(&bytes).map_err(|e| Failure::Error(format!("answer: {e}")))
        };
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }
}

/// The server API's signature (docs/protocol.md, Server API) over a hook call, made with the
/// app's secret so the app server checks it as Tidings checks its requests.
fn sign(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let canonical = format!(
        "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_by_action() {
        let read = |json: &str| serde_json::from_str::<HookAnswer>(json);
        assert!(matches!(
            read(r#"{"action":"allow"}"#),
            Ok(HookAnswer::Allow)
        ));
        assert!(matches!(
            read(r#"{"action":"reject","code":"spam"}"#),
            Ok(HookAnswer::Reject {
                code: Some(_),
                message: None
            })
        ));
        assert!(matches!(
            read(r#"{"action":"rewrite","body":{"type":"text","text":"x"}}"#),
            Ok(HookAnswer::Rewrite { .. })
        ));
        assert!(read(r#"{"action":"maybe"}"#).is_err());
    }
}
