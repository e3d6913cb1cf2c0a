//! Prometheus metrics: every metric's name and meaning, the process-wide recorder, and its text
//! rendering for `GET /metrics`. Services record through the `metrics` crate's macros with the
//! names below; with no recorder installed (`TIDINGS_METRICS=off`) recording costs nothing.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Commands by `kind` (send, relate, group, read, upsert_user, deactivate, revoke_tokens,
/// send_system) and `code` (`ok` or the error code answered).
pub const COMMANDS: &str = "tidings_commands_total";
/// Command latency by `kind`, from the command handler's start to its answer.
pub const COMMAND_SECONDS: &str = "tidings_command_seconds";
/// JetStream publish latency (send to acknowledgement) of an event.
pub const PUBLISH_SECONDS: &str = "tidings_jetstream_publish_seconds";
/// Publishes that found the subject moved (`reason`: `stale` or `duplicate`) and were decided
/// again.
pub const PUBLISH_CONFLICTS: &str = "tidings_jetstream_conflicts_total";
/// From an event's time to its live push being published, per delivered entry.
pub const DELIVERY_SECONDS: &str = "tidings_delivery_seconds";
/// From an event's storing in the stream to the projector receiving it, per batch (its first,
/// oldest event): how long the consumer's delivery took.
pub const PROJECTOR_RECEIVE_SECONDS: &str = "tidings_projector_receive_seconds";
/// Folding one projector batch into writes (the rows it reads included), per batch.
pub const PROJECTOR_FOLD_SECONDS: &str = "tidings_projector_fold_seconds";
/// From an event's time to its live push being handed to a WebSocket (before the burst's
/// flush), per delivered entry: the gateway's side of `tidings_delivery_seconds`.
pub const WS_PUSH_SECONDS: &str = "tidings_ws_push_seconds";
/// Events the projector's consumer still has to deliver, by `projection` (a partition).
pub const PROJECTOR_LAG: &str = "tidings_projector_lag_events";
/// Events per projector batch.
pub const PROJECTOR_BATCH: &str = "tidings_projector_batch_events";
/// Latency of one atomic store commit of a projector batch.
pub const STORE_COMMIT_SECONDS: &str = "tidings_store_commit_seconds";
/// Open WebSocket sessions.
pub const CONNECTIONS: &str = "tidings_ws_connections";
/// WebSocket upgrade requests by `outcome` (`accepted` or the error code).
pub const HANDSHAKES: &str = "tidings_ws_handshakes_total";
/// Sessions closed because their access ended (tokens revoked, user deactivated).
pub const ACCESS_CLOSES: &str = "tidings_ws_access_closes_total";
/// Times a session fell behind its live entries and refilled from the store.
pub const PUSH_LAGGED: &str = "tidings_ws_push_lagged_total";
/// Requests refused by a rate limit, by `scope` (`frames`: a connection's frames; `user`: a
/// user's messages; `server_api`: an app's signed requests).
pub const RATE_LIMITED: &str = "tidings_rate_limited_total";
/// Messages parked on the dead-letter stream, by `source` (`inbound`, `projector` or
/// `feed_webhook`).
pub const DEAD_LETTERS: &str = "tidings_dead_letters_total";
/// Before-send hook calls by `transport` (`nats`, `http`) and `outcome` (`allow`, `reject`,
/// `rewrite`, `timeout`, `error`).
pub const HOOK_CALLS: &str = "tidings_hook_calls_total";
/// Before-send hook latency by `transport`, from the call to its answer (or its timeout).
pub const HOOK_SECONDS: &str = "tidings_hook_seconds";
/// Text bodies a sensitive-word list matched, by `action` (`reject`, `mask`).
pub const WORD_MATCHES: &str = "tidings_word_matches_total";
/// Public feed records published, by `kind`.
pub const FEED_RECORDS: &str = "tidings_feed_records_total";
/// Feed webhook deliveries by `outcome`: `delivered`, `retried` or `dead`.
pub const FEED_WEBHOOK_DELIVERIES: &str = "tidings_feed_webhook_deliveries_total";
/// Offline push jobs produced (after collapsing bursts).
pub const PUSH_JOBS: &str = "tidings_push_jobs_total";
/// Push jobs delivered, by provider.
pub const PUSH_SENT: &str = "tidings_push_sent_total";
/// Push jobs given up on, by provider and reason.
pub const PUSH_FAILED: &str = "tidings_push_failed_total";

/// Bucket bounds of the latency histograms, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Bucket bounds of the batch-size histogram.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// How often histograms are drained into their buckets when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle), unless
/// `TIDINGS_METRICS=off`. Must run inside a tokio runtime (it starts the upkeep task).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            if std::env::var("TIDINGS_METRICS").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
                return None;
            }
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(PROJECTOR_BATCH.into()), BATCH_BUCKETS)
                })
                .expect("bucket bounds are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(%error, "a metrics recorder was already installed");
                return None;
            }
            describe();
            let upkeep = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(UPKEEP).await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

/// The metrics in Prometheus' text format (empty when metrics are off).
pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

fn describe() {
    describe_counter!(COMMANDS, "Commands by kind and outcome code");
    describe_histogram!(COMMAND_SECONDS, Unit::Seconds, "Command latency by kind");
    describe_histogram!(PUBLISH_SECONDS, Unit::Seconds, "JetStream publish latency");
    describe_counter!(PUBLISH_CONFLICTS, "Publishes that conflicted, by reason");
    describe_histogram!(
        DELIVERY_SECONDS,
        Unit::Seconds,
        "Event time to live push published"
    );
    describe_histogram!(
        PROJECTOR_RECEIVE_SECONDS,
        Unit::Seconds,
        "Stream storing to projector receipt, per batch"
    );
    describe_histogram!(
        PROJECTOR_FOLD_SECONDS,
        Unit::Seconds,
        "Folding a projector batch into writes"
    );
    describe_histogram!(
        WS_PUSH_SECONDS,
        Unit::Seconds,
        "Event time to live push written to a WebSocket"
    );
    describe_gauge!(PROJECTOR_LAG, "Events not yet delivered to a projection");
    describe_histogram!(PROJECTOR_BATCH, "Events per projector batch");
    describe_histogram!(STORE_COMMIT_SECONDS, Unit::Seconds, "Store commit latency");
    describe_gauge!(CONNECTIONS, "Open WebSocket sessions");
    describe_counter!(
        PUSH_JOBS,
        "Offline push jobs produced, after collapsing bursts"
    );
    describe_counter!(PUSH_SENT, "Push jobs delivered, by provider");
    describe_counter!(PUSH_FAILED, "Push jobs given up on, by provider and reason");
    describe_counter!(HANDSHAKES, "WebSocket upgrades by outcome");
    describe_counter!(ACCESS_CLOSES, "Sessions closed because access ended");
    describe_counter!(
        PUSH_LAGGED,
        "Sessions that refilled from the store after lagging"
    );
    describe_counter!(RATE_LIMITED, "Client frames refused by the rate limit");
    describe_counter!(DEAD_LETTERS, "Messages parked on the dead-letter stream");
    describe_counter!(
        HOOK_CALLS,
        "Before-send hook calls by transport and outcome"
    );
    describe_histogram!(HOOK_SECONDS, Unit::Seconds, "Before-send hook latency");
    describe_counter!(WORD_MATCHES, "Text bodies a sensitive-word list matched");
    describe_counter!(FEED_RECORDS, "Public feed records published");
    describe_counter!(
        FEED_WEBHOOK_DELIVERIES,
        "Feed webhook deliveries by outcome"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        COMMANDS,
        COMMAND_SECONDS,
        PUBLISH_SECONDS,
        PUBLISH_CONFLICTS,
        DELIVERY_SECONDS,
        PROJECTOR_LAG,
        PROJECTOR_BATCH,
        STORE_COMMIT_SECONDS,
        CONNECTIONS,
        HANDSHAKES,
        ACCESS_CLOSES,
        PUSH_LAGGED,
        RATE_LIMITED,
        DEAD_LETTERS,
        HOOK_CALLS,
        HOOK_SECONDS,
        WORD_MATCHES,
        PUSH_JOBS,
        PUSH_SENT,
        PUSH_FAILED,
    ];

    /// The dashboard and alert rules under `deploy/` name only metrics that exist.
    #[test]
    fn deploy_files_name_only_real_metrics() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        for file in ["grafana/tidings.json", "prometheus/alerts.yml"] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let mut named = 0;
            for (at, _) in text.match_indices("tidings_") {
                let name: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name);
                assert!(
                    ALL.contains(&base),
                    "{file} names {name}, which is no metric"
                );
                named += 1;
            }
            assert!(named > 5, "{file} names {named} metrics");
        }
    }
}
