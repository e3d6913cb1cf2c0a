//! An event payload as read from the stream. Input: a `<event_type>.v<version>` line (the two
//! headers), then the MessagePack payload. `decode` never panics; an event it reads has the
//! type its header names, and encoding it at the current version and decoding that gives the
//! same event back (an upgrade loses nothing the current version can say).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_events::{DecodeError, codec, registry};

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(head) = std::str::from_utf8(&data[..newline]) else {
        return;
    };
    let Some((event_type, version)) = head.rsplit_once(".v") else {
        return;
    };
    let Ok(version) = version.parse::<u32>() else {
        return;
    };
    let payload = &data[newline + 1..];
    match codec::decode(event_type, version, payload) {
        Ok(event) => {
            assert!(registry::find(event_type, version).is_some());
            assert_eq!(event.event_type(), event_type);
            let encoded = codec::encode(&event);
            assert_eq!(encoded.event_type, event_type);
            let back = codec::decode(encoded.event_type, encoded.version, &encoded.payload)
                .unwrap_or_else(|e| panic!("{event:?} encodes to what does not decode: {e}"));
            assert_eq!(back, event);
        }
        Err(DecodeError::UnknownType(_)) => assert!(!registry::is_known(event_type)),
        Err(DecodeError::UnknownVersion { .. }) => {
            assert!(registry::is_known(event_type));
            assert!(registry::find(event_type, version).is_none());
        }
        Err(_) => assert!(registry::find(event_type, version).is_some()),
    }
});
