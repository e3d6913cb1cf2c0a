//! Raw JetStream publish throughput: the ceiling Tidings' own throughput is compared with.

use crate::summary::median;
use async_nats::jetstream::{self, stream};
use std::collections::VecDeque;
use std::time::Instant;

/// Options of `tidings-bench jetstream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The nats-server the Tidings server uses.
    #[arg(long, env = "NATS_URL")]
    nats_url: String,
    /// Messages per run.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Payload bytes (a MessageSent event is about 250).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Publishes awaiting their ack at once.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

const STREAM: &str = "TIDINGS_BENCH";

/// Publishes `count` messages with up to `window` in flight; returns messages per second.
pub async fn publish_rate(js: &jetstream::Context, args: &Args) -> anyhow::Result<f64> {
    let _ = js.delete_stream(STREAM).await;
    js.create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec!["tid.bench.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    let payload: bytes::Bytes = vec![b'x'; args.size].into();
    let start = Instant::now();
    let mut in_flight = VecDeque::with_capacity(args.window);
    for i in 0..args.count {
        if in_flight.len() >= args.window {
            let ack: jetstream::context::PublishAckFuture =
                in_flight.pop_front().expect("non-empty");
            ack.await?;
        }
        let subject = format!("tid.bench.{}", i % 1024);
        in_flight.push_back(js.publish(subject, payload.clone()).await?);
    }
    for ack in in_flight {
        ack.await?;
    }
    let rate = args.count as f64 / start.elapsed().as_secs_f64();
    js.delete_stream(STREAM).await?;
    Ok(rate)
}

/// Runs the JetStream benchmark and prints the median rate.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = async_nats::connect(&args.nats_url).await?;
    let version = client.server_info().version;
    let js = jetstream::new(client);
    println!(
        "jetstream: nats-server={version} count={} size={} window={} runs={}",
        args.count, args.size, args.window, args.runs
    );
    let mut rates = Vec::new();
    for run in 1..=args.runs {
        let rate = publish_rate(&js, &args).await?;
        println!("  run {run}: {rate:.0} msg/s");
        rates.push(rate);
    }
    let median = median(rates.clone());
    println!("jetstream median: {median:.0} msg/s");
    println!(
        "{}",
        serde_json::json!({"bench": "jetstream", "median_msgs_per_sec": median, "runs": rates,
                           "nats_server": version, "size": args.size, "window": args.window})
    );
    Ok(())
}
