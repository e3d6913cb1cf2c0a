//! `conversations`: what a conversation row costs to read on the embedded store directly (no
//! server). A direct conversation's row follows its timeline (the fold writes it only when its
//! user sends), so a read takes the newest message with a reverse read of the timeline; the
//! row of an agent serving a service conversation is written on every message and its newest
//! message is one point read. One user holds direct conversations, an agent as many service
//! conversations, filled message by message across all of them (so a timeline's rows spread
//! over the store's segments); rows are read at random, and each user's whole list.

use crate::rng::Rng;
use crate::summary::histogram;
use std::sync::Arc;
use std::time::Instant;
use tidings_domain::{AppId, Body, ConvId, MessageId, Recipient, UserId};
use tidings_store::{ConversationStore, FjallStore, MessageView, ProjectionStore, Write};

/// Options of `tidings-bench conversations`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Conversations of each reading user (one has direct ones, an agent service ones).
    #[arg(long, default_value_t = 1_000)]
    conversations: usize,
    /// Messages in each conversation.
    #[arg(long, default_value_t = 200)]
    messages: u64,
    /// Single-row reads measured per kind.
    #[arg(long, default_value_t = 20_000)]
    reads: usize,
    /// Reads of the whole list measured.
    #[arg(long, default_value_t = 20)]
    lists: usize,
}

/// The timeline write of message `conv_seq` of `conv`, from `from` to `to`, and `reader`'s
/// conversation-row write of it.
fn writes_of(
    conv: &ConvId,
    conv_seq: u64,
    from: &UserId,
    to: Recipient,
    reader: &UserId,
) -> anyhow::Result<[Write; 2]> {
    let (app, ts) = (
        AppId::parse("bench")?,
        1_700_000_000_000 + conv_seq as i64 * 1_000,
    );
    let message = Arc::new(MessageView::sent(
        conv.clone(),
        conv_seq,
        MessageId::parse(format!("019b7b1c-3a00-7000-8000-{conv_seq:012}"))?,
        from.clone(),
        to,
        Body::Text {
            text: format!("message {conv_seq} of a conversation, about as long as most"),
        },
    ));
    let row = Write::ConversationMessage {
        app: app.clone(),
        user: reader.clone(),
        ts,
        message: Arc::clone(&message),
    };
    Ok([Write::Timeline { app, ts, message }, row])
}

/// Runs the conversation-read benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = FjallStore::open(dir.path())?;
    let app = AppId::parse("bench")?;
    // The agent answers none: each message is a customer's, as the peers' are.
    let (direct_reader, agent) = (UserId::parse("reader")?, UserId::parse("agent")?);
    let peers = (0..args.conversations)
        .map(|i| UserId::parse(format!("peer{i:05}")))
        .collect::<Result<Vec<_>, _>>()?;
    let customers = (0..args.conversations)
        .map(|i| UserId::parse(format!("cust{i:05}")))
        .collect::<Result<Vec<_>, _>>()?;
    let shop = UserId::parse("shop")?;
    let direct: Vec<ConvId> = peers
        .iter()
        .map(|p| ConvId::direct(p, &direct_reader))
        .collect();
    let service: Vec<ConvId> = customers
        .iter()
        .map(|c| ConvId::service(&shop, c))
        .collect();
    println!(
        "conversations: store=fjall conversations={} per user, messages={} each",
        args.conversations, args.messages
    );

    let started = Instant::now();
    for conv_seq in 1..=args.messages {
        let mut writes = Vec::with_capacity(4 * args.conversations);
        for i in 0..args.conversations {
            let to_reader = Recipient::User(direct_reader.clone());
            let to_shop = Recipient::Service(shop.clone());
            writes.extend(writes_of(
                &direct[i],
                conv_seq,
                &peers[i],
                to_reader,
                &direct_reader,
            )?);
            writes.extend(writes_of(
                &service[i],
                conv_seq,
                &customers[i],
                to_shop,
                &agent,
            )?);
        }
        store.apply("bench", conv_seq, writes).await?;
    }
    println!(
        "filled {} messages in {:.1} s",
        2 * args.conversations as u64 * args.messages,
        started.elapsed().as_secs_f64()
    );

    let mut rng = Rng::default();
    let kinds = [
        ("direct (follows the timeline)", &direct_reader, &direct),
        ("an agent's (written every message)", &agent, &service),
    ];
    let mut latency = [histogram(), histogram()];
    for _ in 0..args.reads {
        for ((_, reader, convs), latency) in kinds.iter().zip(&mut latency) {
            let conv = &convs[rng.below(convs.len() as u64) as usize];
            let start = Instant::now();
            let row = store.conversation(&app, reader, conv).await?;
            latency.record(start.elapsed().as_nanos().max(1) as u64)?;
            let row = row.ok_or_else(|| anyhow::anyhow!("no row of {conv}"))?;
            anyhow::ensure!(
                row.last_seq == args.messages && row.last_message.is_some(),
                "{conv} read at {} of {}",
                row.last_seq,
                args.messages
            );
        }
    }
    for ((kind, reader, convs), latency) in kinds.iter().zip(&latency) {
        let us = |q: f64| latency.value_at_quantile(q) as f64 / 1_000.0;
        println!(
            "one row, {kind}: p50 {:.1} µs, p99 {:.1} µs",
            us(0.5),
            us(0.99)
        );
        let mut lists = histogram();
        for _ in 0..args.lists {
            let start = Instant::now();
            let rows = store.conversations(&app, reader).await?;
            lists.record(start.elapsed().as_micros().max(1) as u64)?;
            anyhow::ensure!(rows.len() == convs.len(), "listed {}", rows.len());
        }
        println!(
            "whole list, {kind} ({} rows): p50 {:.2} ms, max {:.2} ms",
            convs.len(),
            lists.value_at_quantile(0.5) as f64 / 1_000.0,
            lists.max() as f64 / 1_000.0
        );
    }
    Ok(())
}
