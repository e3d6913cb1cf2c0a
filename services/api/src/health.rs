//! Liveness and readiness. `/healthz` answers 200 while the process serves HTTP at all;
//! `/readyz` answers 200 only while the process can do its work (NATS connected, and whatever
//! else the process adds: its projector running, the projection within its lag bound), and
//! otherwise 503 `unavailable` saying why, so a load balancer routes around it.

use crate::error::{ApiError, ErrorCode};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A condition `/readyz` checks: `Ok(Some(lag))` for a projection `lag` events behind the
/// stream, `Ok(None)` when it holds and has no lag to report, `Err(reason)` when the process
/// is not ready.
pub trait ReadyCheck: Send + Sync + 'static {
    /// Checks the condition. Keep it cheap: load balancers call it every few seconds.
    fn check(&self) -> BoxFuture<'_, Result<Option<u64>, String>>;
}

/// Everything `/readyz` checks, in order; the first failure is the answer.
#[derive(Clone)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadyCheck>>,
}

/// Ready while the client is connected to NATS.
struct NatsConnected(async_nats::Client);

impl ReadyCheck for NatsConnected {
    fn check(&self) -> BoxFuture<'_, Result<Option<u64>, String>> {
        use async_nats::connection::State;
        let state = self.0.connection_state();
        Box::pin(async move {
            match state {
                State::Connected => Ok(None),
                State::Disconnected | State::Pending => Err("not connected to NATS".to_owned()),
            }
        })
    }
}

/// How long one added check may take before it counts as failed (a NATS request to a frozen
/// server would otherwise wait for the client's request timeout).
const CHECK_LIMIT: Duration = Duration::from_secs(2);

impl Readiness {
    /// Ready while `client` is connected.
    pub fn new(client: async_nats::Client) -> Self {
        Self {
            checks: vec![Arc::new(NatsConnected(client))],
        }
    }

    /// Adds a check, run after those already added.
    pub fn with(mut self, check: impl ReadyCheck) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Adds a check run before all others: one whose failure explains theirs (the local
    /// nats-server being down explains the lost connection).
    pub fn first(mut self, check: impl ReadyCheck) -> Self {
        self.checks.insert(0, Arc::new(check));
        self
    }

    /// The projection lag (the largest any check reported), or why the process is not ready.
    pub async fn check(&self) -> Result<Option<u64>, String> {
        let mut lag = None;
        for check in &self.checks {
            match tokio::time::timeout(CHECK_LIMIT, check.check()).await {
                Ok(Ok(reported)) => lag = lag.max(reported),
                Ok(Err(reason)) => return Err(reason),
                Err(_) => return Err(format!("a readiness check took over {CHECK_LIMIT:?}")),
            }
        }
        Ok(lag)
    }
}

async fn ready(State(readiness): State<Readiness>) -> Response {
    match readiness.check().await {
        Ok(Some(lag)) => Json(json!({ "status": "ready", "lag": lag })).into_response(),
        Ok(None) => Json(json!({ "status": "ready" })).into_response(),
        Err(reason) => ApiError::new(ErrorCode::Unavailable, reason).into_response(),
    }
}

/// `GET /metrics`: the process's metrics in Prometheus' text format.
async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        tidings_runtime::metrics::render(),
    )
        .into_response()
}

/// `GET /healthz` (liveness: 200 `ok` while the process serves), `GET /readyz` (readiness:
/// 200 `{"status":"ready","lag":N}`, or 503 `unavailable` with the reason) and `GET /metrics`.
pub fn router(readiness: Readiness) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(ready))
        .route("/metrics", axum::routing::get(metrics))
        .with_state(readiness)
}
