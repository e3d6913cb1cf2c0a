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
    /// Publish as Tidings' aggregates do instead: this many subjects (conversations), each with
    /// one publish in flight that carries a message id and the subject's expected last
    /// sequence (taken from the previous publish's ack); `--window` is not used then.
    #[arg(long)]
    conversations: Option<usize>,
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
    match args.conversations {
        Some(conversations) => publish_serially(js, args.count, conversations, payload).await?,
        None => publish_windowed(js, args.count, args.window, payload).await?,
    }
    let rate = args.count as f64 / start.elapsed().as_secs_f64();
    for reader in readers {
        reader.await??;
    }
    js.delete_stream(STREAM).await?;
    Ok(rate)
}

/// `count` publishes over 1,024 subjects with up to `window` awaiting their ack.
async fn publish_windowed(
    js: &jetstream::Context,
    count: usize,
    window: usize,
    payload: bytes::Bytes,
) -> anyhow::Result<()> {
    let mut in_flight = VecDeque::with_capacity(window);
    for i in 0..count {
        if in_flight.len() >= window {
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
    Ok(())
}

/// `count` publishes over `conversations` subjects, each subject's one at a time with a
/// message id and the expected last subject sequence, as an aggregate's events are published.
async fn publish_serially(
    js: &jetstream::Context,
    count: usize,
    conversations: usize,
    payload: bytes::Bytes,
) -> anyhow::Result<()> {
    let conversations = conversations.max(1);
    let mut tasks = Vec::new();
    for c in 0..conversations {
        let (js, payload) = (js.clone(), payload.clone());
        let mine = count / conversations + usize::from(c < count % conversations);
        tasks.push(tokio::spawn(async move {
            let subject = format!("tid.bench.{c}");
            let mut last = 0;
            for i in 0..mine {
                let message = jetstream::message::PublishMessage::build()
                    .payload(payload.clone())
                    .message_id(format!("{c}.{i}"))
                    .expected_last_subject_sequence(last);
                last = js
                    .send_publish(subject.clone(), message)
                    .await?
                    .await?
                    .sequence;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
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
    let window = args.conversations.is_none().then_some(args.window);
    println!(
        "jetstream: nats-server={version} count={} size={} window={window:?} runs={} consumers={} conversations={:?}",
        args.count, args.size, args.runs, args.consumers, args.conversations
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
                           "nats_server": version, "size": args.size,
                           "window": window,
                           "consumers": args.consumers, "conversations": args.conversations})
    );
    Ok(())
}
