//! A client of the signed server API, signing exactly as PROTOCOL.md says.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// Lowercase hex HMAC-SHA256 over the canonical request string.
pub fn signature(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
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

/// The current Unix time in seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    /// `Retry-After`, when the answer has one.
    pub retry_after: Option<String>,
}

/// Signs and sends server-API requests for one app.
pub struct ServerApi {
    pub base: String,
    pub app_key: String,
    pub app_secret: String,
    http: reqwest::Client,
}

/// Nonces are counted across clients: two clients of one app (its old and new secret, say)
/// must not repeat each other's.
static NONCE: AtomicU64 = AtomicU64::new(0);

/// The parts of a request that tests may want to get wrong on purpose.
#[derive(Debug, Clone)]
pub struct Signing {
    pub app_key: String,
    pub secret: String,
    pub timestamp: i64,
    pub nonce: String,
}

impl ServerApi {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, app_key: &str, app_secret: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            app_key: app_key.to_owned(),
            app_secret: app_secret.to_owned(),
            http: tidings_runtime::outbound::client()
                .build()
                .expect("the outbound client builds"),
        }
    }

    /// Fresh, correct signing parts.
    pub fn signing(&self) -> Signing {
        Signing {
            app_key: self.app_key.clone(),
            secret: self.app_secret.clone(),
            timestamp: now_secs(),
            nonce: format!(
                "n{}-{}",
                std::process::id(),
                NONCE.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// Sends a correctly signed POST.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.post_signed(path, body, &self.signing()).await
    }

    /// Sends a POST signed with `signing`.
    pub async fn post_signed(
        &self,
        path: &str,
        body: &serde_json::Value,
        signing: &Signing,
    ) -> Reply {
        let bytes = serde_json::to_vec(body).expect("json");
        let sig = signature(
            &signing.secret,
            "POST",
            path,
            signing.timestamp,
            &signing.nonce,
            &bytes,
        );
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("X-App-Key", &signing.app_key)
            .header("X-Timestamp", signing.timestamp.to_string())
            .header("X-Nonce", &signing.nonce)
            .header("X-Signature", sig)
            .body(bytes)
            .send()
            .await
            .expect("server api reachable");
        reply(response).await
    }

    /// Sends a correctly signed GET (the admin API's reads).
    pub async fn get(&self, path_and_query: &str) -> Reply {
        let signing = self.signing();
        let sig = signature(
            &signing.secret,
            "GET",
            path_and_query,
            signing.timestamp,
            &signing.nonce,
            b"",
        );
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .header("X-App-Key", &signing.app_key)
            .header("X-Timestamp", signing.timestamp.to_string())
            .header("X-Nonce", &signing.nonce)
            .header("X-Signature", sig)
            .send()
            .await
            .expect("server api reachable");
        reply(response).await
    }

    /// Registers a user (idempotent).
    pub async fn register(&self, user: &str) -> Reply {
        self.post(
            "/v1/users",
            &serde_json::json!({ "user_id": user, "name": user }),
        )
        .await
    }

    /// Registers a user and returns a fresh token.
    pub async fn user_token(&self, user: &str) -> String {
        let r = self.register(user).await;
        assert_eq!(r.status, 200, "register {user}: {:?}", r.body);
        let r = self
            .post(&format!("/v1/users/{user}/token"), &serde_json::json!({}))
            .await;
        assert_eq!(r.status, 200, "token for {user}: {:?}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    /// A GET with a user token (client REST).
    pub async fn get_as(&self, token: &str, path_and_query: &str) -> Reply {
        self.client_call(reqwest::Method::GET, token, path_and_query, None)
            .await
    }

    /// A POST with a user token and a JSON body (client REST).
    pub async fn post_as(&self, token: &str, path: &str, body: &serde_json::Value) -> Reply {
        self.client_call(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    /// A PUT with a user token and a JSON body (client REST).
    pub async fn put_as(&self, token: &str, path: &str, body: &serde_json::Value) -> Reply {
        self.client_call(reqwest::Method::PUT, token, path, Some(body))
            .await
    }

    /// A DELETE with a user token (client REST).
    pub async fn delete_as(&self, token: &str, path: &str) -> Reply {
        self.client_call(reqwest::Method::DELETE, token, path, None)
            .await
    }

    async fn client_call(
        &self,
        method: reqwest::Method,
        token: &str,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("client api reachable");
        reply(response).await
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Reply {
        status,
        body,
        retry_after,
    }
}
