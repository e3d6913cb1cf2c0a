//! `profiles`: latency of `POST /v1/users:batchGet` with 100 ids, cold (ids never looked up,
//! read from the store) and warm (the same batch again, served by the gateway's cache).

use crate::server::Server;
use crate::summary::median;
use serde_json::json;
use std::time::{Duration, Instant};
use tidings_testkit::ServerApi;

/// How often the tool re-checks whether new users are projected.
const PROJECTION_POLL: Duration = Duration::from_millis(5);

/// Options of `tidings-bench profiles`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Batches measured cold (each with 100 new users) and warm.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Ids per batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

async fn timed_batch(api: &ServerApi, token: &str, ids: &[String]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let r = api
        .post_as(token, "/v1/users:batchGet", &json!({ "user_ids": ids }))
        .await;
    let elapsed = start.elapsed();
    let found = r.body["users"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        found == ids.len(),
        "batchGet found {found} of {}: {:?}",
        ids.len(),
        r.body
    );
    Ok(elapsed)
}

/// Waits until the users projected after `cursor` include `count` rows; returns the new cursor.
async fn wait_projected(
    api: &ServerApi,
    token: &str,
    cursor: u64,
    count: usize,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = api
            .get_as(
                token,
                &format!("/v1/users:changed?since={cursor}&limit=500"),
            )
            .await;
        let users = r.body["users"].as_array().map_or(0, Vec::len);
        if users >= count {
            return Ok(r.body["cursor"].as_u64().unwrap_or(cursor));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "users were not projected within 30 s"
        );
        tokio::time::sleep(PROJECTION_POLL).await;
    }
}

fn ms(d: &[Duration]) -> Vec<f64> {
    d.iter().map(|d| d.as_secs_f64() * 1000.0).collect()
}

/// Runs the profile lookup benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    println!(
        "profiles: url={} rounds={} batch={}",
        args.server.url, args.rounds, args.batch
    );
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let token = api.user_token(&format!("pb{run_id}reader")).await;
    let mut cursor = api
        .get_as(&token, "/v1/users:changed?since=0&limit=1")
        .await
        .body["cursor"]
        .as_u64()
        .unwrap_or(0);
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let ids: Vec<String> = (0..args.batch)
            .map(|i| format!("pb{run_id}r{round}u{i}"))
            .collect();
        for id in &ids {
            let r = api
                .post(
                    "/v1/users",
                    &json!({"user_id": id, "name": id, "extra": {"round": round}}),
                )
                .await;
            anyhow::ensure!(r.status == 200, "register {id}: {:?}", r.body);
        }
        cursor = wait_projected(&api, &token, cursor, args.batch).await?;
        cold.push(timed_batch(&api, &token, &ids).await?);
        warm.push(timed_batch(&api, &token, &ids).await?);
    }
    let (cold, warm) = (ms(&cold), ms(&warm));
    let (cold_median, warm_median) = (median(cold.clone()), median(warm.clone()));
    println!(
        "  batchGet of {} ids: cold median {cold_median:.2} ms, warm median {warm_median:.2} ms",
        args.batch
    );
    println!(
        "{}",
        json!({"bench": "profiles", "batch": args.batch, "rounds": args.rounds,
               "cold_median_ms": cold_median, "warm_median_ms": warm_median,
               "cold_ms": cold, "warm_ms": warm})
    );
    Ok(())
}
