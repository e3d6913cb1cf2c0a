//! A group operation body (`{"op": ...}`). Decoding it never panics and what decodes becomes a
//! domain command; the same operation decodes alike (same op, or a refusal with the same code)
//! as a client REST body, inside a WebSocket `group` frame and inside a server-API body, so the
//! three entry points accept one language.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use tidings_api::group_ops::GroupOp;
use tidings_api::http::ServerGroupOp;
use tidings_api::json::rejection_error;
use tidings_domain::group::GroupCommand;
use tidings_gateway::frames::{ClientFrame, decode_text};

fuzz_target!(|data: &[u8]| {
    if let Ok(op) = serde_json::from_slice::<GroupOp>(data) {
        let _command: GroupCommand = op.into();
    }
    // Compare the three on the text of one JSON value, so that all see each key once.
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let text = serde_json::to_string(&map).expect("values encode");
    let direct =
        serde_json::from_str::<GroupOp>(&text).map_err(|e| rejection_error(&e.to_string()).code);
    if !["t", "id", "group"].iter().any(|k| map.contains_key(*k)) {
        let frame = wrapped(&map, [("t", "group"), ("group", "g1")]);
        let frame = match decode_text(&frame) {
            Ok(ClientFrame::Group { op, .. }) => Ok(op),
            Ok(other) => panic!("a group frame read as {other:?}"),
            Err(bad) => Err(bad.error.code),
        };
        assert_eq!(format!("{direct:?}"), format!("{frame:?}"));
    }
    if !map.contains_key("actor") {
        let body = wrapped(&map, [("actor", "alice")]);
        let server = serde_json::from_str::<ServerGroupOp>(&body)
            .map_err(|e| rejection_error(&e.to_string()).code);
        assert_eq!(direct.as_ref().err(), server.as_ref().err(), "{server:?}");
    }
});

/// The op's fields with `extra` added, as JSON text.
fn wrapped<const N: usize>(op: &Map<String, Value>, extra: [(&str, &str); N]) -> String {
    let mut map = op.clone();
    for (k, v) in extra {
        map.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    serde_json::to_string(&map).expect("values encode")
}
