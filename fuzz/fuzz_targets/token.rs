//! User tokens. Input: a token as a client presents it. `Tokens::verify` never panics and
//! refuses only as `unauthorized`; what it accepts names a configured app. When the input is a
//! valid user id, a token minted for that user verifies as exactly that user, app and epoch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tidings_api::apps::{
    AppConfig, Apps, DEFAULT_EDIT_WINDOW_SECS, DEFAULT_FILE_CAP, DEFAULT_GROUP_CAP,
    DEFAULT_RECALL_WINDOW_SECS,
};
use tidings_api::error::ErrorCode;
use tidings_api::tokens::{MAX_TTL_SECS, Principal, Tokens};
use tidings_domain::{AppId, UserId};

static TOKENS: LazyLock<Tokens> = LazyLock::new(|| {
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
    Tokens::new(
        Apps::new(&[
            app("demo", "0123456789abcdef0123"),
            app("other", "fedcba9876543210fedc"),
        ])
        .expect("valid apps"),
    )
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match TOKENS.verify(text) {
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
        let principal = TOKENS.verify(&token).expect("a fresh token verifies");
        assert_eq!(principal, Principal { app, user, epoch });
    }
});

fn chrono_now() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    since_epoch.as_secs() as i64
}
