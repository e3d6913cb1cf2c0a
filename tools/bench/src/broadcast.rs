//! `broadcast`: one broadcast to N registered users (read diffusion: one stored copy), against
//! the same N reached by system messages (write diffusion: one inbox entry each, 1,000 users
//! per request). Measures the time to send (until the answer), the time until a user can read
//! it (a read with the answer's `pos` as `min_pos`), and the bytes each adds to the events
//! stream (JetStream's count), to the read models (the rows written: keys and values as the
//! embedded store encodes them) and to the server's data dir (blocks allocated: the read
//! models, their journal and LSM overhead, flushed or not).

use crate::server::Server;
use futures_util::StreamExt;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tidings_testkit::ServerApi;

/// Options of `tidings-bench broadcast`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Users registered first: the broadcast's audience.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Registrations in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The nats-server the server uses (the events stream's bytes).
    #[arg(long)]
    nats_url: String,
    /// The server's data dir (the read models' bytes on disk).
    #[arg(long)]
    data_dir: PathBuf,
    /// Skip reaching the same users with system messages (write diffusion) for comparison.
    #[arg(long)]
    no_compare: bool,
}

/// Bytes allocated on disk under `dir` (the journal is preallocated, so file lengths would
/// not move).
fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// The bytes of one row as the embedded store keeps it: its key and its MessagePack value.
fn row_bytes(key_parts: &[&str], seq: Option<u64>, value: &serde_json::Value) -> u64 {
    let key = tidings_store::keys::key(key_parts, seq);
    let value = rmp_serde::to_vec_named(value).expect("json encodes");
    (key.len() + value.len()) as u64
}

async fn stream_bytes(js: &async_nats::jetstream::Context) -> anyhow::Result<u64> {
    let mut stream = js.get_stream("TIDINGS_EVENTS").await?;
    Ok(stream.info().await?.state.bytes)
}

/// Bytes added to the stream and the data dir, and the time until `user` reads at `pos`.
async fn settle(
    args: &Args,
    js: &async_nats::jetstream::Context,
    api: &ServerApi,
    token: &str,
    pos: u64,
    started: Instant,
    before: (u64, u64),
) -> anyhow::Result<serde_json::Value> {
    let r = api
        .get_as(token, &format!("/v1/broadcasts?min_pos={pos}&limit=1"))
        .await;
    anyhow::ensure!(r.status == 200, "reading at {pos}: {:?}", r.body);
    let readable_ms = started.elapsed().as_secs_f64() * 1000.0;
    let stream = stream_bytes(js).await? - before.0;
    let disk = dir_bytes(&args.data_dir).saturating_sub(before.1);
    Ok(json!({"readable_ms": readable_ms, "stream_bytes": stream, "data_dir_bytes": disk}))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    let client = async_nats::connect(&args.nats_url).await?;
    let js = async_nats::jetstream::new(client);
    let run = std::process::id();
    let users: Vec<String> = (0..args.users).map(|i| format!("b{run}-{i}")).collect();
    let started = Instant::now();
    let answers: Vec<_> = futures_util::stream::iter(&users)
        .map(|user| {
            let api = &api;
            async move { api.register(user).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let failed = answers.iter().filter(|r| r.status != 200).count();
    anyhow::ensure!(failed == 0, "{failed} registrations failed");
    let registered_pos = answers
        .iter()
        .filter_map(|r| r.body["pos"].as_u64())
        .max()
        .unwrap_or_default();
    println!(
        "broadcast: registered {} users in {:.1} s",
        args.users,
        started.elapsed().as_secs_f64()
    );
    let reader = api.user_token(&users[args.users - 1]).await;
    // Wait for the registrations to be projected before measuring bytes.
    let r = api
        .get_as(
            &reader,
            &format!("/v1/broadcasts?min_pos={registered_pos}&limit=1"),
        )
        .await;
    anyhow::ensure!(r.status == 200, "{:?}", r.body);

    let before = (stream_bytes(&js).await?, dir_bytes(&args.data_dir));
    let started = Instant::now();
    let r = api
        .post(
            "/v1/broadcasts",
            &json!({"body": {"type": "text", "text": "maintenance tonight at 02:00 UTC"}}),
        )
        .await;
    anyhow::ensure!(r.status == 200, "broadcast: {:?}", r.body);
    let send_ms = started.elapsed().as_secs_f64() * 1000.0;
    let pos = r.body["pos"].as_u64().unwrap_or_default();
    let read = settle(&args, &js, &api, &reader, pos, started, before).await?;
    // One row in the app's broadcast timeline, none per user.
    let r = api.get_as(&reader, "/v1/broadcasts?limit=500").await;
    let row = r.body["broadcasts"]
        .as_array()
        .and_then(|rows| rows.last())
        .cloned()
        .unwrap_or_default();
    let app = args.server.app_key.as_str();
    let rows = json!({"rows": 1, "bytes": row_bytes(&[app], Some(1), &row)});
    let broadcast = json!({"send_ms": send_ms, "settled": read, "read_model": rows});
    println!("broadcast (read diffusion): {broadcast}");

    let mut result = json!({"bench": "broadcast", "users": args.users, "broadcast": broadcast});
    if !args.no_compare {
        let before = (stream_bytes(&js).await?, dir_bytes(&args.data_dir));
        let started = Instant::now();
        let mut pos = 0;
        for chunk in users.chunks(1000) {
            let r = api
                .post(
                    "/v1/system/messages",
                    &json!({"to": chunk,
                            "body": {"type": "text", "text": "maintenance tonight at 02:00 UTC"}}),
                )
                .await;
            anyhow::ensure!(r.status == 200, "system message: {:?}", r.body);
            pos = pos.max(r.body["pos"].as_u64().unwrap_or_default());
        }
        let send_ms = started.elapsed().as_secs_f64() * 1000.0;
        let read = settle(&args, &js, &api, &reader, pos, started, before).await?;
        // One inbox entry per user (and each user's inbox head moves): the reader's, times N.
        let r = api.get_as(&reader, "/v1/inbox?limit=500").await;
        let entry = r.body["entries"]
            .as_array()
            .and_then(|rows| rows.last())
            .cloned()
            .unwrap_or_default();
        // An inbox head is 16 bytes (seq and cursor) under the user's key.
        let head = tidings_store::keys::key(&[app, &users[0]], None).len() as u64 + 16;
        let per_user = row_bytes(&[app, &users[0]], Some(1), &entry) + head;
        let rows = json!({"rows": 2 * args.users, "bytes": per_user * args.users as u64});
        let system = json!({"send_ms": send_ms, "settled": read, "read_model": rows});
        println!("system messages (write diffusion): {system}");
        result["system_messages"] = system;
    }
    println!("{result}");
    Ok(())
}
