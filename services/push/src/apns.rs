//! APNs over HTTP/2 with token-based authentication: `POST /3/device/<token>` with
//! `authorization: bearer <ES256 JWT {iss: team id, iat}, kid: key id>`, `apns-topic`,
//! `apns-push-type: alert`, `apns-priority`, `apns-collapse-id` (one per conversation) and a
//! JSON `aps` payload. The provider token is reused for 50 minutes (Apple refuses tokens older
//! than an hour and throttles ones refreshed more often than every 20 minutes).
//!
//! Only tested against a local HTTP/2 server that checks requests against Apple's documented
//! format; `https://` endpoints go over TLS (rustls, HTTP/2 by ALPN) with the shared outbound
//! client (`tidings_runtime::outbound`), never against Apple itself (docs/protocol.md).

use crate::job::PushJob;
use crate::provider::{AppPush, REQUEST_TIMEOUT, SendError, now_secs, pem_der, title};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

const NAME: &str = "apns";
/// How long a provider token is reused, in seconds.
const TOKEN_REUSE_SECS: u64 = 50 * 60;
/// Longest `apns-collapse-id`, in bytes.
const MAX_COLLAPSE_ID: usize = 64;

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

pub struct Apns {
    /// Speaks HTTP/2 without TLS from the first byte (`http://` endpoints: local servers).
    cleartext: reqwest::Client,
    /// TLS, HTTP/2 negotiated by ALPN (`https://` endpoints).
    tls: reqwest::Client,
    /// Provider tokens by (team id, key id): (token, minted at).
    tokens: Mutex<HashMap<(String, String), (String, u64)>>,
}

/// The `apns-collapse-id` of a conversation: its id, or its SHA-256 in hex when longer than
/// APNs accepts.
pub fn collapse_id(conv: &str) -> String {
    if conv.len() <= MAX_COLLAPSE_ID {
        conv.to_owned()
    } else {
        hex::encode(Sha256::digest(conv.as_bytes()))
    }
}

/// The JSON payload of a notification.
pub fn payload(job: &PushJob) -> serde_json::Value {
    let mut alert = json!({ "title": title(job) });
    if let Some(preview) = &job.preview {
        alert["body"] = json!(preview);
    }
    json!({
        "aps": {
            "alert": alert,
            "badge": job.badge,
            "sound": "default",
            "thread-id": job.conv,
        },
        "conv": job.conv,
        "msg_id": job.msg_id,
        "conv_seq": job.conv_seq,
        "from": job.from,
    })
}

impl Apns {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            cleartext: tidings_runtime::outbound::client()
                .http2_prior_knowledge()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
            tls: tidings_runtime::outbound::client()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
            tokens: Mutex::default(),
        })
    }

    fn provider_token(&self, team_id: &str, key_id: &str, pem: &str) -> Result<String, SendError> {
        let now = now_secs();
        let key = (team_id.to_owned(), key_id.to_owned());
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, minted)) = tokens.get(&key)
            && now.saturating_sub(*minted) < TOKEN_REUSE_SECS
        {
            return Ok(token.clone());
        }
        let credentials = |reason: String| SendError::Credentials {
            provider: NAME,
            reason,
        };
        let der = pem_der(pem).map_err(credentials)?;
        let header = Header {
            kid: Some(key_id.to_owned()),
            ..Header::new(Algorithm::ES256)
        };
        let claims = Claims {
            iss: team_id,
            iat: now,
        };
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&der))
            .map_err(|e| credentials(format!("signing the provider token: {e}")))?;
        tokens.insert(key, (token.clone(), now));
        Ok(token)
    }

    pub async fn send(&self, job: &PushJob, app: &AppPush) -> Result<(), SendError> {
        let apns = app
            .settings
            .apns
            .as_ref()
            .ok_or(SendError::NotConfigured(NAME))?;
        let topic = job
            .topic
            .as_deref()
            .or(apns.topic.as_deref())
            .ok_or_else(|| SendError::Credentials {
                provider: NAME,
                reason: "no topic: neither the registration nor push.apns.topic names one".into(),
            })?;
        let token = self.provider_token(&apns.team_id, &apns.key_id, &apns.private_key)?;
        let endpoint = apns.endpoint.trim_end_matches('/');
        let client = if endpoint.starts_with("http://") {
            &self.cleartext
        } else {
            &self.tls
        };
        let response = client
            .post(format!("{endpoint}/3/device/{}", job.token))
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-collapse-id", collapse_id(job.collapse_id()))
            .json(&payload(job))
            .send()
            .await
            .map_err(|e| SendError::transport(NAME, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(SendError::status(NAME, status, text))
    }
}
