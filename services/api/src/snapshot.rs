//! Aggregate snapshots in the `TIDINGS_SNAPSHOTS` KV bucket (`nats/kv/snapshots.json`): an
//! aggregate's state as MessagePack with the stream sequence of the last event it covers, so a
//! cold load reads the snapshot and then only the subject's events after it.
//!
//! Structs are encoded positionally (arrays, not maps with field names): a busy conversation's
//! state holds thousands of idempotency entries and message facts, and their field names were
//! a third of its snapshot's bytes. Positional encoding needs every field written (no
//! `skip_serializing_if` in a snapshotted state) and the same field order to read it back,
//! which `SNAPSHOT_FORMAT` guarantees: any change of the state's shape bumps it.
//!
//! A snapshot is only ever a shortcut. It is used when its format is the aggregate's current
//! `SNAPSHOT_FORMAT`, it was taken from this very stream (same creation time) and the subject
//! still reaches its sequence; otherwise, or when it is missing or unreadable, the subject is
//! folded from its first event. Writes are fire-and-forget: a lost or reordered write only
//! means a longer load.

use async_nats::jetstream::{self, kv};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tidings_domain::{AppId, Snapshotted};
use tidings_events::definitions;

/// Creates or updates the snapshot bucket. Safe to call from every process at every start.
pub async fn provision(js: &jetstream::Context, replicas: usize) -> anyhow::Result<kv::Store> {
    Ok(js
        .create_or_update_key_value(definitions::snapshots_bucket(replicas))
        .await?)
}

/// The key of one aggregate's snapshot: `<kind>.<app>.<id>`, with the `~` of conversation ids
/// (not a valid key character) as `=`, which no id contains.
pub fn key(kind: &str, app: &AppId, id: &str) -> String {
    format!("{kind}.{app}.{}", id.replace('~', "="))
}

/// Where a snapshot comes from: enough to tell whether it still describes the subject. It
/// decodes from a snapshot of any format, positional or (before) with field names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Header {
    format: u32,
    /// The events stream's creation time: a recreated stream reuses sequences.
    stream: String,
    /// Stream sequence of the last event the state covers.
    seq: u64,
    /// The state, skipped.
    #[serde(default, rename = "state")]
    _state: IgnoredAny,
}

/// A snapshot: the header's fields, then the state.
#[derive(Serialize)]
struct Encoding<'a, S> {
    format: u32,
    stream: &'a str,
    seq: u64,
    state: &'a S,
}

/// A snapshot of the current format, read for its state.
#[derive(Deserialize)]
struct Decoding<S> {
    _format: IgnoredAny,
    _stream: IgnoredAny,
    _seq: IgnoredAny,
    state: S,
}

/// Encodes and decodes one aggregate kind's snapshots for one stream.
#[derive(Clone)]
pub struct Codec {
    stream: String,
}

impl Codec {
    /// A codec for snapshots of the stream created at `stream_created`.
    pub fn new(stream_created: String) -> Self {
        Self {
            stream: stream_created,
        }
    }

    /// The snapshot of `state`, which covers the subject up to stream sequence `seq`.
    pub fn encode<S: Snapshotted>(&self, state: &S, seq: u64) -> Result<Vec<u8>, String> {
        let encoding = Encoding {
            format: S::SNAPSHOT_FORMAT,
            stream: &self.stream,
            seq,
            state,
        };
        rmp_serde::to_vec(&encoding).map_err(|e| e.to_string())
    }

    /// The state and sequence in `bytes`, or why they are not usable here.
    pub fn decode<S: Snapshotted>(&self, bytes: &[u8]) -> Result<(S, u64), String> {
        // The header first: a snapshot of another format may not decode as today's state.
        let header: Header = rmp_serde::from_slice(bytes).map_err(|e| e.to_string())?;
        if header.format != S::SNAPSHOT_FORMAT {
            return Err(format!(
                "format {} is not {}",
                header.format,
                S::SNAPSHOT_FORMAT
            ));
        }
        if header.stream != self.stream {
            return Err("taken from another incarnation of the stream".into());
        }
        let decoded: Decoding<S> = rmp_serde::from_slice(bytes).map_err(|e| e.to_string())?;
        Ok((decoded.state, header.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::reads::ReadState;

    #[test]
    fn keys_are_valid_and_distinct() {
        let app = AppId::parse("demo").unwrap();
        assert_eq!(key("conv", &app, "d~a~b"), "conv.demo.d=a=b");
        assert_ne!(key("conv", &app, "g~a"), key("reads", &app, "g~a"));
    }

    #[test]
    fn other_formats_and_streams_are_refused() {
        let codec = Codec::new("2026-01-01".into());
        let bytes = codec.encode(&ReadState::default(), 42).unwrap();
        assert_eq!(
            codec.decode::<ReadState>(&bytes),
            Ok((ReadState::default(), 42))
        );
        assert!(
            Codec::new("2026-01-02".into())
                .decode::<ReadState>(&bytes)
                .is_err()
        );
        let old = rmp_serde::to_vec_named(&Encoding {
            format: 0,
            stream: "2026-01-01",
            seq: 42,
            state: &"whatever it was then",
        })
        .unwrap();
        assert!(
            codec
                .decode::<ReadState>(&old)
                .unwrap_err()
                .contains("format")
        );
        assert!(codec.decode::<ReadState>(b"\xc1garbage").is_err());
    }
}
