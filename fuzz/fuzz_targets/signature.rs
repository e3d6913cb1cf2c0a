//! The server API's signature check against a model of docs/protocol.md's signing section.
//! Input: lines `METHOD`, `PATH?QUERY`, then the `X-App-Key`, `X-Timestamp`, `X-Nonce` and
//! `X-Signature` header values (`-`: header absent; a signature of `*` is replaced by the
//! right one, so the fuzzer reaches the clock and nonce checks), then the body. `verify`
//! never panics, refuses exactly when and with the code the model says, accepts a request
//! only when its HMAC is right, and refuses the same request again as a replayed nonce.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use tidings_api::apps::{
    AppConfig, Apps, DEFAULT_EDIT_WINDOW_SECS, DEFAULT_FILE_CAP, DEFAULT_GROUP_CAP,
    DEFAULT_RECALL_WINDOW_SECS,
};
use tidings_api::error::ErrorCode;
use tidings_api::signature::{SignatureCheck, WINDOW_SECS};
use tidings_domain::AppId;

const NOW: i64 = 1_700_000_000;
const NAMES: [&str; 4] = ["x-app-key", "x-timestamp", "x-nonce", "x-signature"];

fn apps() -> Apps {
    let app = |key: &str, secret: &str| AppConfig {
        key: key.into(),
        secret: secret.into(),
        messaging: Default::default(),
        max_group_members: DEFAULT_GROUP_CAP,
        max_file_bytes: DEFAULT_FILE_CAP,
        max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
        reaction_keys: Vec::new(),
        recall_window_secs: DEFAULT_RECALL_WINDOW_SECS,
        edit_window_secs: DEFAULT_EDIT_WINDOW_SECS,
    };
    Apps::new(&[
        app("demo", "0123456789abcdef0123"),
        app("other", "fedcba9876543210fedcba"),
    ])
    .expect("valid apps")
}

fn hmac_hex(secret: &str, canonical: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The documented checks, in the documented order.
fn model(
    apps: &Apps,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ErrorCode> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = header("X-App-Key").ok_or(ErrorCode::BadSignature)?;
    let app = AppId::parse(key).map_err(|_| ErrorCode::UnknownApp)?;
    let secret = apps.secret(&app).ok_or(ErrorCode::UnknownApp)?;
    let ts_text = header("X-Timestamp").ok_or(ErrorCode::BadSignature)?;
    let ts: i64 = ts_text.parse().map_err(|_| ErrorCode::BadSignature)?;
    let nonce = header("X-Nonce").ok_or(ErrorCode::BadSignature)?;
    if !(1..=64).contains(&nonce.len()) {
        return Err(ErrorCode::BadSignature);
    }
    let given = header("X-Signature").ok_or(ErrorCode::BadSignature)?;
    let given = hex::decode(given).map_err(|_| ErrorCode::BadSignature)?;
    let canonical = format!(
        "{method}\n{path}\n{ts_text}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    if hex::encode(given) != hmac_hex(secret, &canonical) {
        return Err(ErrorCode::BadSignature);
    }
    if (NOW - ts).abs() > WINDOW_SECS {
        return Err(ErrorCode::StaleTimestamp);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(7, |&b| b == b'\n');
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(method), Ok(path)) = (std::str::from_utf8(method), std::str::from_utf8(path)) else {
        return;
    };
    let values: Vec<&[u8]> = (&mut parts).take(4).collect();
    if values.len() < 4 {
        return;
    }
    let body = parts.next().unwrap_or_default();
    let apps = apps();
    let mut headers = HeaderMap::new();
    for (name, value) in NAMES.into_iter().zip(&values) {
        if *value == b"-" {
            continue;
        }
        let value = if name == "x-signature" && *value == b"*" {
            // The right signature, when the other headers let one be computed.
            let header = |n: &str| headers.get(n).and_then(|v: &HeaderValue| v.to_str().ok());
            let secret = header("X-App-Key")
                .and_then(|k| AppId::parse(k).ok())
                .and_then(|app| apps.secret(&app).map(str::to_owned));
            match (secret, header("X-Timestamp"), header("X-Nonce")) {
                (Some(secret), Some(ts), Some(nonce)) => {
                    let canonical = format!(
                        "{method}\n{path}\n{ts}\n{nonce}\n{}",
                        hex::encode(Sha256::digest(body))
                    );
                    hmac_hex(&secret, &canonical).into_bytes()
                }
                _ => value.to_vec(),
            }
        } else {
            value.to_vec()
        };
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let check = SignatureCheck::new(apps.clone());
    let expected = model(&apps, method, path, &headers, body);
    let got = check.verify(method, path, &headers, body, NOW);
    match (&got, expected) {
        (Ok(app), Ok(())) => {
            assert_eq!(
                Some(app.as_str()),
                headers.get("X-App-Key").and_then(|v| v.to_str().ok())
            );
            let again = check.verify(method, path, &headers, body, NOW);
            assert_eq!(again.map_err(|e| e.code), Err(ErrorCode::ReplayedNonce));
        }
        (Err(e), Err(code)) => assert_eq!(e.code, code, "{}", e.message),
        (got, expected) => panic!("verify gave {got:?}, the model {expected:?}"),
    }
});
