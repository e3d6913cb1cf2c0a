//! Frozen wire structs, one file per event type, or per family of types that share one struct
//! and tell their change apart by the type header (user profiles, pair changes, group changes).
//! Each file holds every version of its struct, the upgrades into the domain event, `encode`
//! (the current version) and its registry `ENTRIES`. Never edit a published version: add a new
//! struct, an upgrade from the previous one and an entry.

pub mod app_changed;
pub mod broadcast_sent;
pub mod conversation_cleared;
pub mod conversation_read;
pub mod conversation_settings_changed;
pub mod device_changed;
pub mod group_changed;
pub mod message_edited;
pub mod message_hidden;
pub mod message_recalled;
pub mod message_sent;
pub mod pair_changed;
pub mod parts;
pub mod pin;
pub mod push_settings_changed;
pub mod reaction;
pub mod service_message_sent;
pub mod service_roster_changed;
pub mod service_session_changed;
pub mod system_message_sent;
pub mod user_deactivated;
pub mod user_profile;
pub mod user_tags_changed;
pub mod user_tokens_revoked;
