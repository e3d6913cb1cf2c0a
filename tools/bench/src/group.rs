//! `group`: one sender, a group of M connected members. Measures, per message, the time until
//! the last member has it (sent one at a time), then member deliveries per second with a
//! burst of messages. Members count a message on its `message` or `group_advanced` entry.

use crate::server::Server;
use crate::summary::{histogram, latency_json};
use crate::ws_client::connect;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Options of `tidings-bench group`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Members besides the sender, all connected.
    #[arg(long, default_value_t = 999)]
    members: usize,
    /// Messages sent one at a time (latency) and then in a burst (throughput).
    #[arg(long, default_value_t = 50)]
    messages: u64,
    /// The server's process id: its CPU time during the burst is reported per member
    /// delivery (everything on one box: the server's cost, apart from the setup's).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    t: &'a str,
    #[serde(default)]
    conv_seq: Option<u64>,
    #[serde(default)]
    kind: Option<&'a str>,
}

/// Per message (by conv_seq): members that have it, and when the last one got it (us).
struct Arrivals {
    base: Instant,
    counts: Vec<AtomicU64>,
    last_us: Vec<AtomicU64>,
}

impl Arrivals {
    fn record(&self, conv_seq: u64) {
        let i = conv_seq as usize;
        if let (Some(count), Some(last)) = (self.counts.get(i), self.last_us.get(i)) {
            last.fetch_max(self.base.elapsed().as_micros() as u64, Ordering::Relaxed);
            count.fetch_add(1, Ordering::Release);
        }
    }

    fn count(&self, conv_seq: u64) -> u64 {
        self.counts[conv_seq as usize].load(Ordering::Acquire)
    }
}

async fn wait_all(arrivals: &Arrivals, conv_seq: u64, members: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.count(conv_seq) < members {
        anyhow::ensure!(
            Instant::now() < deadline,
            "message {conv_seq} reached {} of {members} members in 30 s",
            arrivals.count(conv_seq)
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(())
}

/// Runs the group benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let group = format!("bg{run_id}");
    let owner = format!("{group}owner");
    let members: Vec<String> = (0..args.members).map(|i| format!("{group}m{i}")).collect();
    println!(
        "group: url={} members={} messages={}",
        args.server.url, args.members, args.messages
    );
    let owner_token = api.user_token(&owner).await;
    let mut tokens = Vec::new();
    for chunk in members.chunks(50) {
        let minted = futures_util::future::join_all(chunk.iter().map(|m| api.user_token(m))).await;
        tokens.extend(minted);
    }
    let r = api
        .post(
            &format!("/v1/server/groups/{group}/ops"),
            &json!({"actor": owner, "op": "create", "name": group, "members": members}),
        )
        .await;
    anyhow::ensure!(r.status == 200, "create group: {:?}", r.body);

    let total = 2 * args.messages;
    let arrivals = Arc::new(Arrivals {
        base: Instant::now(),
        counts: (0..=total).map(|_| AtomicU64::new(0)).collect(),
        last_us: (0..=total).map(|_| AtomicU64::new(0)).collect(),
    });
    let mut readers = Vec::new();
    for token in &tokens {
        let ws = connect(&args.server.url, token).await?;
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(async move {
            let (_write, mut read) = ws.split();
            while let Some(Ok(Message::Text(text))) = read.next().await {
                if let Ok(frame) = serde_json::from_str::<Frame>(&text)
                    && frame.t == "entry"
                    && matches!(frame.kind, Some("message" | "group_advanced"))
                    && let Some(seq) = frame.conv_seq
                {
                    arrivals.record(seq);
                }
            }
        }));
    }
    let mut sender = connect(&args.server.url, &owner_token).await?;
    let send = |seq: u64| {
        let frame = json!({"t": "send", "id": seq.to_string(), "to": {"group": group},
                           "client_msg_id": format!("m{seq}"), "body": {"type": "text", "text": format!("message {seq}")}});
        Message::Text(frame.to_string().into())
    };
    let m = args.members as u64;

    // One at a time: time from send until the last member has it.
    let mut to_last = histogram();
    for seq in 1..=args.messages {
        let sent_us = arrivals.base.elapsed().as_micros() as u64;
        sender.send(send(seq)).await?;
        wait_all(&arrivals, seq, m).await?;
        let last = arrivals.last_us[seq as usize].load(Ordering::Relaxed);
        to_last.record(last.saturating_sub(sent_us).max(1))?;
    }
    // A burst: member deliveries per second.
    let cpu_before = args
        .server_pid
        .map(crate::process_cpu::cpu_ms)
        .transpose()?;
    let start = Instant::now();
    for seq in args.messages + 1..=total {
        sender.send(send(seq)).await?;
    }
    for seq in args.messages + 1..=total {
        wait_all(&arrivals, seq, m).await?;
    }
    let burst_secs = start.elapsed().as_secs_f64();
    let deliveries_per_sec = (args.messages * m) as f64 / burst_secs;
    let burst_cpu_ms = match (args.server_pid, cpu_before) {
        (Some(pid), Some(before)) => Some(crate::process_cpu::cpu_ms(pid)? - before),
        _ => None,
    };
    let q = |p: f64| to_last.value_at_quantile(p) as f64 / 1000.0;
    println!(
        "  time to last member: p50 {:.2} ms p99 {:.2} ms max {:.2} ms; burst: {deliveries_per_sec:.0} member deliveries/s",
        q(0.5),
        q(0.99),
        to_last.max() as f64 / 1000.0
    );
    let per_delivery_us = burst_cpu_ms.map(|ms| ms as f64 * 1000.0 / (args.messages * m) as f64);
    if let (Some(ms), Some(us)) = (burst_cpu_ms, per_delivery_us) {
        println!("  server cpu in the burst: {ms} ms, {us:.1} µs per member delivery");
    }
    println!(
        "{}",
        json!({"bench": "group", "members": args.members, "messages": args.messages,
               "time_to_last_member": latency_json(&to_last),
               "deliveries_per_sec": deliveries_per_sec,
               "burst_server_cpu_ms": burst_cpu_ms,
               "burst_server_cpu_us_per_delivery": per_delivery_us})
    );
    for reader in readers {
        reader.abort();
    }
    Ok(())
}
