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
    // The whole command's rate (start, rebuild, digest, exit) is the benchmark's figure; the
    // rebuild's own, which `tidings replay` times and prints, is reported beside it.
    let (mut rates, mut rebuild_rates) = (Vec::new(), Vec::new());
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
        let field = |name: &str| -> anyhow::Result<f64> {
            stdout
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no {name}= in {stdout:?}"))
        };
        let events = field("events")?;
        let (rebuild, digest) = (field("rebuild_secs")?, field("digest_secs")?);
        let rate = events / secs;
        let rebuild_rate = events / rebuild;
        println!(
            "  run {run}: {events} events in {secs:.2} s = {rate:.0} events/s \
             (the rebuild {rebuild:.2} s = {rebuild_rate:.0} events/s, the digest {digest:.2} s)"
        );
        rates.push(rate);
        rebuild_rates.push(rebuild_rate);
    }
    let median_rate = median(rates.clone());
    let median_rebuild = median(rebuild_rates.clone());
    println!("replay median: {median_rate:.0} events/s (the rebuild alone {median_rebuild:.0})");
    let report = serde_json::json!({
        "bench": "replay",
        "median_events_per_sec": median_rate,
        "runs": rates,
        "median_rebuild_events_per_sec": median_rebuild,
        "rebuild_runs": rebuild_rates,
    });
    println!("{report}");
    Ok(())
}
