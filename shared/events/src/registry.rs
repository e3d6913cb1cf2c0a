//! The event registry: every (event type, version) the codec reads, with its decoder, JSON
//! schema and sample. Decoding, the known-types check and `schemas/` all come from this one
//! table; the type names are the constants of `tidings_domain::event::types`, and the entries
//! themselves sit beside their wire structs under `wire/`.

use crate::codec::DecodeError;
use crate::wire::{
    app_changed, conversation_cleared, conversation_read, conversation_settings_changed,
    device_changed, group_changed, message_edited, message_hidden, message_recalled, message_sent,
    pair_changed, pin, push_settings_changed, reaction, system_message_sent, user_deactivated,
    user_profile, user_tokens_revoked,
};
use crate::wire::{broadcast_sent, user_tags_changed};
use crate::wire::{service_message_sent, service_roster_changed, service_session_changed};
use schemars::{JsonSchema, Schema, schema_for};
use tidings_domain::Event;

/// One (event type, version) the codec reads.
pub struct Entry {
    pub event_type: &'static str,
    pub version: u32,
    /// Reads a payload of this type and version and upgrades it to the current domain event.
    pub decode: fn(&[u8]) -> Result<Event, DecodeError>,
    /// The wire struct's JSON schema, kept under `schemas/`.
    pub schema: fn() -> Schema,
    /// A representative event; its encoding is the golden sample.
    pub sample: fn() -> Event,
}

impl Entry {
    /// The file stem under `schemas/`, e.g. `message_sent.v1`.
    pub fn file_stem(&self) -> String {
        format!("{}.v{}", self.event_type, self.version)
    }
}

/// Every wire file's entries.
const TABLES: [&[Entry]; 23] = [
    user_profile::ENTRIES,
    user_deactivated::ENTRIES,
    user_tokens_revoked::ENTRIES,
    message_sent::ENTRIES,
    system_message_sent::ENTRIES,
    conversation_read::ENTRIES,
    message_hidden::ENTRIES,
    conversation_cleared::ENTRIES,
    conversation_settings_changed::ENTRIES,
    group_changed::ENTRIES,
    pair_changed::ENTRIES,
    app_changed::ENTRIES,
    message_recalled::ENTRIES,
    message_edited::ENTRIES,
    reaction::ENTRIES,
    pin::ENTRIES,
    device_changed::ENTRIES,
    service_roster_changed::ENTRIES,
    service_session_changed::ENTRIES,
    service_message_sent::ENTRIES,
    push_settings_changed::ENTRIES,
    user_tags_changed::ENTRIES,
    broadcast_sent::ENTRIES,
];

/// Every (type, version) the codec reads.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    TABLES.into_iter().flatten()
}

/// The entry of `event_type` at `version`, if the codec reads it.
pub fn find(event_type: &str, version: u32) -> Option<&'static Entry> {
    entries().find(|e| e.version == version && e.event_type == event_type)
}

/// Whether some version of `event_type` is registered.
pub fn is_known(event_type: &str) -> bool {
    entries().any(|e| e.event_type == event_type)
}

/// The JSON schema of a wire struct, as an entry's `schema`.
pub(crate) fn schema<T: JsonSchema>() -> Schema {
    schema_for!(T)
}

#[cfg(test)]
mod tests {
    //! `schemas/` must match the code: generate a new version's files with
    //! `TIDINGS_BLESS=1 cargo test -p tidings-events`.
    use super::*;
    use crate::codec;
    use std::collections::HashSet;
    use std::path::PathBuf;

    fn schemas_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
    }

    fn bless() -> bool {
        std::env::var_os("TIDINGS_BLESS").is_some()
    }

    #[test]
    fn each_type_and_version_is_registered_once() {
        let mut seen = HashSet::new();
        for entry in entries() {
            assert!(
                seen.insert((entry.event_type, entry.version)),
                "{} is registered twice",
                entry.file_stem()
            );
        }
    }

    #[test]
    fn every_sample_encodes_as_its_type_at_the_newest_version() {
        for entry in entries() {
            let encoded = codec::encode(&(entry.sample)());
            assert_eq!(
                encoded.event_type,
                entry.event_type,
                "{}",
                entry.file_stem()
            );
            let newest = entries()
                .filter(|e| e.event_type == entry.event_type)
                .map(|e| e.version)
                .max();
            assert_eq!(Some(encoded.version), newest, "{}", entry.file_stem());
        }
    }

    #[test]
    fn every_current_sample_round_trips() {
        for entry in entries() {
            let event = (entry.sample)();
            let encoded = codec::encode(&event);
            if encoded.version == entry.version {
                let back = codec::decode(encoded.event_type, encoded.version, &encoded.payload);
                assert_eq!(back.unwrap(), event, "{}", entry.file_stem());
            }
        }
    }

    #[test]
    fn schema_files_match_the_code() {
        let dir = schemas_dir();
        for entry in entries() {
            let path = dir.join(format!("{}.schema.json", entry.file_stem()));
            let generated = serde_json::to_string_pretty(&(entry.schema)()).unwrap() + "\n";
            if bless() {
                std::fs::write(&path, &generated).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run with TIDINGS_BLESS=1)", path.display()));
            assert_eq!(
                on_disk,
                generated,
                "{} is out of date with the code: a published version must not change; add a new version",
                path.display()
            );
        }
    }

    #[test]
    fn golden_samples_decode_to_their_events() {
        let dir = schemas_dir();
        for entry in entries() {
            let path = dir.join(format!("{}.golden.msgpack", entry.file_stem()));
            let sample = (entry.sample)();
            let encoded = codec::encode(&sample);
            if bless() && encoded.version == entry.version {
                std::fs::write(&path, &encoded.payload).unwrap();
            }
            let golden = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run with TIDINGS_BLESS=1)", path.display()));
            let decoded = codec::decode(entry.event_type, entry.version, &golden)
                .unwrap_or_else(|e| panic!("{} no longer decodes: {e}", path.display()));
            assert_eq!(decoded, sample, "{}", path.display());
        }
    }

    #[test]
    fn no_stale_files_in_schemas() {
        let known: Vec<String> = entries()
            .flat_map(|e| {
                let stem = e.file_stem();
                [
                    format!("{stem}.schema.json"),
                    format!("{stem}.golden.msgpack"),
                ]
            })
            .collect();
        for file in std::fs::read_dir(schemas_dir()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".schema.json") || name.ends_with(".golden.msgpack") {
                assert!(
                    known.contains(&name),
                    "schemas/{name} belongs to no event version"
                );
            }
        }
    }
}
