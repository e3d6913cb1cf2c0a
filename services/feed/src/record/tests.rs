//! Every event type's record against `schemas/feed/v1/` and its golden sample: regenerate the
//! samples after a deliberate change with `TIDINGS_BLESS=1 cargo test -p tidings-feed`.

use super::*;
use std::collections::BTreeMap;
use tidings_events::registry;

fn schema_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/feed/v1")
}

/// The record of each event type's newest sample, by kind. One `event_seq` for all: a number
/// per sample would renumber the golden files whenever an event type is added.
fn sample_records() -> BTreeMap<String, Vec<Record>> {
    let mut newest: BTreeMap<&str, &registry::Entry> = BTreeMap::new();
    for entry in registry::entries() {
        let slot = newest.entry(entry.event_type).or_insert(entry);
        if entry.version > slot.version {
            *slot = entry;
        }
    }
    let mut by_kind: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for entry in newest.values() {
        if let Some(r) = record(42, &(entry.sample)()) {
            by_kind.entry(r.kind.clone()).or_default().push(r);
        }
    }
    by_kind
}

#[test]
fn every_kind_has_records_that_match_its_schema_and_golden_sample() {
    let by_kind = sample_records();
    assert_eq!(
        by_kind.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut kinds = KINDS.to_vec();
            kinds.sort_unstable();
            kinds
        },
        "every kind has a sample"
    );
    let bless = std::env::var("TIDINGS_BLESS").is_ok();
    for (kind, records) in &by_kind {
        let path = schema_dir().join(format!("{kind}.schema.json"));
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let types: Vec<&str> = schema["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        for r in records {
            let value = serde_json::to_value(r).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{value} against {kind}: {errors:?}");
            assert!(
                types.contains(&r.record_type.as_str()),
                "{kind} lacks {}",
                r.record_type
            );
        }
        assert_eq!(
            types.len(),
            records.len(),
            "{kind}: a schema type without a sample"
        );
        let golden = schema_dir().join(format!("{kind}.golden.json"));
        let text = serde_json::to_string_pretty(records).unwrap() + "\n";
        if bless {
            std::fs::write(&golden, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (TIDINGS_BLESS=1 writes it)", golden.display()));
        assert_eq!(stored, text, "{} differs from the code", golden.display());
        let parsed: Vec<Record> = serde_json::from_str(&stored).unwrap();
        assert_eq!(&parsed, records);
    }
}

#[test]
fn private_events_make_no_record() {
    for entry in registry::entries() {
        let event = (entry.sample)();
        let public = record(1, &event).is_some();
        let private = matches!(
            event,
            Event::ConversationRead(_)
                | Event::MessageHidden(_)
                | Event::ConversationCleared(_)
                | Event::ConversationSettingsChanged(_)
                | Event::AppChanged(_)
                | Event::UserTokensRevoked(_)
                | Event::ReactionAdded(_)
                | Event::ReactionRemoved(_)
                | Event::MessagePinned(_)
                | Event::MessageUnpinned(_)
                | Event::DeviceRegistered(_)
                | Event::DeviceSignedOut(_)
                | Event::PushSettingsChanged(_)
                | Event::UserTagsChanged(_)
                // Not in feed v1 yet: customer-service traffic and broadcasts.
                | Event::ServiceRosterChanged(_)
                | Event::ServiceSessionChanged(_)
                | Event::ServiceMessageSent(_)
                | Event::BroadcastSent(_)
        );
        assert_ne!(public, private, "{}", entry.event_type);
    }
}
