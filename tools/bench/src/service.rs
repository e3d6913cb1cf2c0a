//! `service`: customers arriving at once at a customer-service account with many agents: the
//! time each customer's first message takes to be recorded, which is when its session is
//! assigned (or queued: the assignment is decided with the message, on the service's subject).

use crate::server::Server;
use crate::summary::{histogram, latency_json};
use futures_util::StreamExt;
use serde_json::json;
use std::time::Instant;
use tidings_testkit::ServerApi;

/// Options of `tidings-bench service`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// Agents attached to the service.
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// Customers per agent at once.
    #[arg(long, default_value_t = 10)]
    capacity: u32,
    /// Customers writing their first message at the same moment.
    #[arg(long, default_value_t = 1000)]
    customers: usize,
    /// `sticky`, `least_busy` or `round_robin`.
    #[arg(long, default_value = "least_busy")]
    strategy: String,
    /// Registrations in flight at once while setting up.
    #[arg(long, default_value_t = 64)]
    setup_concurrency: usize,
}

async fn register_all(api: &ServerApi, users: &[String], concurrency: usize) -> anyhow::Result<()> {
    let results: Vec<_> = futures_util::stream::iter(users)
        .map(|user| api.register(user))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for r in results {
        anyhow::ensure!(r.status == 200, "registering: {:?}", r.body);
    }
    Ok(())
}

/// Runs the assignment benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    println!(
        "service: url={} agents={} capacity={} customers={} strategy={}",
        args.server.url, args.agents, args.capacity, args.customers, args.strategy
    );
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let service = format!("svc{run_id}");
    let agents: Vec<String> = (0..args.agents)
        .map(|i| format!("{service}-a{i}"))
        .collect();
    let customers: Vec<String> = (0..args.customers)
        .map(|i| format!("{service}-c{i}"))
        .collect();
    register_all(&api, std::slice::from_ref(&service), 1).await?;
    register_all(&api, &agents, args.setup_concurrency).await?;
    register_all(&api, &customers, args.setup_concurrency).await?;
    let r = api
        .post(
            &format!("/v1/server/services/{service}"),
            &json!({ "strategy": args.strategy }),
        )
        .await;
    anyhow::ensure!(r.status == 200, "opening the service: {:?}", r.body);
    for agent in &agents {
        let path = format!("/v1/server/services/{service}/agents/{agent}");
        let r = api.post(&path, &json!({ "capacity": args.capacity })).await;
        anyhow::ensure!(r.status == 200, "attaching {agent}: {:?}", r.body);
    }

    let started = Instant::now();
    let sends = customers.iter().map(|customer| {
        let api = &api;
        let service = &service;
        async move {
            let begun = Instant::now();
            let r = api
                .post(
                    "/v1/messages",
                    &json!({
                        "from": customer, "to": { "service": service },
                        "client_msg_id": "first", "body": { "type": "text", "text": "hello" }
                    }),
                )
                .await;
            (begun.elapsed(), r)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let wall = started.elapsed();
    let mut latency = histogram();
    for (elapsed, r) in &answers {
        anyhow::ensure!(r.status == 200, "a customer's first message: {:?}", r.body);
        latency.record(elapsed.as_micros().max(1) as u64)?;
    }
    let token = api
        .post(&format!("/v1/users/{service}/token"), &json!({}))
        .await;
    let token = token.body["token"].as_str().unwrap_or_default().to_owned();
    let view = api.get_as(&token, &format!("/v1/services/{service}")).await;
    let assigned: u64 = view.body["service"]["agents"]
        .as_array()
        .map_or(0, |a| a.iter().filter_map(|a| a["load"].as_u64()).sum());
    let queued = view.body["service"]["queue"].as_array().map_or(0, Vec::len);
    println!(
        "{}",
        json!({
            "time_to_assign": latency_json(&latency),
            "wall_ms": wall.as_secs_f64() * 1000.0,
            "assignments_per_s": args.customers as f64 / wall.as_secs_f64(),
            "assigned": assigned,
            "queued": queued,
        })
    );
    Ok(())
}
