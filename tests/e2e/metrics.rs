//! `GET /metrics`: Prometheus text with the metrics docs/deploy.md lists, moving under traffic.
//! The recorder is process-wide, so other tests in this binary add to the same counters: the
//! assertions are lower bounds.

use crate::harness::{Harness, eventually};
use tidings_testkit::WsClient;

/// The value of the first sample whose line starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_commands_deliveries_commits_and_connections() {
    let harness = Harness::start().await;
    harness.api.register("bob").await;
    let (mut alice, _) = harness.online("alice", 0).await;
    for i in 0..5 {
        let sent = alice
            .send_text(&i.to_string(), "bob", &format!("m{i}"), "hi")
            .await;
        assert_eq!(sent["t"], "sent");
    }
    let refused = WsClient::connect(&harness.base, "not-a-token", false).await;
    assert_eq!(refused.err().map(|r| r.0), Some(401));

    let http = tidings_runtime::outbound::client().build().unwrap();
    let scrape = || async {
        let response = http
            .get(format!("{}/metrics", harness.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    // Deliveries and commits are recorded by the projector after the sends were answered.
    eventually("the projector's metrics", || async {
        let text = scrape().await;
        sample(&text, "tidings_delivery_seconds_count").unwrap_or(0.0) >= 5.0
            && sample(&text, "tidings_store_commit_seconds_count").unwrap_or(0.0) >= 1.0
            // Alice's own copies of her messages, written to her connection.
            && sample(&text, "tidings_ws_push_seconds_count").unwrap_or(0.0) >= 5.0
    })
    .await;
    let text = scrape().await;
    let at_least = |prefix: &str, min: f64| {
        let value = sample(&text, prefix).unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
        assert!(value >= min, "{prefix} = {value}, expected >= {min}");
    };
    at_least(r#"tidings_commands_total{kind="send",code="ok"}"#, 5.0);
    at_least(r#"tidings_command_seconds_count{kind="send"}"#, 5.0);
    at_least("tidings_jetstream_publish_seconds_count", 5.0);
    at_least(r#"tidings_ws_handshakes_total{outcome="accepted"}"#, 1.0);
    at_least(
        r#"tidings_ws_handshakes_total{outcome="unauthorized"}"#,
        1.0,
    );
    at_least("tidings_ws_connections", 1.0);
    at_least(r#"tidings_projector_lag_events{projection="inbox"}"#, 0.0);
    at_least("tidings_projector_batch_events_count", 1.0);
    at_least("tidings_projector_receive_seconds_count", 1.0);
    at_least("tidings_projector_fold_seconds_count", 1.0);
    assert!(
        text.contains("# TYPE tidings_command_seconds histogram"),
        "{text}"
    );
    harness.stop().await;
}
