//! Frozen wire structs: one per (event type, version). Never edit a published version; add a
//! new one and an upgrade into the domain type instead.

pub mod v1;
pub mod v2;
