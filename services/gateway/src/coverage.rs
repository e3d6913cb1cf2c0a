//! How far the read models are: the lowest checkpoint among the projector's partitions, as an
//! events-stream position. A read that names `min_pos` (a write's `pos`) waits until the read
//! models cover it, for a bounded time, so a client reads its own writes. A position past the
//! events stream's end names no write: it is refused at once rather than waited for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_store::{ProjectionStore, StoreError};
use tokio::time::Instant;

/// First pause between two looks at the checkpoints; it doubles up to `MAX_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const MAX_PAUSE: Duration = Duration::from_millis(16);

/// The read models' position, learnt from the store's checkpoints.
pub struct Coverage<S> {
    store: S,
    /// Where the events stream's end is read, for positions the read models have not reached.
    js: async_nats::jetstream::Context,
    /// Checkpoint keys of every partition of the projector's layout.
    projections: Vec<String>,
    /// The highest coverage seen: checkpoints never move back.
    known: AtomicU64,
    /// Longest wait for a position before answering `unavailable`.
    timeout: Duration,
}

impl<S: ProjectionStore> Coverage<S> {
    /// Coverage of the partitions named `projections`, waiting at most `timeout`.
    pub fn new(
        store: S,
        js: async_nats::jetstream::Context,
        projections: Vec<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            store,
            js,
            projections,
            known: AtomicU64::new(0),
            timeout,
        }
    }

    /// The highest position known to be covered, without reading the store.
    pub fn known(&self) -> u64 {
        self.known.load(Ordering::Acquire)
    }

    /// Reads the checkpoints: every event up to the returned position is in the read models.
    pub async fn refresh(&self) -> Result<u64, StoreError> {
        let mut lowest = u64::MAX;
        for projection in &self.projections {
            lowest = lowest.min(self.store.checkpoint(projection).await?);
        }
        let lowest = if lowest == u64::MAX { 0 } else { lowest };
        Ok(self.known.fetch_max(lowest, Ordering::AcqRel).max(lowest))
    }

    /// The events stream's last sequence: every write's `pos` is at or below it.
    async fn stream_end(&self) -> Result<u64, ApiError> {
        let stream = self
            .js
            .get_stream(tidings_events::subjects::EVENTS_STREAM)
            .await
            .map_err(|e| ApiError::unavailable("reading the events stream's end", e))?;
        Ok(stream.cached_info().state.last_sequence)
    }

    /// Returns once the read models cover `pos`, or `unavailable` (with the position reached,
    /// to retry later) when they do not within the timeout; `invalid_request` at once for a
    /// position past the events stream's end, which no write answered.
    pub async fn wait_for(&self, pos: u64) -> Result<(), ApiError> {
        if self.known() >= pos {
            return Ok(());
        }
        let end = self.stream_end().await?;
        if pos > end {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "min_pos {pos} is past the events stream's end ({end}): no write answered it"
                ),
            ));
        }
        let deadline = Instant::now() + self.timeout;
        let mut pause = FIRST_PAUSE;
        loop {
            let reached = self
                .refresh()
                .await
                .map_err(|e| ApiError::unavailable("reading the projector's checkpoints", e))?;
            if reached >= pos {
                return Ok(());
            }
            if Instant::now() + pause > deadline {
                tracing::warn!(pos, reached, "read models did not reach a position in time");
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "the read models have not reached position {pos} yet (at {reached}): \
                         retry shortly"
                    ),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}
