//! `files`: upload and download throughput of one file (10 MiB by default) through the client
//! REST routes: `POST /v1/conversations/{conv}/files` into the JetStream object store, then
//! `GET /v1/files/{file_id}` by the conversation's other user, whole, and its last MiB by
//! `Range` (objects are read in order, so a range's start is reached by reading up to it).

use crate::rng::Rng;
use crate::server::Server;
use crate::summary::median;
use serde_json::json;
use std::time::Instant;

/// Options of `tidings-bench files`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: Server,
    /// The file's size in MiB (at most the app's `max_file_bytes`, 20 MiB by default).
    #[arg(long, default_value_t = 10)]
    mib: usize,
    /// Upload-and-download rounds; each measures both once.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// Runs the file throughput benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let api = args.server.api();
    let url = args.server.url.trim_end_matches('/');
    println!("files: url={url} size={} MiB runs={}", args.mib, args.runs);
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let (sender, receiver) = (format!("fb{run_id}a"), format!("fb{run_id}b"));
    let sender_token = api.user_token(&sender).await;
    let receiver_token = api.user_token(&receiver).await;
    let conv = if sender < receiver {
        format!("d~{sender}~{receiver}")
    } else {
        format!("d~{receiver}~{sender}")
    };
    let size = args.mib * 1024 * 1024;
    // Bytes that do not compress, as photos and archives do not.
    let mut rng = Rng::default();
    let bytes: bytes::Bytes = (0..size)
        .map(|_| rng.next() as u8)
        .collect::<Vec<u8>>()
        .into();
    let http = tidings_runtime::outbound::client().build()?;
    let mib = args.mib as f64;
    let (mut up, mut down, mut tail) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let start = Instant::now();
        let response = http
            .post(format!(
                "{url}/v1/conversations/{conv}/files?name=bench.bin"
            ))
            .bearer_auth(&sender_token)
            .header("content-type", "application/octet-stream")
            .body(bytes.clone())
            .send()
            .await?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await?;
        let upload = start.elapsed().as_secs_f64();
        anyhow::ensure!(status == 200, "upload: {status} {answer}");
        let file_id = answer["file_id"].as_str().unwrap_or_default().to_owned();

        let start = Instant::now();
        let response = http
            .get(format!("{url}/v1/files/{file_id}"))
            .bearer_auth(&receiver_token)
            .send()
            .await?;
        let status = response.status();
        let got = response.bytes().await?;
        let download = start.elapsed().as_secs_f64();
        anyhow::ensure!(status == 200, "download: {status}");
        anyhow::ensure!(got == bytes, "the download differs from the upload");

        let start = Instant::now();
        let response = http
            .get(format!("{url}/v1/files/{file_id}"))
            .bearer_auth(&receiver_token)
            .header("range", "bytes=-1048576")
            .send()
            .await?;
        let status = response.status();
        let got = response.bytes().await?;
        let last_mib = start.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(status == 206, "range: {status}");
        anyhow::ensure!(got == bytes[size - (1 << 20)..], "the range differs");
        println!(
            "  run {run}: upload {:.2} s ({:.1} MiB/s), download {:.2} s ({:.1} MiB/s), last MiB by range {last_mib:.1} ms",
            upload,
            mib / upload,
            download,
            mib / download
        );
        up.push(mib / upload);
        down.push(mib / download);
        tail.push(last_mib);
    }
    let (up_median, down_median) = (median(up.clone()), median(down.clone()));
    let tail_median = median(tail.clone());
    println!(
        "  median: upload {up_median:.1} MiB/s, download {down_median:.1} MiB/s, last MiB by range {tail_median:.1} ms"
    );
    println!(
        "{}",
        json!({"bench": "files", "mib": args.mib, "runs": args.runs,
               "upload_median_mib_per_sec": up_median, "download_median_mib_per_sec": down_median,
               "range_last_mib_median_ms": tail_median,
               "upload_mib_per_sec": up, "download_mib_per_sec": down, "range_last_mib_ms": tail})
    );
    Ok(())
}
