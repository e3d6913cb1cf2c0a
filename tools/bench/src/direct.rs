//! `direct`: N user pairs over WebSocket; each sender sends to its receiver, at a target rate
//! or as fast as a window of unanswered sends allows. Every message carries its send time, so
//! the receiver measures end-to-end latency; every message carries a sequence number, so
//! losses and duplicates are counted, not assumed.

mod report;
mod timeline;

use crate::hops;
use crate::server::Server;
use crate::summary::{histogram, median};
use crate::ws_client::{Ws, connect};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tidings_testkit::ServerApi;
use timeline::Timeline;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// How often a receiver pings the gateway.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// How often the drain re-checks whether every acknowledged message has arrived.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Options of `tidings-bench direct`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Sender/receiver pairs (2 connections each).
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// Target messages per second over all pairs; 0 sends as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds of sending per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unanswered sends each sender may have in flight.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Runs; medians are reported.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Bytes of each message's text body (at least what its sequence number and send time
    /// take; padded with `x`).
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// Messages sent (as fast as the window allows, between other users, not measured) before
    /// the first run, so the runs meet a store that already holds them.
    #[arg(long, default_value_t = 0)]
    prefill: u64,
    /// Concurrent senders of the prefill, each to its own receiver (a conversation each), with
    /// `--prefill-window` sends in flight: the bulk path, many conversations at once so the
    /// command side and the projector batch as much as they can.
    #[arg(long, default_value_t = 200)]
    prefill_senders: usize,
    /// Unanswered sends each prefill sender may have in flight.
    #[arg(long, default_value_t = 64)]
    prefill_window: usize,
    /// Also write the final JSON report (every run's counts and p50/p90/p99/p99.9/max, their
    /// medians, lost and duplicated) here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
    /// Also print, for each run, every second (by send time, with its UTC time) in which a
    /// message took longer than 15 ms: how many did, over 50 ms, and the slowest.
    #[arg(long)]
    timeline: bool,
    /// Also print, for each run, the server's own latency histograms over that run (scraped
    /// from its `/metrics` before and after): each hop's count, p50/p99/p99.9 and share over
    /// 10 and 50 ms. The JSON report always carries them.
    #[arg(long)]
    hops: bool,
    #[command(flatten)]
    screens: crate::screens::ScreenArgs,
}

/// A text body of at least `bytes` bytes that starts with the message's sequence number and
/// send time (microseconds since the run began).
fn body_text(seq: u64, sent_us: u128, bytes: usize) -> String {
    let mut text = format!("{seq} {sent_us} ");
    if text.len() < bytes {
        text.extend(std::iter::repeat_n('x', bytes - text.len()));
    }
    text
}

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
    delivered: AtomicU64,
    duplicated: AtomicU64,
}

#[derive(Deserialize)]
struct Frame<'a> {
    t: &'a str,
    #[serde(default, borrow)]
    body: Option<TextBody<'a>>,
    #[serde(default, borrow)]
    from: Option<&'a str>,
}

#[derive(Deserialize)]
struct TextBody<'a> {
    text: &'a str,
}

/// How much a sender sends.
#[derive(Debug, Clone, Copy)]
struct Budget {
    until: Instant,
    /// At most this many messages (prefill), else until the deadline.
    count: Option<u64>,
    body_bytes: usize,
}

async fn sender(
    ws: Ws,
    to: String,
    base: Instant,
    budget: Budget,
    every: Option<Duration>,
    window: usize,
    totals: Arc<Totals>,
) -> anyhow::Result<()> {
    let (mut write, mut read) = ws.split();
    let permits = Arc::new(Semaphore::new(window));
    let sent_here = Arc::new(AtomicU64::new(0));
    let answers = {
        let (permits, totals, sent_here) = (permits.clone(), totals.clone(), sent_here.clone());
        tokio::spawn(async move {
            let mut answered = 0u64;
            while let Some(Ok(message)) = read.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
                    continue;
                };
                match frame.t {
                    "sent" => totals.acked.fetch_add(1, Ordering::Relaxed),
                    "error" => totals.errors.fetch_add(1, Ordering::Relaxed),
                    _ => continue,
                };
                answered += 1;
                permits.add_permits(1);
                if answered == sent_here.load(Ordering::Acquire) && permits.is_closed() {
                    break;
                }
            }
        })
    };
    let mut ticker = every.map(|every| {
        let mut t = tokio::time::interval(every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut seq = 0u64;
    while Instant::now() < budget.until && budget.count.is_none_or(|n| seq < n) {
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        permits.acquire().await?.forget();
        seq += 1;
        let text = body_text(seq, base.elapsed().as_micros(), budget.body_bytes);
        let frame = format!(
            r#"{{"t":"send","id":"{seq}","to":{{"user":"{to}"}},"client_msg_id":"m{seq}","body":{{"type":"text","text":"{text}"}}}}"#
        );
        write.send(Message::Text(frame.into())).await?;
        sent_here.store(seq, Ordering::Release);
        totals.sent.fetch_add(1, Ordering::Relaxed);
    }
    permits.close();
    // Wait for the answers to what was sent (bounded: a lost answer must not hang the run).
    let _ = tokio::time::timeout(Duration::from_secs(30), answers).await;
    let _ = write.close().await;
    Ok(())
}

async fn receiver(
    ws: Ws,
    base: Instant,
    totals: Arc<Totals>,
    stop: CancellationToken,
) -> (Histogram<u64>, Timeline) {
    let (mut write, mut read) = ws.split();
    let mut latency = histogram();
    let mut timeline = Timeline::default();
    let mut seen: Vec<bool> = Vec::new();
    // A receiver only reads, so like a real client it sends heartbeats: without them the
    // gateway's idle timeout (60 s by default) closes it in the middle of long runs.
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => break,
            _ = heartbeat.tick() => {
                let _ = write.send(Message::Text(r#"{"t":"ping"}"#.into())).await;
                continue;
            }
            m = read.next() => m,
        };
        let Some(Ok(Message::Text(text))) = message else {
            break;
        };
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            continue;
        };
        if frame.t != "entry" || frame.from.is_none() {
            continue;
        }
        let Some((seq, sent_us)) = frame.body.and_then(|b| {
            let mut fields = b.text.splitn(3, ' ');
            let (seq, us) = (fields.next()?, fields.next()?);
            Some((seq.parse::<usize>().ok()?, us.parse::<u64>().ok()?))
        }) else {
            continue;
        };
        if seen.len() <= seq {
            seen.resize(seq + 1, false);
        }
        if seen[seq] {
            totals.duplicated.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        seen[seq] = true;
        totals.delivered.fetch_add(1, Ordering::Relaxed);
        let now_us = base.elapsed().as_micros() as u64;
        let took_us = now_us.saturating_sub(sent_us).max(1);
        let _ = latency.record(took_us);
        timeline.record(sent_us, took_us);
    }
    (latency, timeline)
}

async fn run_once(args: &Args, api: &ServerApi, run: usize) -> anyhow::Result<report::Run> {
    let prefix = format!(
        "b{}r{run}",
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
    let metrics_before = scrape(&args.server.url).await;
    let totals = Arc::new(Totals::default());
    let stop = CancellationToken::new();
    let base = Instant::now();
    let began = std::time::SystemTime::now();
    let budget = Budget {
        until: base + Duration::from_secs(args.duration),
        count: None,
        body_bytes: args.body_bytes,
    };
    let every =
        (args.rate > 0).then(|| Duration::from_secs_f64(args.pairs as f64 / args.rate as f64));
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for (from_ws, to, to_ws) in pairs {
        receivers.push(tokio::spawn(receiver(
            to_ws,
            base,
            totals.clone(),
            stop.clone(),
        )));
        senders.push(tokio::spawn(sender(
            from_ws,
            to,
            base,
            budget,
            every,
            args.window,
            totals.clone(),
        )));
    }
    for s in senders {
        s.await??;
    }
    // Drain: wait until everything acknowledged has arrived, or 15 s more.
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    while totals.delivered.load(Ordering::Relaxed) < totals.acked.load(Ordering::Relaxed)
        && Instant::now() < drain_deadline
    {
        tokio::time::sleep(DRAIN_POLL).await;
    }
    let secs = base
        .elapsed()
        .as_secs_f64()
        .min(args.duration as f64 + 15.0);
    stop.cancel();
    let hops = match (metrics_before, scrape(&args.server.url).await) {
        (Some(before), Some(after)) => after.since(&before),
        _ => Vec::new(),
    };
    let mut latency = histogram();
    let mut timeline = Timeline::default();
    for r in receivers {
        let (h, t) = r.await?;
        latency.add(h)?;
        timeline.merge(&t);
    }
    if args.timeline {
        timeline.print(began);
    }
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let counts = report::Counts {
        sent: load(&totals.sent),
        acked: load(&totals.acked),
        delivered: load(&totals.delivered),
        duplicated: load(&totals.duplicated),
        errors: load(&totals.errors),
    };
    Ok(report::Run::new(
        counts,
        secs.max(args.duration as f64),
        &latency,
        hops,
    ))
}

/// The server's histograms now, or `None` (with a note) when its `/metrics` cannot be read.
async fn scrape(url: &str) -> Option<hops::Scrape> {
    match hops::Scrape::fetch(url).await {
        Ok(scrape) => Some(scrape),
        Err(error) => {
            eprintln!("server hops left out: {error:#}");
            None
        }
    }
}

/// Sends `args.prefill` messages between other pairs of users, unmeasured and unread (they
/// land in the store and the receivers' inboxes), from `prefill_senders` connections at once.
async fn prefill(args: &Args, api: &ServerApi) -> anyhow::Result<()> {
    if args.prefill == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let senders_n = args.prefill_senders.max(1);
    let per_pair = args.prefill.div_ceil(senders_n as u64);
    let budget = Budget {
        until: started + Duration::from_secs(24 * 3600),
        count: Some(per_pair),
        body_bytes: args.body_bytes,
    };
    let totals = Arc::new(Totals::default());
    let mut senders = Vec::new();
    for i in 0..senders_n {
        let (from, to) = (format!("prefill{i}a"), format!("prefill{i}b"));
        api.register(&to).await;
        let ws = connect(&args.server.url, &api.user_token(&from).await).await?;
        senders.push(tokio::spawn(sender(
            ws,
            to,
            started,
            budget,
            None,
            args.prefill_window,
            totals.clone(),
        )));
    }
    for s in senders {
        s.await??;
    }
    let acked = totals.acked.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "prefill: {acked} messages acknowledged in {secs:.1}s ({:.0}/s, {} errors)",
        acked as f64 / secs,
        totals.errors.load(Ordering::Relaxed)
    );
    let caught_up = Instant::now();
    canary(args, api).await?;
    println!(
        "prefill: projected and delivered {:.1}s after the last acknowledgement",
        caught_up.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Sends one message after the prefill and waits until it is delivered: the projector works in
/// stream order, so the prefill's backlog is gone then and the measured runs meet none of it.
async fn canary(args: &Args, api: &ServerApi) -> anyhow::Result<()> {
    let to = "prefillcanaryb".to_owned();
    let to_ws = connect(&args.server.url, &api.user_token(&to).await).await?;
    let from_ws = connect(&args.server.url, &api.user_token("prefillcanarya").await).await?;
    let (totals, stop, base) = (
        Arc::new(Totals::default()),
        CancellationToken::new(),
        Instant::now(),
    );
    let received = tokio::spawn(receiver(to_ws, base, totals.clone(), stop.clone()));
    let budget = Budget {
        until: base + Duration::from_secs(24 * 3600),
        count: Some(1),
        body_bytes: args.body_bytes,
    };
    sender(from_ws, to, base, budget, None, 1, totals.clone()).await?;
    let deadline = Instant::now() + Duration::from_secs(1800);
    while totals.delivered.load(Ordering::Relaxed) == 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the prefill was not projected in 30 minutes"
        );
        tokio::time::sleep(DRAIN_POLL).await;
    }
    stop.cancel();
    let _ = received.await;
    Ok(())
}

/// Runs the direct benchmark and prints a table and a JSON line.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    prefill(&args, &api).await?;
    println!(
        "direct: url={} pairs={} rate={} duration={}s window={} runs={}",
        args.server.url,
        args.pairs,
        if args.rate == 0 {
            "max".to_owned()
        } else {
            args.rate.to_string()
        },
        args.duration,
        args.window,
        args.runs
    );
    let mut variants = vec![("dev", api)];
    if !args.screens.screens.is_empty() {
        variants.clear();
        for screen in &args.screens.screens {
            let app = crate::screens::app(&args.screens, &args.server.url, *screen).await?;
            variants.push((screen.name(), app));
        }
    }
    println!(
        "  run screen     sent    acked  delivered  lost  dup  err    msg/s   p50ms   p90ms   p99ms  p999ms   maxms"
    );
    let mut runs = Vec::new();
    let mut by_screen: std::collections::BTreeMap<&str, (Vec<f64>, Vec<f64>)> =
        std::collections::BTreeMap::new();
    // Variants alternate run by run, so each meets the same machine state.
    let schedule = (1..=args.runs).flat_map(|run| variants.iter().map(move |v| (run, v)));
    for (run, (screen, api)) in schedule {
        let r = run_once(&args, api, run).await?;
        let l = &r.latency;
        println!(
            "  {run:>3} {screen:<6} {:>8} {:>8} {:>10} {:>5} {:>4} {:>4} {:>8.0} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2}",
            r.sent,
            r.acked,
            r.delivered,
            r.lost,
            r.duplicated,
            r.errors,
            r.msgs_per_sec,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.p999_ms,
            l.max_ms
        );
        if args.hops && !r.hops.is_empty() {
            hops::print(&r.hops);
        }
        let medians = by_screen.entry(screen).or_default();
        medians.0.push(r.msgs_per_sec);
        medians.1.push(l.p99_ms);
        runs.push(r);
    }
    let shape = report::Shape {
        pairs: args.pairs,
        rate: args.rate,
        duration: args.duration,
        window: args.window,
        body_bytes: args.body_bytes,
        prefill: args.prefill,
    };
    let report = report::Report::new(shape, runs);
    println!(
        "direct median: {:.0} msg/s delivered end to end",
        report.summary.median_msgs_per_sec
    );
    let mut json = serde_json::to_value(&report)?;
    if variants.len() > 1 {
        // Runs alternate over the screens (in this order, run by run); each screen's medians.
        let mut screens = serde_json::Map::new();
        for (screen, (rates, p99s)) in by_screen {
            let (rate, p99) = (median(rates), median(p99s));
            println!("  {screen:<6} median {rate:.0} msg/s, median p99 {p99:.2} ms");
            screens.insert(
                screen.to_owned(),
                serde_json::json!({"median_msgs_per_sec": rate, "median_p99_ms": p99}),
            );
        }
        json["screens"] = serde_json::Value::Object(screens);
        json["screen_order"] = serde_json::json!(variants.iter().map(|v| v.0).collect::<Vec<_>>());
    }
    println!("{json}");
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_padded_to_its_size_and_keeps_its_sequence_and_time_first() {
        let text = body_text(42, 1_234_567, 64);
        assert_eq!(text.len(), 64);
        let mut fields = text.splitn(3, ' ');
        assert_eq!(fields.next(), Some("42"));
        assert_eq!(fields.next(), Some("1234567"));
        assert_eq!(body_text(7, 9, 1), "7 9 ", "never cut below its fields");
    }
}
