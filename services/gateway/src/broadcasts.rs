//! Broadcasts to sessions. One NATS subscription per app per gateway (`tid.bcast.<app>`), held
//! while the gateway has a session of the app and fanned out to them through a channel; each
//! session keeps a cursor (the app's last `bseq` it has handled, sent or not for it) and its
//! user's audiences, and sends only what its user sees. Catch-up and live delivery never gap
//! or repeat: the subscription is confirmed before the store is read, a live broadcast goes
//! out only if its `bseq` is the cursor + 1, and a jump (or a lagging channel) is filled from
//! the store first, as for inbox entries.

use crate::topics::{Share, TopicMap};
use std::sync::Arc;
use tidings_domain::{AppId, UserId};
use tidings_events::subjects;
use tidings_store::broadcasts::{Audience, BroadcastRow, BroadcastStore};
use tidings_store::ports::StoreResult;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// Broadcasts a session may fall behind by before it refills from the store.
const BUFFER: usize = 64;

/// Rows read from the store per page while filling.
const PAGE: usize = 500;

/// The per-app fan-out.
#[derive(Clone)]
pub struct BroadcastHub(TopicMap<BroadcastRow>);

/// A session's share of its app's subscription; dropping it leaves.
pub type BroadcastSubscription = Share<BroadcastRow>;

impl BroadcastHub {
    /// A hub on `client`.
    pub fn new(client: async_nats::Client) -> Self {
        Self(TopicMap::new(client, BUFFER, fan_out))
    }

    /// How many app subscriptions this gateway holds (one per app with a session here).
    pub fn subscriptions(&self) -> usize {
        self.0.subjects()
    }

    /// Joins `app`'s broadcasts. When this returns, NATS has registered the subscription, so
    /// every broadcast published from now on is received.
    pub async fn subscribe(&self, app: &AppId) -> Result<BroadcastSubscription, async_nats::Error> {
        self.0.hold(subjects::broadcasts(app)).await
    }
}

fn fan_out(message: &async_nats::Message, rows: &broadcast::Sender<Arc<BroadcastRow>>) {
    match rmp_serde::from_slice::<BroadcastRow>(&message.payload) {
        Ok(row) => {
            let _ = rows.send(Arc::new(row));
        }
        Err(error) => tracing::error!(%error, "unreadable broadcast"),
    }
}

/// One session's broadcast delivery.
pub struct BroadcastFeed {
    subscription: BroadcastSubscription,
    audience: Audience,
    /// The app's last `bseq` handled: sent, or not for this user.
    cursor: u64,
}

impl BroadcastFeed {
    /// Starts after `since` (the client's last `bseq`). `subscription` must be confirmed
    /// already.
    pub async fn open<S: BroadcastStore>(
        subscription: BroadcastSubscription,
        store: &S,
        app: &AppId,
        user: &UserId,
        since: u64,
    ) -> StoreResult<Self> {
        let audience = store.audience(app, user).await?;
        Ok(Self {
            subscription,
            audience,
            cursor: since,
        })
    }

    /// The app's last `bseq` handled.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next live broadcast (or how many were missed).
    pub async fn next(&mut self) -> Result<Arc<BroadcastRow>, RecvError> {
        self.subscription.receiver.recv().await
    }

    /// The next stored broadcasts for this user after the cursor, up to `until` (everything
    /// when `None`), moving the cursor past every row read; `None` when there are no more.
    pub async fn page<S: BroadcastStore>(
        &mut self,
        store: &S,
        app: &AppId,
        until: Option<u64>,
    ) -> StoreResult<Option<Vec<BroadcastRow>>> {
        if until.is_some_and(|u| self.cursor >= u) {
            return Ok(None);
        }
        let want = until.map_or(PAGE, |u| ((u - self.cursor) as usize).min(PAGE));
        let rows = store.broadcasts_after(app, self.cursor, want).await?;
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.cursor = last.bseq;
        Ok(Some(
            rows.into_iter().filter(|r| self.audience.sees(r)).collect(),
        ))
    }

    /// What to send for a live broadcast: the stored ones it shows were missed, then itself,
    /// each only if this user sees it. A tag broadcast reads the user's audiences again first
    /// (they may have changed since the session started).
    pub async fn live<S: BroadcastStore>(
        &mut self,
        store: &S,
        app: &AppId,
        user: &UserId,
        row: &BroadcastRow,
    ) -> StoreResult<Vec<BroadcastRow>> {
        if row.bseq <= self.cursor {
            return Ok(Vec::new());
        }
        if row.tag.is_some() {
            self.audience = store.audience(app, user).await?;
        }
        let mut out = Vec::new();
        while let Some(rows) = self.page(store, app, Some(row.bseq - 1)).await? {
            out.extend(rows);
        }
        if self.cursor + 1 == row.bseq {
            self.cursor = row.bseq;
            if self.audience.sees(row) {
                out.push(row.clone());
            }
        }
        Ok(out)
    }
}
