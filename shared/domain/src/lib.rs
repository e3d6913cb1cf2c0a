//! Tidings' domain: identifiers, commands, events and the aggregates (`Aggregate`: a pure
//! `decide` and `apply` each). It owns the business rules and must not depend on tokio, NATS or
//! a database.

pub mod aggregate;
pub mod app;
pub mod body;
pub mod broadcast;
pub mod conv;
pub mod device;
pub mod error;
pub mod event;
pub mod feed_webhook;
pub mod group;
pub mod hook;
pub mod ids;
pub mod login;
pub mod membership;
pub mod pair;
pub mod presence_policy;
pub mod push;
pub mod push_app;
pub mod reads;
pub mod service;
pub mod settings;
pub mod system;
pub mod tags;
pub mod user;

pub use aggregate::{Aggregate, Snapshotted};
pub use body::{Attachment, Body, BodyKind, BodyLimits};
pub use error::DomainError;
pub use event::Event;
pub use ids::{
    AppId, ClientMsgId, ConvId, DeviceId, FileId, GroupId, IdError, MessageId, Recipient, Tag,
    UserId,
};
