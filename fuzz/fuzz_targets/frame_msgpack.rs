//! A WebSocket binary (MessagePack) frame: `decode_binary` never panics, refuses only with a
//! 400 code naming the frame's `id`, and reads the same frame as `decode_text` does from the
//! same value written as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tidings_fuzz::{assert_same_outcome, check_frame};
use tidings_gateway::frames::{decode_binary, decode_text};

fuzz_target!(|data: &[u8]| {
    let outcome = decode_binary(data);
    let value: Option<Value> = rmp_serde::from_slice(data).ok();
    check_frame(&outcome, value.as_ref());
    let Some(value) = value else {
        return;
    };
    let text = serde_json::to_string(&value).expect("values encode");
    // serde_json refuses nesting deeper than 128 where MessagePack allows more; such a value
    // has no JSON twin to compare with.
    if serde_json::from_str::<Value>(&text).is_ok() {
        assert_same_outcome(&outcome, &decode_text(&text));
    }
});
