//! Process plumbing shared by every Tidings binary and the testkit: configuration loading,
//! telemetry (logs and Prometheus metrics), shutdown signals, the HTTP accept loop, the outbound HTTP(S) client builder, and finding and running a local
//! `nats-server`. It knows nothing of the domain.

pub mod config;
pub mod http;
pub mod metrics;
pub mod nats_server;
pub mod outbound;
pub mod parse_errors;
pub mod shutdown;
pub mod telemetry;
