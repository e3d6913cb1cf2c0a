//! `connections`: opens K idle, authenticated WebSocket connections (each its own user, source
//! addresses spread over 127.0.0.0/8 to get past one address's ephemeral ports), holds them with
//! heartbeats, and reports handshakes per second and the gateway's resident memory per
//! connection (from /proc of the server process).

use crate::server::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// Options of `tidings-bench connections`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 15_000)]
    count: usize,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    server_pid: u32,
    /// Seconds to hold the connections (with a ping every 20 s) before measuring.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Names the users (`cx<run-id>u<i>`); default: a new id per run. A second run with the same
    /// id reconnects users whose device is already recorded, so it measures sessions alone
    /// (no device registration, no new user state in the caches or the store).
    #[arg(long)]
    run_id: Option<u64>,
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for pid {pid}"))
}

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

pub(crate) async fn open(
    server: SocketAddr,
    host: &str,
    token: &str,
    source: u32,
) -> anyhow::Result<Ws> {
    // 127.0.0.1 .. 127.0.0.250: each source address has its own ephemeral ports.
    let source_ip = Ipv4Addr::new(127, 0, 0, 1 + (source % 250) as u8);
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::V4(SocketAddrV4::new(source_ip, 0)))?;
    let tcp = socket.connect(server).await?;
    tcp.set_nodelay(true)?;
    let url = format!("ws://{host}/v1/ws?token={token}");
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, tcp, Some(crate::ws_client::config()))
            .await?;
    crate::ws_client::hello(&mut ws).await?;
    Ok(ws)
}

/// Runs the connections benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    let host = args.server.url.trim_start_matches("http://").to_owned();
    let server: SocketAddr = tokio::net::lookup_host(&host)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))?;
    println!(
        "connections: url={} count={} hold={}s",
        args.server.url, args.count, args.hold
    );
    let run_id = match args.run_id {
        Some(id) => id,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    };
    let mut tokens = Vec::with_capacity(args.count);
    for chunk in (0..args.count).collect::<Vec<_>>().chunks(100) {
        let minted = futures_util::future::join_all(chunk.iter().map(|i| {
            let (api, user) = (&api, format!("cx{run_id}u{i}"));
            async move { api.user_token(&user).await }
        }))
        .await;
        tokens.extend(minted);
    }
    let before = rss_kib(args.server_pid)?;
    let started = Instant::now();
    let opened: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| open(server, &host, token, i as u32))
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let handshake_secs = started.elapsed().as_secs_f64();
    let mut connections = Vec::with_capacity(opened.len());
    let mut failed = 0;
    for result in opened {
        match result {
            Ok(ws) => connections.push(ws),
            Err(_) => failed += 1,
        }
    }
    let held = connections.len();
    let per_sec = held as f64 / handshake_secs;
    println!(
        "  opened {held} ({failed} failed) in {handshake_secs:.1} s: {per_sec:.0} handshakes/s"
    );
    // Hold them: pings keep the gateway's idle timer from closing them.
    let deadline = Instant::now() + Duration::from_secs(args.hold);
    while Instant::now() < deadline {
        for ws in &mut connections {
            ws.send(Message::Text(r#"{"t":"ping"}"#.into())).await?;
        }
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(20));
        tokio::time::sleep(wait).await;
    }
    let after = rss_kib(args.server_pid)?;
    let per_connection = (after.saturating_sub(before)) as f64 / held.max(1) as f64;
    println!("  server RSS {before} KiB -> {after} KiB: {per_connection:.1} KiB per connection");
    println!(
        "{}",
        json!({"bench": "connections", "opened": held, "failed": failed,
               "handshakes_per_sec": per_sec, "rss_before_kib": before, "rss_after_kib": after,
               "kib_per_connection": per_connection})
    );
    Ok(())
}
