//! `replay`: how fast `tidings replay` rebuilds the read models from the stream, in events per
//! second, run against the nats-server of a server that has already taken load.

use crate::summary::median;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Options of `tidings-bench replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The nats-server whose events stream to replay.
    #[arg(long, env = "NATS_URL")]
    nats_url: String,
    /// The `tidings` binary (default: the one beside this tool).
    #[arg(long)]
    tidings: Option<PathBuf>,
    /// Runs, each into a fresh directory; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn tidings_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => Ok(std::env::current_exe()?.with_file_name("tidings")),
    }
}

/// Runs the replay benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let binary = tidings_binary(args.tidings)?;
    println!("replay: tidings={} runs={}", binary.display(), args.runs);
    let mut rates = Vec::new();
    for run in 1..=args.runs {
        let into =
            std::env::temp_dir().join(format!("tidings-bench-replay-{}-{run}", std::process::id()));
        let started = Instant::now();
        let out = Command::new(&binary)
            .args(["replay", "inbox", "--into"])
            .arg(&into)
            .env("NATS_URL", &args.nats_url)
            .env("TIDINGS_LOG", "warn")
            .output()?;
        let secs = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&into);
        let stdout = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "replay failed: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events: f64 = stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("events="))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no events= in {stdout:?}"))?;
        let rate = events / secs;
        println!("  run {run}: {events} events in {secs:.2} s = {rate:.0} events/s");
        rates.push(rate);
    }
    let median = median(rates.clone());
    println!("replay median: {median:.0} events/s");
    println!(
        "{}",
        serde_json::json!({"bench": "replay", "median_events_per_sec": median, "runs": rates})
    );
    Ok(())
}
