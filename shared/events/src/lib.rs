//! How Tidings' events travel: NATS subjects and headers, the frozen wire struct of every
//! (event type, version) and the registry listing them, the MessagePack codec that upgrades them
//! into domain events, and the JetStream definitions under `nats/`. It depends on the domain
//! only, never on a store.

pub mod codec;
pub mod control;
pub mod definitions;
pub mod envelope;
pub mod headers;
pub mod registry;
mod sample;
pub mod subjects;
pub mod wire;

pub use codec::{DecodeError, Encoded, decode, encode};
pub use envelope::Envelope;
