//! Shutdown signals, and the bound on waits during shutdown.

use std::future::Future;
use std::time::Duration;

/// How long a process may take to stop after SIGINT or SIGTERM, whatever state NATS is in.
pub const GRACE: Duration = Duration::from_secs(10);

/// Awaits `work` for at most `limit`; past it, logs that `what` was abandoned and returns
/// `None`. Every wait on NATS during shutdown goes through a bound like this one: a dead or
/// frozen server never answers, and must not keep the process alive.
pub async fn bounded<T>(what: &str, limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(output) => Some(output),
        Err(_) => {
            tracing::warn!(?limit, "{what} did not finish in time; abandoned");
            None
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
