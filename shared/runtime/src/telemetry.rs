//! Logging setup.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `TIDINGS_LOG` (or `RUST_LOG`) filters, default `info`;
/// `TIDINGS_LOG_FORMAT=json` writes one JSON object per line (for log shippers), anything else
/// human-readable lines.
pub fn init() {
    let filter = std::env::var("TIDINGS_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,async_nats=warn,fjall=warn,lsm_tree=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    let json = std::env::var("TIDINGS_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
}
