//! The signed server API: HMAC-SHA256 over method, path and query, timestamp, nonce and body
//! hash, a +-300 s clock window, and single-use nonces (held in memory for twice the window).

use crate::apps::Apps;
use crate::error::{ApiError, ErrorCode};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tidings_domain::AppId;

/// How far a request's timestamp may be from server time.
pub const WINDOW_SECS: i64 = 300;
/// Largest server-API body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The app that signed the request, inserted for handlers.
#[derive(Debug, Clone)]
pub struct SignedBy(pub AppId);

/// What the middleware needs: the apps and the nonces seen.
#[derive(Clone)]
pub struct SignatureCheck {
    apps: Apps,
    nonces: moka::sync::Cache<(AppId, String), ()>,
}

impl SignatureCheck {
    /// A checker for `apps`.
    pub fn new(apps: Apps) -> Self {
        Self {
            apps,
            nonces: moka::sync::Cache::builder()
                .time_to_live(Duration::from_secs(2 * WINDOW_SECS as u64))
                .max_capacity(10_000_000)
                .build(),
        }
    }

    /// Verifies one request; on success returns the app.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now_secs: i64,
    ) -> Result<AppId, ApiError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ApiError::new(ErrorCode::BadSignature, format!("missing {name}")))
        };
        let app = AppId::parse(header("X-App-Key")?)
            .map_err(|_| ApiError::new(ErrorCode::UnknownApp, "unknown X-App-Key"))?;
        let secret = self
            .apps
            .secret(&app)
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApp, "unknown X-App-Key"))?;
        let timestamp_text = header("X-Timestamp")?;
        let timestamp: i64 = timestamp_text.parse().map_err(|_| {
            ApiError::new(ErrorCode::BadSignature, "X-Timestamp must be unix seconds")
        })?;
        let nonce = header("X-Nonce")?;
        if nonce.is_empty() || nonce.len() > 64 {
            return Err(ApiError::new(
                ErrorCode::BadSignature,
                "X-Nonce must be 1-64 characters",
            ));
        }
        let given = hex::decode(header("X-Signature")?)
            .map_err(|_| ApiError::new(ErrorCode::BadSignature, "X-Signature must be hex"))?;
        let canonical = format!(
            "{method}\n{path_and_query}\n{timestamp_text}\n{nonce}\n{}",
            hex::encode(Sha256::digest(body))
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(canonical.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&given)
            .map_err(|_| ApiError::new(ErrorCode::BadSignature, "signature does not match"))?;
        if (now_secs - timestamp).abs() > WINDOW_SECS {
            return Err(ApiError::new(
                ErrorCode::StaleTimestamp,
                format!("X-Timestamp is more than {WINDOW_SECS} s from server time {now_secs}"),
            ));
        }
        let entry = self
            .nonces
            .entry((app.clone(), nonce.to_owned()))
            .or_insert(());
        if !entry.is_fresh() {
            return Err(ApiError::new(
                ErrorCode::ReplayedNonce,
                "X-Nonce was already used",
            ));
        }
        Ok(app)
    }
}

/// Axum middleware: verifies the signature, then hands the app to the handler.
pub async fn require_signature(
    State(check): State<SignatureCheck>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                ErrorCode::TooLarge,
                format!("body exceeds {MAX_BODY_BYTES} bytes"),
            )
            .into_response();
        }
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str())
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    match check.verify(
        parts.method.as_str(),
        &path_and_query,
        &parts.headers,
        &bytes,
        now,
    ) {
        Ok(app) => {
            parts.extensions.insert(SignedBy(app));
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}
