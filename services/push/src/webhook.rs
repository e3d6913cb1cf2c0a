//! The app-defined provider: the job as JSON, POSTed to the app server's `push.webhook_url`,
//! signed as the server API signs requests (`X-App-Key`, `X-Timestamp`, `X-Nonce`,
//! `X-Signature`: hex HMAC-SHA256 of `method\npath?query\ntimestamp\nnonce\nhex sha256(body)`
//! with the app's secret), so the app server verifies it with the code it already has.

use crate::job::PushJob;
use crate::provider::{AppPush, REQUEST_TIMEOUT, SendError, now_secs};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const NAME: &str = "webhook";

pub struct Webhook {
    client: reqwest::Client,
}

/// The signature of a request as the server API checks it.
pub fn signature(
    secret: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let canonical = format!(
        "POST\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Webhook {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: tidings_runtime::outbound::client()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
        })
    }

    pub async fn send(&self, job: &PushJob, app: &AppPush) -> Result<(), SendError> {
        let url = app
            .settings
            .webhook_url
            .as_deref()
            .ok_or(SendError::NotConfigured(NAME))?;
        let parsed = reqwest::Url::parse(url).map_err(|e| SendError::Credentials {
            provider: NAME,
            reason: format!("webhook_url: {e}"),
        })?;
        let path_and_query = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let body = serde_json::to_vec(&serde_json::json!({ "type": "push", "job": job }))
            .expect("jobs serialize");
        let timestamp = now_secs().to_string();
        let nonce = format!("{:032x}", rand::random::<u128>());
        let signed = signature(&app.secret, &path_and_query, &timestamp, &nonce, &body);
        let response = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .header("X-App-Key", &app.app_key)
            .header("X-Timestamp", &timestamp)
            .header("X-Nonce", &nonce)
            .header("X-Signature", signed)
            .body(body)
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
