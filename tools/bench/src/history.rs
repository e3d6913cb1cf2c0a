//! `history`: the cost of history pages by time (`since_ts` / `until_ts`) on a conversation of
//! many messages, measured on the embedded store directly (no server): how many timeline reads
//! a page takes and how long, for random ranges, newest and oldest first. ScyllaDB runs the
//! same search with one network round trip per read (docs/scylla.md).

use crate::rng::Rng;
use crate::summary::{histogram, latency_json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tidings_domain::{AppId, Body, ConvId, MessageId, Recipient, UserId};
use tidings_store::ports::StoreResult;
use tidings_store::{
    Conversation, ConversationStore, FjallStore, HistoryOrder, HistoryQuery, MessageView,
    ProjectionStore, SettingsRow, TimelineMessage, Write,
};

/// Options of `tidings-bench history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Messages in the conversation.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Pages measured per order.
    #[arg(long, default_value_t = 2_000)]
    pages: usize,
    /// Messages per page.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// The embedded store, counting the timeline reads the time search makes, searching `LEVELS`
/// levels per round (1 as fjall does, 3 as the Scylla adapter does).
struct Counting<const LEVELS: u32> {
    store: FjallStore,
    reads: AtomicU64,
}

impl<const LEVELS: u32> ConversationStore for Counting<LEVELS> {
    const SEARCH_LEVELS: u32 = LEVELS;

    async fn conversations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Conversation>> {
        self.store.conversations(app, user).await
    }

    async fn conv_settings(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<SettingsRow>> {
        self.store.conv_settings(app, user).await
    }

    async fn conversation(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> StoreResult<Option<Conversation>> {
        self.store.conversation(app, user, conv).await
    }

    async fn messages_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.store.messages_before(app, conv, before, limit).await
    }

    async fn messages_after(
        &self,
        app: &AppId,
        conv: &ConvId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.store.messages_after(app, conv, after, limit).await
    }
}

/// The time of message `conv_seq`: ten seconds apart, in runs of four equal times.
fn ts_of(conv_seq: u64) -> i64 {
    1_700_000_000_000 + (conv_seq / 4) as i64 * 10_000
}

/// Runs the history-by-time benchmark.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = FjallStore::open(dir.path())?;
    let app = AppId::parse("bench")?;
    let (alice, bob) = (UserId::parse("alice")?, UserId::parse("bob")?);
    let conv = ConvId::direct(&alice, &bob);
    println!(
        "history: store=fjall messages={} pages={} limit={}",
        args.messages, args.pages, args.limit
    );

    let started = Instant::now();
    let mut through = 0;
    for first in (1..=args.messages).step_by(10_000) {
        let last = (first + 9_999).min(args.messages);
        let writes = (first..=last)
            .map(|conv_seq| {
                Ok(Write::Timeline {
                    app: app.clone(),
                    ts: ts_of(conv_seq),
                    message: Arc::new(MessageView::sent(
                        conv.clone(),
                        conv_seq,
                        MessageId::parse(format!("019b7b1c-3a00-7000-8000-{conv_seq:012}"))?,
                        alice.clone(),
                        Recipient::User(bob.clone()),
                        Body::Text {
                            text: format!("message {conv_seq}"),
                        },
                    )),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        through += 1;
        store.apply("bench", through, writes).await?;
    }
    println!(
        "filled {} messages in {:.1} s",
        args.messages,
        started.elapsed().as_secs_f64()
    );

    measure(
        &Counting::<1> {
            store: store.clone(),
            reads: AtomicU64::new(0),
        },
        &args,
        &app,
        &conv,
    )
    .await?;
    measure(
        &Counting::<3> {
            store,
            reads: AtomicU64::new(0),
        },
        &args,
        &app,
        &conv,
    )
    .await?;
    Ok(())
}

/// Random ranges of up to a tenth of the conversation's time, paged from either end.
async fn measure<const LEVELS: u32>(
    counting: &Counting<LEVELS>,
    args: &Args,
    app: &AppId,
    conv: &ConvId,
) -> anyhow::Result<()> {
    let mut rng = Rng::default();
    let span = ts_of(args.messages) - ts_of(1);
    for order in [HistoryOrder::Newest, HistoryOrder::Oldest] {
        let mut latency = histogram();
        let (mut reads, mut max_reads, mut rows) = (0u64, 0u64, 0usize);
        for _ in 0..args.pages {
            let since = ts_of(1) + rng.below(span as u64) as i64;
            let until = since + 1 + rng.below(span as u64 / 10) as i64;
            let query = HistoryQuery {
                since: Some(since),
                until: Some(until),
                order,
                cursor: None,
                limit: args.limit,
            };
            counting.reads.store(0, Ordering::Relaxed);
            let start = Instant::now();
            let page = counting.history(app, conv, query).await?;
            latency.record(start.elapsed().as_micros().max(1) as u64)?;
            let n = counting.reads.load(Ordering::Relaxed);
            reads += n;
            max_reads = max_reads.max(n);
            rows += page.messages.len();
        }
        println!(
            "levels per round={LEVELS} {order:?} first: reads per page mean={:.1} max={max_reads}, rows per page mean={:.1}, latency {}",
            reads as f64 / args.pages as f64,
            rows as f64 / args.pages as f64,
            latency_json(&latency)
        );
    }
    Ok(())
}
