//! Local stand-ins for the push providers, each checking every request against the provider's
//! documented format and recording what it saw: the app server's webhook (verified with the
//! server API's own signature check), APNs (HTTP/2, provider-token auth, headers, `aps`
//! payload) and FCM HTTP v1 (service-account JWT exchange, bearer token, `messages:send`).
//! They prove the requests are well formed to these checks, not that Apple or Google accept
//! them. The keys under `fixtures/push/` were generated for these tests only.

use crate::tls::TestListener;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tidings_api::apps::Apps;
use tidings_api::signature::{SignatureCheck, SignedRequest};
use tidings_domain::AppId;

pub const APNS_KEY: &str = include_str!("fixtures/push/apns_test_key.p8");
const APNS_PUBLIC: &str = include_str!("fixtures/push/apns_test_key.pub.b64");
pub const FCM_KEY: &str = include_str!("fixtures/push/fcm_test_key.pem");
const FCM_PUBLIC: &str = include_str!("fixtures/push/fcm_test_key.pub.b64");

pub const TEAM_ID: &str = "TEAMID1234";
pub const KEY_ID: &str = "KEYID56789";
pub const TOPIC: &str = "com.example.chat";
pub const PROJECT: &str = "tidings-test";
pub const CLIENT_EMAIL: &str = "push@tidings-test.iam.gserviceaccount.com";
const ACCESS_TOKEN: &str = "ya29.local-test-token";

/// One request a local provider received: what it carried and what its checks found wrong.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub problems: Vec<String>,
}

/// Requests received, shared with the test.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn add(&self, seen: Seen) -> Response {
        let ok = seen.problems.is_empty();
        let problems = seen.problems.join("; ");
        self.0.lock().unwrap().push(seen);
        if ok {
            StatusCode::OK.into_response()
        } else {
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "reason": problems })),
            )
                .into_response()
        }
    }
}

/// Serves `router` on a free local port (HTTP/1.1 and HTTP/2 prior knowledge; over TLS with
/// HTTP/2 by ALPN when `tls`); its base URL.
async fn serve(router: Router, tls: bool) -> String {
    let listener = TestListener::bind(tls).await;
    let base = listener.base();
    listener.serve(router);
    base
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The app server's webhook: accepts a POST to `/push` signed with `secret` for `app`.
pub async fn webhook(app: &str, secret: &str) -> (String, Log) {
    let log = Log::default();
    let check = SignatureCheck::new(Apps::new(&[]).unwrap());
    let state = (log.clone(), check, app.to_owned(), secret.to_owned());
    let router = Router::new()
        .route(
            "/push",
            post(
                |State((log, check, app, secret)): State<(Log, SignatureCheck, String, String)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let mut problems = Vec::new();
                    let request = SignedRequest {
                        method: "POST",
                        path_and_query: "/push",
                        headers: &headers,
                        body: &body,
                    };
                    let now = chrono_now();
                    let app_id = AppId::parse(app.clone()).unwrap();
                    if let Err(e) = check.verify_with(&app_id, &[secret.as_str()], &request, now) {
                        problems.push(format!("signature: {e:?}"));
                    }
                    if header(&headers, "X-App-Key") != Some(app.as_str()) {
                        problems.push("X-App-Key".into());
                    }
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    log.add(Seen {
                        path: "/push".into(),
                        headers,
                        body,
                        problems,
                    })
                },
            ),
        )
        .with_state(state);
    (format!("{}/push", serve(router, false).await), log)
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// APNs (`POST /3/device/<token>` over HTTP/2): checks the provider token (ES256 signed by the
/// test key, `kid`, `iss` = team id, `iat` within the hour), `apns-topic`, `apns-push-type`,
/// `apns-collapse-id` (at most 64 bytes), `apns-priority`, and an `aps` JSON payload of at most
/// 4 KiB with an alert and a numeric badge. Over TLS when `tls`.
pub async fn apns(tls: bool) -> (String, Log) {
    let log = Log::default();
    let router = Router::new()
        .route(
            "/3/device/{token}",
            post(
                |State(log): State<Log>,
                 Path(token): Path<String>,
                 request: axum::extract::Request| async move {
                    let (parts, body) = request.into_parts();
                    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                    let headers = parts.headers;
                    let mut problems = Vec::new();
                    if parts.version != Version::HTTP_2 {
                        problems.push(format!("APNs speaks HTTP/2 only, got {:?}", parts.version));
                    }
                    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                        problems.push("BadDeviceToken".into());
                    }
                    match header(&headers, "authorization").and_then(|a| a.strip_prefix("bearer "))
                    {
                        None => problems.push("MissingProviderToken".into()),
                        Some(jwt) => problems.extend(check_provider_token(jwt)),
                    }
                    if header(&headers, "apns-topic") != Some(TOPIC) {
                        problems.push("BadTopic".into());
                    }
                    if !matches!(
                        header(&headers, "apns-push-type"),
                        Some("alert" | "background")
                    ) {
                        problems.push("InvalidPushType".into());
                    }
                    if !matches!(header(&headers, "apns-priority"), Some("10" | "5" | "1")) {
                        problems.push("BadPriority".into());
                    }
                    match header(&headers, "apns-collapse-id") {
                        Some(id) if !id.is_empty() && id.len() <= 64 => {}
                        _ => problems.push("BadCollapseId".into()),
                    }
                    if body.len() > 4096 {
                        problems.push("PayloadTooLarge".into());
                    }
                    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let aps = &payload["aps"];
                    if !aps.is_object() || !aps["alert"].is_object() || !aps["badge"].is_u64() {
                        problems.push("PayloadEmpty".into());
                    }
                    log.add(Seen {
                        path: format!("/3/device/{token}"),
                        headers,
                        body: payload,
                        problems,
                    })
                },
            ),
        )
        .with_state(log.clone());
    (serve(router, tls).await, log)
}

fn check_provider_token(jwt: &str) -> Vec<String> {
    let mut problems = Vec::new();
    match jsonwebtoken::decode_header(jwt) {
        Ok(h) if h.alg == Algorithm::ES256 && h.kid.as_deref() == Some(KEY_ID) => {}
        Ok(h) => problems.push(format!("InvalidProviderToken: header {h:?}")),
        Err(e) => problems.push(format!("InvalidProviderToken: {e}")),
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims = ["iss".to_owned()].into();
    validation.validate_exp = false;
    validation.set_issuer(&[TEAM_ID]);
    let key = DecodingKey::from_ec_der(&b64(APNS_PUBLIC));
    match jsonwebtoken::decode::<Value>(jwt, &key, &validation) {
        Ok(data) => {
            let iat = data.claims["iat"].as_i64().unwrap_or(0);
            if (chrono_now() - iat).abs() > 3600 {
                problems.push("ExpiredProviderToken".into());
            }
        }
        Err(e) => problems.push(format!("InvalidProviderToken: {e}")),
    }
    problems
}

/// Google's token endpoint (`POST /token`, form-encoded JWT-bearer grant; the assertion RS256
/// signed by the test key with `iss` = client email, `aud` = this URI, the FCM scope, at most
/// an hour long) and FCM HTTP v1 (`POST /v1/projects/<id>/messages:send` with the issued bearer
/// token and a `message` naming a token, with string data values). Returns the base URL, the
/// token exchanges and the sends. Over TLS when `tls`.
pub async fn fcm(tls: bool) -> (String, Log, Log) {
    let (tokens, sends) = (Log::default(), Log::default());
    let listener = TestListener::bind(tls).await;
    let base = listener.base();
    let token_uri = format!("{base}/token");
    let router = Router::new()
        .route(
            "/token",
            post(
                |State((log, aud)): State<(Log, String)>, headers: HeaderMap, body: Bytes| async move {
                    let mut problems = Vec::new();
                    if header(&headers, "content-type") != Some("application/x-www-form-urlencoded") {
                        problems.push("content-type".into());
                    }
                    let form = String::from_utf8_lossy(&body).to_string();
                    let field = |name: &str| {
                        form.split('&')
                            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                            .map(|v| v.replace("%3A", ":"))
                    };
                    if field("grant_type").as_deref()
                        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                    {
                        problems.push("unsupported_grant_type".into());
                    }
                    match field("assertion") {
                        None => problems.push("invalid_request: no assertion".into()),
                        Some(jwt) => problems.extend(check_assertion(&jwt, &aud)),
                    }
                    let ok = problems.is_empty();
                    let seen = Seen {
                        path: "/token".into(),
                        headers,
                        body: json!(form),
                        problems,
                    };
                    if ok {
                        log.0.lock().unwrap().push(seen);
                        axum::Json(json!({
                            "access_token": ACCESS_TOKEN,
                            "expires_in": 3599,
                            "token_type": "Bearer",
                        }))
                        .into_response()
                    } else {
                        log.add(seen)
                    }
                },
            ),
        )
        .with_state((tokens.clone(), token_uri))
        .merge(
            Router::new()
                .route(
                    "/v1/projects/{project}/{method}",
                    post(
                        |State(log): State<Log>,
                         Path((project, method)): Path<(String, String)>,
                         headers: HeaderMap,
                         body: Bytes| async move {
                            let mut problems = Vec::new();
                            let send = format!("{project}/{method}");
                            if project != PROJECT || method != "messages:send" {
                                problems.push(format!("unknown method {send}"));
                            }
                            if header(&headers, "authorization")
                                != Some(&format!("Bearer {ACCESS_TOKEN}"))
                            {
                                problems.push("UNAUTHENTICATED".into());
                            }
                            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let message = &body["message"];
                            if !message["token"].is_string() {
                                problems.push("INVALID_ARGUMENT: message.token".into());
                            }
                            let data_strings = message["data"]
                                .as_object()
                                .is_some_and(|d| d.values().all(Value::is_string));
                            if !data_strings {
                                problems.push("INVALID_ARGUMENT: data values must be strings".into());
                            }
                            if !message["android"]["collapse_key"].is_string() {
                                problems.push("collapse_key".into());
                            }
                            log.add(Seen {
                                path: format!("/v1/projects/{send}"),
                                headers,
                                body,
                                problems,
                            })
                        },
                    ),
                )
                .with_state(sends.clone()),
        );
    listener.serve(router);
    (base, tokens, sends)
}

fn check_assertion(jwt: &str, aud: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_audience(&[aud]);
    let key = DecodingKey::from_rsa_der(&b64(FCM_PUBLIC));
    match jsonwebtoken::decode::<Value>(jwt, &key, &validation) {
        Ok(data) => {
            let claims = data.claims;
            let scope = claims["scope"].as_str().unwrap_or_default();
            if !scope
                .split(' ')
                .any(|s| s == "https://www.googleapis.com/auth/firebase.messaging")
            {
                problems.push("invalid_scope".into());
            }
            let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
            if !matches!((iat, exp), (Some(i), Some(e)) if e > i && e - i <= 3600) {
                problems.push("invalid_grant: iat/exp".into());
            }
        }
        Err(e) => problems.push(format!("invalid_grant: {e}")),
    }
    problems
}
