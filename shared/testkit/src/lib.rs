//! Test and benchmark support for Tidings: a real `nats-server` per test on a free port with a
//! temporary store, a signed server-API client, and a WebSocket client. Used by tests and the
//! bench tool only; it must not depend on the services (their tests depend on it).

pub mod cluster;
pub mod nats;
pub mod server_api;
pub mod ws;

pub use cluster::TestCluster;
pub use nats::TestNats;
pub use server_api::{Reply, ServerApi};
pub use ws::WsClient;
