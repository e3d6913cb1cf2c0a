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

#[cfg(test)]
mod tests {
    //! `verify` against docs/protocol.md's signing section: the canonical string, the order of
    //! checks (app key, header shape and signature, clock window, nonce) and single-use nonces.
    use super::*;
    use crate::apps::{AppConfig, DEFAULT_GROUP_CAP};
    use axum::http::HeaderValue;

    const SECRET: &str = "0123456789abcdef0123";
    const NOW: i64 = 1_700_000_000;
    const PATH: &str = "/v1/users?x=1";
    const BODY: &[u8] = br#"{"user_id":"alice"}"#;

    fn app_config(key: &str, secret: &str) -> AppConfig {
        AppConfig {
            key: key.into(),
            secret: secret.into(),
            messaging: Default::default(),
            max_group_members: DEFAULT_GROUP_CAP,
            max_file_bytes: crate::apps::DEFAULT_FILE_CAP,
            max_pins: crate::apps::DEFAULT_MAX_PINS,
            reaction_keys: Vec::new(),
            recall_window_secs: crate::apps::DEFAULT_RECALL_WINDOW_SECS,
            edit_window_secs: crate::apps::DEFAULT_EDIT_WINDOW_SECS,
        }
    }

    fn check() -> SignatureCheck {
        let apps = Apps::new(&[
            app_config("demo", SECRET),
            app_config("other", "fedcba9876543210fedcba"),
        ])
        .unwrap();
        SignatureCheck::new(apps)
    }

    /// hex HMAC-SHA256(secret, METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nhex(sha256(body))).
    fn sign(secret: &str, method: &str, path: &str, ts: &str, nonce: &str, body: &[u8]) -> String {
        let canonical = format!(
            "{method}\n{path}\n{ts}\n{nonce}\n{}",
            hex::encode(Sha256::digest(body))
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(app: &str, ts: &str, nonce: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("X-App-Key", app),
            ("X-Timestamp", ts),
            ("X-Nonce", nonce),
            ("X-Signature", signature),
        ] {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    /// Headers of a `POST PATH` with `BODY`, signed by `demo` at `ts`.
    fn signed(ts: i64, nonce: &str) -> HeaderMap {
        let ts = ts.to_string();
        let signature = sign(SECRET, "POST", PATH, &ts, nonce, BODY);
        headers("demo", &ts, nonce, &signature)
    }

    fn code(result: Result<AppId, ApiError>) -> ErrorCode {
        result.expect_err("request should be refused").code
    }

    #[test]
    fn a_correctly_signed_request_names_its_app() {
        let app = check().verify("POST", PATH, &signed(NOW, "n-1"), BODY, NOW);
        assert_eq!(app.unwrap(), AppId::parse("demo").unwrap());
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // Computed with openssl from the formula in docs/protocol.md, not with this module's
        // code, so a change to the canonical string fails here.
        let known = "e8e6567f8f003b127fda885d0958e3832a3a8365e4eab428eec82af30f99ae02";
        assert_eq!(sign(SECRET, "POST", PATH, "1700000000", "n-1", BODY), known);
        let headers = headers("demo", "1700000000", "n-1", known);
        assert!(check().verify("POST", PATH, &headers, BODY, NOW).is_ok());
    }

    #[test]
    fn a_signature_made_with_another_secret_is_refused() {
        let ts = NOW.to_string();
        let signature = sign("not-the-app-secret!!", "POST", PATH, &ts, "n-1", BODY);
        let headers = headers("demo", &ts, "n-1", &signature);
        let result = check().verify("POST", PATH, &headers, BODY, NOW);
        assert_eq!(code(result), ErrorCode::BadSignature);
    }

    #[test]
    fn every_signed_part_of_the_request_is_covered() {
        let check = check();
        let headers = signed(NOW, "n-1");
        let tampered: [(&str, &str, &[u8]); 4] = [
            ("PUT", PATH, BODY),
            ("POST", "/v1/users?x=2", BODY),
            ("POST", PATH, br#"{"user_id":"mallory"}"#),
            ("POST", PATH, b""),
        ];
        for (method, path, body) in tampered {
            let result = check.verify(method, path, &headers, body, NOW);
            assert_eq!(code(result), ErrorCode::BadSignature, "{method} {path}");
        }
        // The timestamp and nonce are signed too: changing either header breaks the signature.
        let mut moved = headers.clone();
        moved.insert("X-Timestamp", HeaderValue::from(NOW + 1));
        assert_eq!(
            code(check.verify("POST", PATH, &moved, BODY, NOW)),
            ErrorCode::BadSignature
        );
        let mut renonced = headers;
        renonced.insert("X-Nonce", HeaderValue::from_static("n-2"));
        assert_eq!(
            code(check.verify("POST", PATH, &renonced, BODY, NOW)),
            ErrorCode::BadSignature
        );
    }

    #[test]
    fn timestamps_within_300_s_either_way_pass_and_beyond_are_stale() {
        let check = check();
        for (i, ts) in [NOW - WINDOW_SECS, NOW + WINDOW_SECS]
            .into_iter()
            .enumerate()
        {
            let nonce = format!("edge-{i}");
            assert!(
                check
                    .verify("POST", PATH, &signed(ts, &nonce), BODY, NOW)
                    .is_ok()
            );
        }
        for (i, ts) in [NOW - WINDOW_SECS - 1, NOW + WINDOW_SECS + 1, 0]
            .into_iter()
            .enumerate()
        {
            let nonce = format!("stale-{i}");
            let result = check.verify("POST", PATH, &signed(ts, &nonce), BODY, NOW);
            assert_eq!(code(result), ErrorCode::StaleTimestamp, "timestamp {ts}");
        }
    }

    #[test]
    fn a_nonce_is_single_use_per_app() {
        let check = check();
        let request = signed(NOW, "n-1");
        assert!(check.verify("POST", PATH, &request, BODY, NOW).is_ok());
        let replay = check.verify("POST", PATH, &request, BODY, NOW + 1);
        assert_eq!(code(replay), ErrorCode::ReplayedNonce);

        // Nonces are remembered per app: another app may use the same one.
        let ts = NOW.to_string();
        let signature = sign("fedcba9876543210fedcba", "POST", PATH, &ts, "n-1", BODY);
        let other = headers("other", &ts, "n-1", &signature);
        let other = check.verify("POST", PATH, &other, BODY, NOW);
        assert_eq!(other.unwrap(), AppId::parse("other").unwrap());
    }

    #[test]
    fn a_refused_request_does_not_use_up_its_nonce() {
        let check = check();
        let mut forged = signed(NOW, "n-1");
        forged.insert("X-Signature", HeaderValue::from_static("00"));
        let forged = check.verify("POST", PATH, &forged, BODY, NOW);
        assert_eq!(code(forged), ErrorCode::BadSignature);
        let stale = check.verify("POST", PATH, &signed(NOW - 1000, "n-1"), BODY, NOW);
        assert_eq!(code(stale), ErrorCode::StaleTimestamp);
        // Otherwise anyone who saw a nonce could burn it before the real request arrived.
        assert!(
            check
                .verify("POST", PATH, &signed(NOW, "n-1"), BODY, NOW)
                .is_ok()
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_bad_signatures() {
        let check = check();
        for name in ["X-App-Key", "X-Timestamp", "X-Nonce", "X-Signature"] {
            let mut headers = signed(NOW, "n-1");
            headers.remove(name);
            let error = check.verify("POST", PATH, &headers, BODY, NOW).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadSignature, "without {name}");
            assert!(error.message.contains(name), "{}", error.message);
        }
        let malformed = [
            ("X-Timestamp", "yesterday".to_owned()),
            ("X-Signature", "not hex".to_owned()),
            ("X-Nonce", "n".repeat(65)),
        ];
        for (name, value) in malformed {
            let mut headers = signed(NOW, "n-1");
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
            let result = check.verify("POST", PATH, &headers, BODY, NOW);
            assert_eq!(code(result), ErrorCode::BadSignature, "{name}: {value}");
        }
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        let check = check();
        // An unknown app is named as such, whatever else is wrong.
        let mut unknown = signed(NOW - 1000, "n-1");
        unknown.insert("X-App-Key", HeaderValue::from_static("nobody"));
        unknown.insert("X-Signature", HeaderValue::from_static("00"));
        let result = check.verify("POST", PATH, &unknown, BODY, NOW);
        assert_eq!(code(result), ErrorCode::UnknownApp);
        // The signature is checked before the clock: a forged stale request is a bad signature.
        let mut forged = signed(NOW - 1000, "n-1");
        forged.insert("X-Signature", HeaderValue::from_static("00"));
        let result = check.verify("POST", PATH, &forged, BODY, NOW);
        assert_eq!(code(result), ErrorCode::BadSignature);
        // The clock before the nonce: a stale replay is stale.
        assert!(
            check
                .verify("POST", PATH, &signed(NOW, "n-2"), BODY, NOW)
                .is_ok()
        );
        let result = check.verify("POST", PATH, &signed(NOW, "n-2"), BODY, NOW + 1000);
        assert_eq!(code(result), ErrorCode::StaleTimestamp);
    }
}
