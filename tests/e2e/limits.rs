//! Per-user and per-app limits (issue 16): a user's messages per second count over all their
//! connections, on every gateway, and an app's server-API requests per second are capped;
//! both answer `rate_limited` with when to try again.

use crate::access::online;
use crate::apps::{Process, admin_of, create, credential};
use crate::harness::{Harness, until};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tidings_testkit::ServerApi;

fn unix_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_users_limit_holds_across_two_connections_on_two_gateways() {
    let h = Harness::start().await;
    let gateway = Process::start("gateway", &h, &[]);
    let admin = admin_of(&h.base, &credential(&h));
    let limit = 3;
    let secret = create(
        &admin,
        json!({"key": "limited", "settings": {"user_msgs_per_sec": limit}}),
    )
    .await;
    let api = ServerApi::new(&h.base, "limited", &secret);
    api.register("bob").await;
    let token = api.user_token("alice").await;
    let mut here = online(&h.base, &token).await;
    let mut there = online(&gateway.base, &token).await;

    let first = unix_second();
    let (mut sent, mut refused) = (0, Vec::new());
    for i in 0..16 {
        let ws = if i % 2 == 0 { &mut here } else { &mut there };
        let answer = ws
            .send_text(&i.to_string(), "bob", &format!("m{i}"), "hi")
            .await;
        match answer["t"].as_str() {
            Some("sent") => sent += 1,
            _ => refused.push(answer),
        }
    }
    let windows = unix_second() - first + 1;
    // Counted per connection, each would pass `limit` per second on its own.
    assert!(
        sent <= limit * windows,
        "{sent} sent over {windows} one-second windows"
    );
    assert!(sent >= limit, "{sent} sent: {refused:?}");
    for answer in &refused {
        assert_eq!(answer["code"], "rate_limited", "{answer}");
        let retry = answer["retry_after_ms"].as_u64().unwrap();
        assert!((1..=1000).contains(&retry), "{answer}");
    }

    // Once the window passes, the user may send again.
    let there = tokio::sync::Mutex::new(there);
    let attempt = AtomicU64::new(100);
    until("the next window", || async {
        let n = attempt.fetch_add(1, Ordering::Relaxed);
        let mut ws = there.lock().await;
        let answer = ws
            .send_text(&n.to_string(), "bob", &format!("m{n}"), "again")
            .await;
        (answer["t"] == "sent").then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_apps_server_api_limit_answers_retry_after() {
    let h = Harness::start().await;
    let admin = admin_of(&h.base, &credential(&h));
    let secret = create(
        &admin,
        json!({"key": "metered", "settings": {"server_api_per_sec": 2}}),
    )
    .await;
    let api = ServerApi::new(&h.base, "metered", &secret);
    let mut replies = Vec::new();
    for i in 0..8 {
        replies.push(api.register(&format!("u{i}")).await);
    }
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty(), "{replies:?}");
    for reply in limited {
        assert_eq!(reply.body["code"], "rate_limited", "{:?}", reply.body);
        assert!(reply.body["retry_after_ms"].as_u64().unwrap() >= 1);
        assert_eq!(reply.retry_after.as_deref(), Some("1"), "{reply:?}");
    }
}
