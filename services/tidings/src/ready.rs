//! The readiness checks a `tidings` process adds to the api's NATS check: its local
//! nats-server (when `up` supervises one), its projector (when it runs one), and the
//! projection's lag behind the events stream (wherever read models are served). Their answers
//! say what is wrong, never the underlying error (paths, addresses): `/readyz` answers anyone,
//! and the errors are logged where they are handled.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tidings_api::health::ReadyCheck;
use tidings_runtime::nats_server::ChildState;
use tidings_store::ReadModels;
use tokio::sync::watch;

/// Ready while the supervised local nats-server runs.
pub struct LocalNats(pub watch::Receiver<ChildState>);

impl ReadyCheck for LocalNats {
    fn check(&self) -> BoxFuture<'_, Result<Option<u64>, String>> {
        let state = self.0.borrow().clone();
        async move {
            match state {
                ChildState::Running => Ok(None),
                ChildState::Down { attempt, .. } => Err(format!(
                    "the local nats-server is down; restart attempt {attempt} pending"
                )),
            }
        }
        .boxed()
    }
}

/// Ready while this process's projector runs every partition it holds.
pub struct Projector(pub tidings_projector::Status);

impl ReadyCheck for Projector {
    fn check(&self) -> BoxFuture<'_, Result<Option<u64>, String>> {
        let problem = self.0.problem();
        async move { problem.map_or(Ok(None), Err) }.boxed()
    }
}

/// How long a measured lag is reused: readiness is polled often, and one stream-info request
/// per poll per process is needless load on NATS.
const LAG_CACHE: Duration = Duration::from_millis(250);

/// Ready while the projection is at most `max_lag` events behind the events stream.
pub struct Lag<S> {
    store: S,
    js: async_nats::jetstream::Context,
    partitions: u32,
    max_lag: u64,
    measured: Mutex<Option<(Instant, u64)>>,
}

impl<S: ReadModels> Lag<S> {
    /// Measures the lag of the `partitions` partitions' checkpoints in `store`.
    pub fn new(store: S, client: async_nats::Client, partitions: u32, max_lag: u64) -> Self {
        Self {
            store,
            js: async_nats::jetstream::new(client),
            partitions,
            max_lag,
            measured: Mutex::new(None),
        }
    }

    async fn lag(&self) -> Result<u64, String> {
        let cached = *self.measured.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, lag)) = cached
            && at.elapsed() < LAG_CACHE
        {
            return Ok(lag);
        }
        let lag = tidings_projector::health::lag(&self.store, &self.js, self.partitions)
            .await
            .map_err(|error| {
                // Polled every few seconds: an outage already logged elsewhere, at error.
                tracing::debug!(error = %format!("{error:#}"), "measuring the projection's lag failed");
                "cannot measure the projection's lag (events stream or store unavailable)"
                    .to_owned()
            })?;
        *self.measured.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), lag));
        Ok(lag)
    }
}

impl<S: ReadModels> ReadyCheck for Lag<S> {
    fn check(&self) -> BoxFuture<'_, Result<Option<u64>, String>> {
        async move {
            let lag = self.lag().await?;
            if lag > self.max_lag {
                return Err(format!(
                    "the projection is {lag} events behind the stream (ready_max_lag is {})",
                    self.max_lag
                ));
            }
            Ok(Some(lag))
        }
        .boxed()
    }
}
