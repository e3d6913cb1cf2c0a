//! The accept loop of every Tidings HTTP listener: HTTP/1.1 with upgrades, TCP_NODELAY, a
//! deadline for each request head, a bound on connections still waiting for their first request
//! head (per source address and overall), and graceful shutdown.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Limits of an HTTP listener, and the trust of outbound HTTPS clients (the `[http]` section).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// A connection that has not sent a complete request head this long after it opened (or,
    /// kept alive, after its previous answer) is closed.
    pub header_read_timeout_ms: u64,
    /// Connections from one source (an IPv4 address, an IPv6 /64) that have not yet sent a
    /// complete request head; a connection over the bound is answered `429 rate_limited` and
    /// closed. A client opening many connections at once (an app server's pool) has them all
    /// unfinished for a moment, so this is well above any one client's burst.
    pub max_unfinished_per_ip: usize,
    /// The same bound over all addresses; over it, `503 unavailable`.
    pub max_unfinished: usize,
    /// A PEM file of CA certificates that outbound HTTPS calls (before-send hooks, feed
    /// webhooks, push providers) trust next to the OS store: a private CA, or a test's
    /// self-signed one. Read at start-up ([`crate::outbound::trust_extra_ca_file`]).
    pub extra_ca_file: Option<std::path::PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            max_unfinished_per_ip: 256,
            max_unfinished: 4096,
            extra_ca_file: None,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish the request it is serving, and returns once they are all closed.
/// Upgraded connections (WebSockets) are on their own tasks and are not waited for.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: HttpConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let unfinished = Arc::new(Unfinished::new(&config));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms));
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let slot = match Unfinished::admit(&unfinished, peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                refuse(tcp, refusal);
                continue;
            }
        };
        // Holds the slot until the first request head is complete (or the connection ends).
        let pending = Mutex::new(Some(slot));
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            drop(pending.lock().expect("not poisoned").take());
            let mut router = router.clone();
            tower_service::Service::call(&mut router, request)
        });
        let connection = builder
            .serve_connection(
                TokioIo::new(crate::parse_errors::JsonParseErrors::new(tcp)),
                service,
            )
            .with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "connection ended");
            }
        });
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// An accept error: a connection that died in the backlog is skipped; anything else (out of
/// file descriptors) is logged and retried after a pause, as hyper's own loop does.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Its address holds too many unfinished requests.
    PerAddress,
    /// The listener does.
    Overall,
}

/// Answers a refused connection with the protocol's error body, without waiting: the answer
/// is small enough for a fresh socket's send buffer, and a refused peer gets no task or timer.
fn refuse(tcp: TcpStream, refusal: Refusal) {
    let (status, body) = match refusal {
        Refusal::PerAddress => (
            "429 Too Many Requests",
            r#"{"code":"rate_limited","message":"too many unfinished requests from this address"}"#,
        ),
        Refusal::Overall => (
            "503 Service Unavailable",
            r#"{"code":"unavailable","message":"too many unfinished requests; try again"}"#,
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tracing::info!(?refusal, "connection refused");
    let _ = tcp.try_write(response.as_bytes());
}

/// Counts connections that have not yet sent a complete request head.
struct Unfinished {
    per_ip: usize,
    overall: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One unfinished connection's place in the counts; released on drop.
struct Slot {
    owner: Arc<Unfinished>,
    ip: IpAddr,
}

impl Unfinished {
    fn new(config: &HttpConfig) -> Self {
        Self {
            per_ip: config.max_unfinished_per_ip,
            overall: config.max_unfinished,
            counts: Mutex::default(),
        }
    }

    fn admit(this: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let ip = source(ip);
        let mut counts = this.counts.lock().expect("not poisoned");
        if counts.total >= this.overall {
            return Err(Refusal::Overall);
        }
        let mine = counts.by_ip.entry(ip).or_default();
        if *mine >= this.per_ip {
            return Err(Refusal::PerAddress);
        }
        *mine += 1;
        counts.total += 1;
        Ok(Slot {
            owner: this.clone(),
            ip,
        })
    }
}

/// The source a connection is counted against: an IPv4 address (however a dual-stack
/// listener writes it), or an IPv6 /64, the block one host is usually given.
fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts.lock().expect("not poisoned");
        counts.total -= 1;
        if let Some(n) = counts.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_connections_are_bounded_per_address_and_overall() {
        let unfinished = Arc::new(Unfinished::new(&HttpConfig {
            max_unfinished_per_ip: 2,
            max_unfinished: 3,
            ..HttpConfig::default()
        }));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let a6: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let b: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let b_too: IpAddr = "2001:db8:0:1:ffff::2".parse().unwrap();
        let first = Unfinished::admit(&unfinished, a).unwrap();
        let _second = Unfinished::admit(&unfinished, a6).unwrap();
        assert_eq!(
            Unfinished::admit(&unfinished, a).err(),
            Some(Refusal::PerAddress)
        );
        let _third = Unfinished::admit(&unfinished, b).unwrap();
        assert_eq!(
            Unfinished::admit(&unfinished, b_too).err(),
            Some(Refusal::Overall)
        );
        drop(first);
        let _again = Unfinished::admit(&unfinished, a).unwrap();
        assert_eq!(unfinished.counts.lock().unwrap().by_ip.len(), 2);
        assert_eq!(source(b), source(b_too));
        assert_ne!(source(b), source("2001:db8:0:2::1".parse().unwrap()));
    }
}
