//! User tokens. Input: a token as a client presents it. `Tokens::verify` never panics and
//! refuses only as `unauthorized`; what it accepts names a configured app. When the input is a
//! valid user id, a token minted for that user verifies as exactly that user, app and epoch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tidings_api::apps::{AppConfig, Apps};
use tidings_api::error::ErrorCode;
use tidings_api::tokens::{MAX_TTL_SECS, Principal, Tokens};
use tidings_domain::{AppId, UserId};

static TOKENS: LazyLock<Tokens> = LazyLock::new(|| {
    Tokens::new(
        Apps::new(&[
            AppConfig::new("demo", "0123456789abcdef0123"),
            AppConfig::new("other", "fedcba9876543210fedc"),
        ])
        .expect("valid apps"),
    )
});

/// `verify` is async (a runtime app is read from NATS); configured apps never wait.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

fn verify(token: &str) -> Result<Principal, tidings_api::error::ApiError> {
    RUNTIME.block_on(TOKENS.verify(token))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match verify(text) {
        Ok(principal) => assert!(["demo", "other"].contains(&principal.app.as_str())),
        Err(e) => assert_eq!(e.code, ErrorCode::Unauthorized, "{}", e.message),
    }
    if let Ok(user) = UserId::parse(text) {
        let app = AppId::parse("demo").expect("valid");
        let epoch = u64::from_le_bytes(*b"tidings!") ^ data.len() as u64;
        let now = chrono_now();
        let (token, _) = TOKENS
            .mint(&app, &user, epoch, MAX_TTL_SECS, now)
            .expect("mints");
        let principal = verify(&token).expect("a fresh token verifies");
        assert_eq!((principal.app, principal.user), (app, user));
        assert_eq!(principal.epoch, epoch);
        assert_eq!(principal.issued_ms / 1000, now, "issued within its `iat` second");
    }
});

fn chrono_now() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    since_epoch.as_secs() as i64
}
