//! A WebSocket text frame: `decode_text` never panics, refuses only with a 400 code naming the
//! frame's `id`, and reads the same frame as `decode_binary` does from the same value sent as
//! MessagePack (clients of either encoding speak one protocol).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tidings_fuzz::{assert_same_outcome, check_frame};
use tidings_gateway::frames::{decode_binary, decode_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let outcome = decode_text(text);
    let value: Option<Value> = serde_json::from_str(text).ok();
    check_frame(&outcome, value.as_ref());
    if let Some(value) = value {
        let packed = rmp_serde::to_vec_named(&value).expect("JSON values encode");
        assert_same_outcome(&outcome, &decode_binary(&packed));
    }
});
