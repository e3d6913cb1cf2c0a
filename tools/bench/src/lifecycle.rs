//! `lifecycle`: N user pairs over WebSocket; each sender mixes new messages with actions on
//! the messages it already sent (recall, edit: see `actions`), at a target rate over all
//! senders, and the time from each frame to its answer is measured per action kind. The
//! peers are connected too, so every action's entries are delivered as in real use.
//!
//! A recall or edit acts on a message whose `sent` answer has arrived; when the sender has
//! none yet (the first frames of a run, or every message recalled), a send goes instead.

mod actions;

use crate::server::Server;
use crate::summary::{histogram, latency_json, median};
use crate::ws_client::connect;
use actions::{ACTIONS, Message, Request, Target};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

/// How often a peer pings the gateway.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Options of `tidings-bench lifecycle`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Sender/peer pairs (2 connections each).
    #[arg(long, default_value_t = 20)]
    pairs: usize,
    /// Target actions per second over all senders (every kind together).
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// The mix of actions, `name=weight,...` (names: send, recall, edit, react).
    #[arg(long, default_value = "send=2,recall=1,edit=1,react=1")]
    mix: String,
    /// Seconds of actions per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unanswered frames each sender may have in flight.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Runs; medians are reported.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Bytes of each text body (sends and edits).
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// Also write the final JSON report here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

/// What one sender measured, per entry of [`ACTIONS`].
struct Tally {
    latency: Vec<Histogram<u64>>,
    answered: Vec<u64>,
    /// Refusals by kind and error code.
    errors: BTreeMap<(usize, String), u64>,
    /// Frames whose answer never came (the run ended waiting for them).
    unanswered: Vec<u64>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            latency: ACTIONS.iter().map(|_| histogram()).collect(),
            answered: vec![0; ACTIONS.len()],
            errors: BTreeMap::new(),
            unanswered: vec![0; ACTIONS.len()],
        }
    }

    fn add(&mut self, other: Tally) -> anyhow::Result<()> {
        for (i, h) in other.latency.iter().enumerate() {
            self.latency[i].add(h)?;
            self.answered[i] += other.answered[i];
            self.unanswered[i] += other.unanswered[i];
        }
        for (key, n) in other.errors {
            *self.errors.entry(key).or_default() += n;
        }
        Ok(())
    }

    fn errors_of(&self, kind: usize) -> u64 {
        self.errors
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    }
}

/// What the writer and the reader of one sender share.
struct Shared {
    /// Frames awaiting their answer: kind and when they were written.
    pending: HashMap<u64, (usize, Instant)>,
    /// Messages acted on by recall and edit.
    pool: Vec<Message>,
    tally: Tally,
}

#[derive(Deserialize)]
struct Answer<'a> {
    t: &'a str,
    #[serde(default)]
    id: Option<&'a str>,
    #[serde(default)]
    conv: Option<&'a str>,
    #[serde(default)]
    msg_id: Option<&'a str>,
    #[serde(default)]
    code: Option<&'a str>,
}

/// Reads one sender's answers until every frame it wrote is answered.
async fn answers(
    mut read: futures_util::stream::SplitStream<crate::ws_client::Ws>,
    shared: Arc<Mutex<Shared>>,
    permits: Arc<Semaphore>,
) {
    while let Some(Ok(message)) = read.next().await {
        let WsMessage::Text(text) = message else {
            continue;
        };
        let Ok(answer) = serde_json::from_str::<Answer>(&text) else {
            continue;
        };
        let Some(id) = answer.id.and_then(|id| id.parse::<u64>().ok()) else {
            continue;
        };
        let now = Instant::now();
        let mut shared = shared.lock().expect("not poisoned");
        let Some((kind, written)) = shared.pending.remove(&id) else {
            continue;
        };
        let action = &ACTIONS[kind];
        if answer.t == action.answer {
            let us = now.duration_since(written).as_micros() as u64;
            let _ = shared.tally.latency[kind].record(us.max(1));
            shared.tally.answered[kind] += 1;
            if action.target == Target::Creates
                && let (Some(conv), Some(msg_id)) = (answer.conv, answer.msg_id)
            {
                shared.pool.push(Message {
                    conv: conv.to_owned(),
                    msg_id: msg_id.to_owned(),
                });
            }
        } else {
            let code = answer.code.unwrap_or(answer.t).to_owned();
            *shared.tally.errors.entry((kind, code)).or_default() += 1;
        }
        let done = permits.is_closed() && shared.pending.is_empty();
        drop(shared);
        permits.add_permits(1);
        if done {
            break;
        }
    }
}

/// One sender: writes the mix at its share of the rate; returns what it measured.
async fn sender(
    ws: crate::ws_client::Ws,
    to: String,
    args: Arc<Args>,
    weights: Arc<Vec<u32>>,
    until: Instant,
) -> anyhow::Result<Tally> {
    let (mut write, read) = ws.split();
    let permits = Arc::new(Semaphore::new(args.window));
    let shared = Arc::new(Mutex::new(Shared {
        pending: HashMap::new(),
        pool: Vec::new(),
        tally: Tally::new(),
    }));
    let reader = tokio::spawn(answers(read, shared.clone(), permits.clone()));
    let every = Duration::from_secs_f64(args.pairs as f64 / args.rate.max(1) as f64);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    while Instant::now() < until {
        ticker.tick().await;
        permits.acquire().await?.forget();
        n += 1;
        let frame = {
            let mut shared = shared.lock().expect("not poisoned");
            let mut kind = actions::pick(&weights, n - 1);
            if ACTIONS[kind].target != Target::Creates && shared.pool.is_empty() {
                kind = ACTIONS
                    .iter()
                    .position(|a| a.target == Target::Creates)
                    .expect("the mix has a send");
            }
            let message = match ACTIONS[kind].target {
                Target::Creates => None,
                Target::Uses => {
                    let at = (n as usize) % shared.pool.len();
                    Some(shared.pool[at].clone())
                }
                Target::Consumes => shared.pool.pop(),
            };
            let frame = (ACTIONS[kind].frame)(&Request {
                id: n,
                to: &to,
                message: message.as_ref(),
                body_bytes: args.body_bytes,
            });
            shared.pending.insert(n, (kind, Instant::now()));
            frame
        };
        write.send(WsMessage::Text(frame.into())).await?;
    }
    permits.close();
    // Wait for the answers to what was written (bounded: a lost answer must not hang the run).
    let _ = tokio::time::timeout(Duration::from_secs(30), reader).await;
    let _ = write.close().await;
    let mut shared = shared.lock().expect("not poisoned");
    let pending: Vec<usize> = shared.pending.values().map(|(kind, _)| *kind).collect();
    for kind in pending {
        shared.tally.unanswered[kind] += 1;
    }
    Ok(std::mem::replace(&mut shared.tally, Tally::new()))
}

/// A peer: reads and drops its entries (with heartbeats) until the run ends.
async fn peer(ws: crate::ws_client::Ws, stop: CancellationToken) {
    let (mut write, mut read) = ws.split();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = heartbeat.tick() => {
                let _ = write.send(WsMessage::Text(r#"{"t":"ping"}"#.into())).await;
            }
            m = read.next() => if !matches!(m, Some(Ok(_))) { break },
        }
    }
}

async fn run_once(
    args: &Arc<Args>,
    weights: &Arc<Vec<u32>>,
    run: usize,
) -> anyhow::Result<(Tally, f64)> {
    let api = args.server.api();
    let prefix = format!(
        "l{}r{run}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    let mut pairs = Vec::new();
    for i in 0..args.pairs {
        let (from, to) = (format!("{prefix}p{i}a"), format!("{prefix}p{i}b"));
        let from_ws = connect(&args.server.url, &api.user_token(&from).await).await?;
        let to_ws = connect(&args.server.url, &api.user_token(&to).await).await?;
        pairs.push((from_ws, to, to_ws));
    }
    let stop = CancellationToken::new();
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let mut senders = Vec::new();
    let mut peers = Vec::new();
    for (from_ws, to, to_ws) in pairs {
        peers.push(tokio::spawn(peer(to_ws, stop.clone())));
        senders.push(tokio::spawn(sender(
            from_ws,
            to,
            args.clone(),
            weights.clone(),
            until,
        )));
    }
    let mut tally = Tally::new();
    for s in senders {
        tally.add(s.await??)?;
    }
    let secs = started.elapsed().as_secs_f64().max(args.duration as f64);
    stop.cancel();
    for p in peers {
        p.await?;
    }
    Ok((tally, secs))
}

/// Runs the lifecycle benchmark and prints a table per run and a JSON line.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let weights = Arc::new(actions::parse_mix(&args.mix)?);
    let args = Arc::new(args);
    println!(
        "lifecycle: url={} pairs={} rate={}/s mix={} duration={}s window={} runs={}",
        args.server.url, args.pairs, args.rate, args.mix, args.duration, args.window, args.runs
    );
    let mut runs = Vec::new();
    let mut per_kind: Vec<BTreeMap<&str, Vec<f64>>> =
        ACTIONS.iter().map(|_| BTreeMap::new()).collect();
    for run in 1..=args.runs {
        let (tally, secs) = run_once(&args, &weights, run).await?;
        let total: u64 = tally.answered.iter().sum::<u64>() + tally.errors.values().sum::<u64>();
        println!(
            "  run {run}: {:.0} answered actions/s over {secs:.1}s",
            total as f64 / secs
        );
        println!("    kind       answered   err  unans   p50ms   p99ms  p999ms   maxms");
        let mut kinds = serde_json::Map::new();
        for (kind, action) in ACTIONS.iter().enumerate() {
            let h = &tally.latency[kind];
            let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
            let max = h.max() as f64 / 1000.0;
            println!(
                "    {:<10} {:>8} {:>5} {:>6} {:>7.2} {:>7.2} {:>7.2} {:>7.2}",
                action.name,
                tally.answered[kind],
                tally.errors_of(kind),
                tally.unanswered[kind],
                q(0.5),
                q(0.99),
                q(0.999),
                max
            );
            for (name, value) in [
                ("p50_ms", q(0.5)),
                ("p99_ms", q(0.99)),
                ("p999_ms", q(0.999)),
                ("max_ms", max),
            ] {
                per_kind[kind].entry(name).or_default().push(value);
            }
            let errors: serde_json::Map<String, serde_json::Value> = tally
                .errors
                .iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|((_, code), n)| (code.clone(), (*n).into()))
                .collect();
            kinds.insert(
                action.name.into(),
                serde_json::json!({
                    "answered": tally.answered[kind], "errors": errors,
                    "unanswered": tally.unanswered[kind], "latency": latency_json(h),
                }),
            );
        }
        runs.push(serde_json::json!({"secs": secs, "actions_per_sec": total as f64 / secs, "kinds": kinds}));
    }
    println!("lifecycle medians over {} runs:", args.runs);
    let mut medians = serde_json::Map::new();
    for (kind, action) in ACTIONS.iter().enumerate() {
        let m: BTreeMap<&str, f64> = per_kind[kind]
            .iter()
            .map(|(name, values)| (*name, median(values.clone())))
            .collect();
        println!(
            "    {:<10} p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
            action.name, m["p50_ms"], m["p99_ms"], m["p999_ms"], m["max_ms"]
        );
        medians.insert(action.name.into(), serde_json::json!(m));
    }
    let report = serde_json::json!({"bench": "lifecycle", "pairs": args.pairs, "rate": args.rate,
                                    "mix": args.mix, "duration": args.duration,
                                    "window": args.window, "body_bytes": args.body_bytes,
                                    "medians": medians, "runs": runs});
    println!("{report}");
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}
