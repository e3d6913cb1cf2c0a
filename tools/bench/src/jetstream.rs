//! Raw JetStream publish throughput: the ceiling Tidings' own throughput is compared with.

use crate::summary::median;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt;
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
    /// Durable pull consumers reading the stream while it is written, each acknowledging what
    /// a fetch returned at once (Tidings' own stream has three: the projector, the feed
    /// projector and the push worker).
    #[arg(long, default_value_t = 0)]
    consumers: usize,
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
    let mut readers = Vec::new();
    for i in 0..args.consumers {
        readers.push(tokio::spawn(read_all(js.clone(), i, args.count)));
    }
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
    for reader in readers {
        reader.await??;
    }
    js.delete_stream(STREAM).await?;
    Ok(rate)
}

/// Reads `count` messages from the bench stream through a durable pull consumer of its own,
/// acknowledging each fetched batch by its last message, as Tidings' consumers do.
async fn read_all(js: jetstream::Context, index: usize, count: usize) -> anyhow::Result<()> {
    let stream = js.get_stream(STREAM).await?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(format!("reader{index}")),
            ack_policy: AckPolicy::All,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await?;
    let mut read = 0;
    while read < count {
        let mut batch = consumer.fetch().max_messages(1_000).messages().await?;
        let mut last = None;
        while let Some(message) = batch.next().await {
            last = Some(message.map_err(|e| anyhow::anyhow!("fetch: {e}"))?);
            read += 1;
        }
        if let Some(last) = last {
            last.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
    }
    Ok(())
}

/// Runs the JetStream benchmark and prints the median rate.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = async_nats::connect(&args.nats_url).await?;
    let version = client.server_info().version;
    let js = jetstream::new(client);
    println!(
        "jetstream: nats-server={version} count={} size={} window={} runs={} consumers={}",
        args.count, args.size, args.window, args.runs, args.consumers
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
                           "nats_server": version, "size": args.size, "window": args.window,
                           "consumers": args.consumers})
    );
    Ok(())
}
