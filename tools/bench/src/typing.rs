//! `typing`: one sender in G groups with the same R connected members types in every group
//! every 2.5 s (the limit is one notice per conversation per 2 s; the margin keeps a backlog
//! from being throttled), for D
//! seconds; reports the typing frames the gateway relayed to the members per second.

use crate::connections::{Ws, open};
use crate::server::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Options of `tidings-bench typing`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Groups the sender types in.
    #[arg(long, default_value_t = 90)]
    groups: usize,
    /// Connected members of every group besides the sender.
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Seconds to type for.
    #[arg(long, default_value_t = 20)]
    duration: u64,
}

/// Counts the typing frames one member receives until its socket ends.
async fn member(mut ws: Ws, received: Arc<AtomicU64>) {
    while let Some(Ok(frame)) = ws.next().await {
        if let Message::Text(text) = frame
            && text.contains(r#""t":"typing""#)
        {
            received.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs the typing relay benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    let host = args.server.url.trim_start_matches("http://").to_owned();
    let server: SocketAddr = tokio::net::lookup_host(&host)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))?;
    println!(
        "typing: url={} groups={} members={} duration={}s",
        args.server.url, args.groups, args.members, args.duration
    );
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let sender = format!("ty{run_id}s");
    let sender_token = api.user_token(&sender).await;
    let names: Vec<String> = (0..args.members)
        .map(|i| format!("ty{run_id}m{i}"))
        .collect();
    let mut tokens = Vec::with_capacity(args.members);
    for chunk in names.chunks(100) {
        let minted = futures_util::future::join_all(chunk.iter().map(|u| api.user_token(u))).await;
        tokens.extend(minted);
    }
    let mut convs = Vec::with_capacity(args.groups);
    for g in 0..args.groups {
        let group = format!("ty{run_id}g{g}");
        let created = api
            .post_as(
                &sender_token,
                "/v1/groups",
                &json!({"group_id": group, "name": "typing", "members": names}),
            )
            .await;
        anyhow::ensure!(created.status == 200, "group: {:?}", created.body);
        convs.push(format!("g~{group}"));
    }
    let received = Arc::new(AtomicU64::new(0));
    let opened: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| open(server, &host, token, i as u32))
        .buffer_unordered(100)
        .collect()
        .await;
    for ws in opened {
        tokio::spawn(member(ws?, received.clone()));
    }
    let mut typist = open(server, &host, &sender_token, 249).await?;
    // Let the projector write the groups' members (typing checks them in the read model).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(2_500));
    while started.elapsed() < Duration::from_secs(args.duration) {
        tick.tick().await;
        for conv in &convs {
            let state = if sent.is_multiple_of(2) {
                "typing"
            } else {
                "paused"
            };
            let frame = json!({"t": "typing", "conv": conv, "state": state});
            typist.send(Message::Text(frame.to_string().into())).await?;
            sent += 1;
        }
    }
    // Frames still in flight at the end are counted once they arrive, within a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let relayed = received.load(Ordering::Relaxed) - before;
    let secs = started.elapsed().as_secs_f64();
    let expected = sent * args.members as u64;
    let per_sec = relayed as f64 / secs;
    println!(
        "  sent {sent} typing frames, members received {relayed} of {expected}: {per_sec:.0} relayed frames/s"
    );
    println!(
        "{}",
        json!({"bench": "typing", "sent": sent, "relayed": relayed, "expected": expected,
               "seconds": secs, "relayed_per_sec": per_sec})
    );
    Ok(())
}
