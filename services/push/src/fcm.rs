//! FCM HTTP v1: `POST /v1/projects/<project>/messages:send` with an OAuth2 bearer token, which
//! comes from exchanging a service-account JWT (RS256, `{iss: client_email, scope:
//! firebase.messaging, aud: token_uri, iat, exp}`) at the token URI with the
//! `urn:ietf:params:oauth:grant-type:jwt-bearer` grant; the access token is reused until a
//! minute before it expires.
//!
//! Only tested against local servers that check requests against Google's documented formats;
//! `https://` endpoints go over TLS with the shared outbound client (`tidings_runtime::outbound`),
//! never against Google itself (docs/protocol.md).

use crate::job::PushJob;
use crate::provider::{AppPush, REQUEST_TIMEOUT, SendError, now_secs, pem_der, title};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use tidings_domain::push_app::FcmSettings;

const NAME: &str = "fcm";
/// The OAuth2 scope FCM sends need.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The JWT-bearer grant type (RFC 7523), form-encoded.
const GRANT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

pub struct Fcm {
    client: reqwest::Client,
    /// Access tokens by service account: (token, valid until).
    tokens: Mutex<HashMap<String, (String, u64)>>,
}

/// The `messages:send` body of a notification.
pub fn message(job: &PushJob) -> serde_json::Value {
    let mut notification = json!({ "title": title(job) });
    if let Some(preview) = &job.preview {
        notification["body"] = json!(preview);
    }
    let collapse = job.collapse_id();
    json!({
        "message": {
            "token": job.token,
            "notification": notification,
            // FCM data values are strings.
            "data": {
                "conv": job.conv.as_str(),
                "msg_id": job.msg_id.as_str(),
                "conv_seq": job.conv_seq.to_string(),
                "from": job.from.as_str(),
                "badge": job.badge.to_string(),
                "count": job.count.to_string(),
            },
            "android": {
                "collapse_key": collapse,
                "notification": { "tag": collapse, "notification_count": job.count },
            },
            "apns": {
                "headers": { "apns-collapse-id": crate::apns::collapse_id(collapse) },
                "payload": { "aps": { "badge": job.badge } },
            },
        }
    })
}

impl Fcm {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: tidings_runtime::outbound::client()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
            tokens: Mutex::default(),
        })
    }

    fn assertion(fcm: &FcmSettings, now: u64) -> Result<String, SendError> {
        let credentials = |reason: String| SendError::Credentials {
            provider: NAME,
            reason,
        };
        let der = pem_der(&fcm.private_key).map_err(credentials)?;
        let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_der(&der)
            .and_then(|key| key.to_pkcs1_der().map_err(Into::into))
            .map_err(|e| credentials(format!("private_key: {e}")))?;
        let claims = Claims {
            iss: &fcm.client_email,
            scope: SCOPE,
            aud: &fcm.token_uri,
            iat: now,
            exp: now + 3600,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_der(pkcs1.as_bytes()),
        )
        .map_err(|e| credentials(format!("signing the assertion: {e}")))
    }

    async fn access_token(&self, fcm: &FcmSettings) -> Result<String, SendError> {
        let now = now_secs();
        if let Some((token, until)) = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&fcm.client_email)
            && now < *until
        {
            return Ok(token.clone());
        }
        let assertion = Self::assertion(fcm, now)?;
        let response = self
            .client
            .post(&fcm.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type={GRANT}&assertion={assertion}"))
            .send()
            .await
            .map_err(|e| SendError::transport(NAME, e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(SendError::status(NAME, status, text));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|e| SendError::transport(NAME, e))?;
        let until = now + answer.expires_in.saturating_sub(60);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                fcm.client_email.clone(),
                (answer.access_token.clone(), until),
            );
        Ok(answer.access_token)
    }

    pub async fn send(&self, job: &PushJob, app: &AppPush) -> Result<(), SendError> {
        let fcm = app
            .settings
            .fcm
            .as_ref()
            .ok_or(SendError::NotConfigured(NAME))?;
        let token = self.access_token(fcm).await?;
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            fcm.endpoint.trim_end_matches('/'),
            fcm.project_id
        );
        let response = self
            .client
            .post(url)
            .bearer_auth(token)
            .json(&message(job))
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
