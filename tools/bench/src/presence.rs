//! `presence`: one user watched by N connected subscribers (`presence_subscribe`) comes online
//! and goes offline R times; per transition, the time from the watched user's `hello` (or
//! close) until each subscriber's `presence` frame, and until the last subscriber's.

use crate::connections::{Ws, open};
use crate::server::Server;
use crate::summary::{histogram, latency_json};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Options of `tidings-bench presence`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Connected subscribers watching the one user.
    #[arg(long, default_value_t = 1_000)]
    subscribers: usize,
    /// Online/offline rounds.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
}

/// Reads one subscriber's frames until its watch is set up (the first presence frame), then
/// forwards each presence change with when it arrived; pings every 20 s keep it open.
async fn subscriber(
    mut ws: Ws,
    target: String,
    ready: mpsc::Sender<()>,
    out: mpsc::Sender<(bool, Instant)>,
) {
    let subscribe = json!({"t": "presence_subscribe", "users": [target]});
    if ws
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut first = true;
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if ws.send(Message::Text(r#"{"t":"ping"}"#.into())).await.is_err() { return; }
            }
            frame = ws.next() => {
                let Some(Ok(Message::Text(text))) = frame else {
                    if matches!(frame, None | Some(Err(_))) { return; }
                    continue;
                };
                let at = Instant::now();
                let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                if frame["t"] != "presence" { continue; }
                if first {
                    first = false;
                    let _ = ready.send(()).await;
                    continue;
                }
                let _ = out.send((frame["online"] == true, at)).await;
            }
        }
    }
}

/// Runs the presence fan-out benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    let host = args.server.url.trim_start_matches("http://").to_owned();
    let server: SocketAddr = tokio::net::lookup_host(&host)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))?;
    println!(
        "presence: url={} subscribers={} rounds={}",
        args.server.url, args.subscribers, args.rounds
    );
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let target = format!("px{run_id}t");
    let target_token = api.user_token(&target).await;
    let mut tokens = Vec::with_capacity(args.subscribers);
    for chunk in (0..args.subscribers).collect::<Vec<_>>().chunks(100) {
        let minted = futures_util::future::join_all(chunk.iter().map(|i| {
            let (api, user) = (&api, format!("px{run_id}s{i}"));
            async move { api.user_token(&user).await }
        }))
        .await;
        tokens.extend(minted);
    }
    let opened: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| open(server, &host, token, i as u32))
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let (ready_tx, mut ready_rx) = mpsc::channel(args.subscribers);
    let (changes_tx, mut changes) = mpsc::channel(args.subscribers * 2);
    let mut watching = 0;
    for ws in opened {
        let ws = ws?;
        tokio::spawn(subscriber(
            ws,
            target.clone(),
            ready_tx.clone(),
            changes_tx.clone(),
        ));
        watching += 1;
    }
    for _ in 0..watching {
        ready_rx
            .recv()
            .await
            .ok_or_else(|| anyhow::anyhow!("a subscriber ended"))?;
    }
    println!("  {watching} subscribers watching {target}");

    let (mut each, mut last) = (histogram(), histogram());
    // The watched user's socket: opened (through hello) to go online, closed to go offline.
    let mut socket: Option<Ws> = None;
    for round in 0..args.rounds {
        for online in [true, false] {
            let started = Instant::now();
            if online {
                socket = Some(open(server, &host, &target_token, 250 + round as u32).await?);
            } else if let Some(mut ws) = socket.take() {
                ws.close(None).await?;
            }
            let mut seen = 0;
            let mut slowest = Duration::ZERO;
            while seen < watching {
                let (state, at) = tokio::time::timeout(Duration::from_secs(60), changes.recv())
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("subscribers ended"))?;
                anyhow::ensure!(
                    state == online,
                    "a subscriber saw online={state}, expected {online}"
                );
                let took = at.saturating_duration_since(started);
                each.record(took.as_micros().max(1) as u64)?;
                slowest = slowest.max(took);
                seen += 1;
            }
            last.record(slowest.as_micros().max(1) as u64)?;
            println!("  round {round} online={online}: last subscriber after {slowest:?}");
        }
    }
    let report = json!({"bench": "presence", "subscribers": watching, "transitions": args.rounds * 2,
        "to_each_subscriber": latency_json(&each), "to_last_subscriber": latency_json(&last)});
    println!("{report}");
    Ok(())
}
