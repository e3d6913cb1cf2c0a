//! The `tidings` command: the all-in-one server (`up`), each service alone, replay and admin.
//! It wires the services together and owns no business logic.

pub mod apps;
pub mod chat;
pub mod config;
pub mod dev_app;
pub mod dev_token;
pub mod feed;
pub mod migrate;
pub mod ready;
pub mod replay;
pub mod up;
pub mod web_app;
