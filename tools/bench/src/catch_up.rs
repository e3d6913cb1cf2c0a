//! `catch-up`: what a device's catch-up costs now that inbox message entries hold no body and
//! are joined from the conversations' timelines, against inbox rows that hold the whole entry
//! (as every inbox did before, and Scylla's did until the message lifecycle). Measured on the
//! embedded store directly (no server): pages of `GET /v1/inbox` / `sync` through one user's
//! inbox of message references, and through another's inbox of the same number of whole
//! entries with a body of the same size.

use crate::summary::{histogram, latency_json};
use std::sync::Arc;
use std::time::Instant;
use tidings_domain::{AppId, Body, ConvId, MessageId, Recipient, UserId};
use tidings_store::{
    EntryItem, FjallStore, InboxStore, MessageView, ProjectionStore, SystemNotice, Write,
};

/// Options of `tidings-bench catch-up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entries in each inbox.
    #[arg(long, default_value_t = 100_000)]
    entries: u64,
    /// Conversations the messages are spread over (round robin).
    #[arg(long, default_value_t = 20)]
    convs: u64,
    /// Entries per page (the largest `sync` page).
    #[arg(long, default_value_t = 500)]
    limit: usize,
    /// Times each inbox is read through.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Bytes of each message's text.
    #[arg(long, default_value_t = 100)]
    body_bytes: usize,
}

/// Runs the catch-up benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = FjallStore::open(dir.path())?;
    let app = AppId::parse("bench")?;
    let (joined, whole) = (UserId::parse("joined")?, UserId::parse("whole")?);
    println!(
        "catch-up: store=fjall entries={} convs={} limit={} rounds={} body_bytes={}",
        args.entries, args.convs, args.limit, args.rounds, args.body_bytes
    );
    let text = "x".repeat(args.body_bytes);
    let peers: Vec<UserId> = (0..args.convs)
        .map(|i| UserId::parse(format!("peer{i}")))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut cursor = 0;
    for first in (0..args.entries).step_by(5_000) {
        let mut writes = Vec::new();
        for n in first..(first + 5_000).min(args.entries) {
            cursor += 1;
            let peer = &peers[(n % args.convs) as usize];
            let msg_id = MessageId::parse(format!("019b7b1c-3a00-7000-8000-{n:012}"))?;
            let body = Body::Text { text: text.clone() };
            let message = Arc::new(MessageView::sent(
                ConvId::direct(peer, &joined),
                n / args.convs + 1,
                msg_id.clone(),
                peer.clone(),
                Recipient::User(joined.clone()),
                body.clone(),
            ));
            let ts = 1_700_000_000_000 + n as i64;
            writes.push(Write::Timeline {
                app: app.clone(),
                ts,
                message: Arc::clone(&message),
            });
            writes.push(Write::Deliver {
                app: app.clone(),
                user: joined.clone(),
                ts,
                item: EntryItem::Message(message),
                cursor,
            });
            writes.push(Write::Deliver {
                app: app.clone(),
                user: whole.clone(),
                ts,
                item: EntryItem::System(SystemNotice { msg_id, body }),
                cursor,
            });
        }
        store.apply("bench", cursor, writes).await?;
    }
    println!(
        "filled 2 x {} entries in {:.1} s",
        args.entries,
        started.elapsed().as_secs_f64()
    );
    // Alternate the two so neither always reads a warmer cache.
    for round in 0..args.rounds {
        for (what, user) in [
            ("joined from the timeline", &joined),
            ("whole rows", &whole),
        ] {
            let mut latency = histogram();
            let start = Instant::now();
            let (mut after, mut read) = (0, 0u64);
            loop {
                let page_start = Instant::now();
                let page = store.inbox_after(&app, user, after, args.limit).await?;
                latency.record(page_start.elapsed().as_micros().max(1) as u64)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                read += page.len() as u64;
            }
            anyhow::ensure!(read == args.entries, "{what}: read {read} entries");
            let secs = start.elapsed().as_secs_f64();
            println!(
                "round {round} {what}: {:.0} entries/s, page latency {}",
                read as f64 / secs,
                latency_json(&latency)
            );
        }
    }
    Ok(())
}
