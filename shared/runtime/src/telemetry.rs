//! Logging setup.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `TIDINGS_LOG` (or `RUST_LOG`) filters, default `info`.
pub fn init() {
    let filter = std::env::var("TIDINGS_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,async_nats=warn,fjall=warn,lsm_tree=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}
