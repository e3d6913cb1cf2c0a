//! Presence across two gateway processes on one NATS (issue 14 item 4): a watcher on one
//! gateway sees a user come online on the other, stays told "online" while any of the user's
//! sessions is open on either gateway, sees a clean close at once, and sees the users of a
//! gateway killed with SIGKILL go offline within the documented bound (the presence bucket's
//! keys' 30 s TTL; docs/protocol.md).

use crate::access::{GatewayProcess, online};
use crate::harness::{Harness, within};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tidings_testkit::WsClient;

/// The documented bound for a killed gateway's sessions to go offline (the keys' 30 s TTL),
/// plus up to 3 s for the server's expiry timer and a loaded machine.
const KILLED_OFFLINE: Duration = Duration::from_secs(33);

/// The next `presence` frame, keeping the connection busy with pings while waiting up to
/// `limit` (a watcher idles while nothing changes).
async fn next_presence(ws: &mut WsClient, limit: Duration) -> Option<Value> {
    let ws = std::sync::Arc::new(tokio::sync::Mutex::new(ws));
    within(limit, || {
        let ws = ws.clone();
        async move {
            let mut ws = ws.lock().await;
            ws.send(json!({"t": "ping"})).await;
            // One frame per probe: a pong means nothing changed yet (a pong left unread after a
            // presence frame is read by the next probe, which then pings again).
            let frame = ws.next().await.expect("open connection");
            match frame["t"].as_str() {
                Some("pong") => None,
                Some("presence") => Some(frame),
                _ => panic!("unexpected frame {frame}"),
            }
        }
    })
    .await
}

async fn presence(ws: &mut WsClient) -> Value {
    next_presence(ws, Duration::from_secs(5))
        .await
        .expect("a presence frame within 5 s")
}

#[tokio::test]
async fn presence_spans_gateways_and_a_killed_gateways_users_go_offline_in_bound() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    for user in ["alice", "bob"] {
        harness.api.register(user).await;
    }
    let (mut carol, _) = harness.online("carol", 0).await;
    carol
        .send(json!({"t": "presence_subscribe", "users": ["alice", "bob"]}))
        .await;
    for user in ["alice", "bob"] {
        let frame = presence(&mut carol).await;
        assert_eq!(frame["user"], user, "{frame}");
        assert_eq!(frame["online"], false, "{frame}");
    }

    // alice comes online on the other gateway, then also here: one transition only.
    let alice_token = harness.api.user_token("alice").await;
    let alice_there = online(&other.base, &alice_token).await;
    let frame = presence(&mut carol).await;
    assert_eq!(
        (&frame["user"], &frame["online"]),
        (&json!("alice"), &json!(true))
    );
    let alice_here = online(&harness.base, &alice_token).await;

    // bob comes online and leaves cleanly; alice closing her session here is no transition
    // (her session there stays), so carol's next frames are bob's.
    let bob_token = harness.api.user_token("bob").await;
    let bob = online(&harness.base, &bob_token).await;
    let frame = presence(&mut carol).await;
    assert_eq!(
        (&frame["user"], &frame["online"]),
        (&json!("bob"), &json!(true))
    );
    alice_here.close().await;
    bob.close().await;
    let frame = presence(&mut carol).await;
    assert_eq!(
        (&frame["user"], &frame["online"]),
        (&json!("bob"), &json!(false))
    );
    assert!(frame["last_seen"].as_i64().unwrap() > 0, "{frame}");

    // SIGKILL the other gateway: its key for alice is never purged, it expires.
    let killed_at = Instant::now();
    drop(other);
    drop(alice_there);
    let frame = next_presence(&mut carol, KILLED_OFFLINE)
        .await
        .unwrap_or_else(|| panic!("alice still online {KILLED_OFFLINE:?} after the kill"));
    let took = killed_at.elapsed();
    assert_eq!(
        (&frame["user"], &frame["online"]),
        (&json!("alice"), &json!(false))
    );
    println!("a killed gateway's user went offline {took:?} after the kill");

    // A late watcher sees the current state: both offline, with when they were last seen.
    let (mut dave, _) = harness.online("dave", 0).await;
    dave.send(json!({"t": "presence_subscribe", "users": ["alice", "bob"]}))
        .await;
    for user in ["alice", "bob"] {
        let frame = presence(&mut dave).await;
        assert_eq!(frame["user"], user, "{frame}");
        assert_eq!(frame["online"], false, "{frame}");
        assert!(frame["last_seen"].as_i64().unwrap() > 0, "{frame}");
    }
}

#[tokio::test]
async fn presence_subscribe_refuses_an_empty_or_oversize_list() {
    let harness = Harness::start().await;
    let (mut carol, _) = harness.online("carol", 0).await;
    carol
        .send(json!({"t": "presence_subscribe", "id": "p1", "users": []}))
        .await;
    let answer = carol.expect_answer("p1").await;
    assert_eq!(answer["t"], "error", "{answer}");
    assert_eq!(answer["code"], "invalid_request", "{answer}");
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    carol
        .send(json!({"t": "presence_subscribe", "id": "p2", "users": many}))
        .await;
    let answer = carol.expect_answer("p2").await;
    assert_eq!(answer["code"], "invalid_request", "{answer}");
}

#[tokio::test]
async fn the_presence_query_reads_every_gateways_sessions_now() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    harness.api.register("bob").await;
    let alice_token = harness.api.user_token("alice").await;
    let _alice = online(&other.base, &alice_token).await;
    let carol = harness.api.user_token("carol").await;
    let body = json!({"users": ["alice", "bob", "alice"]});
    let answer = harness
        .api
        .post_as(&carol, "/v1/presence/query", &body)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body,
        json!({"users": [
            {"user": "alice", "online": true, "last_seen": null},
            {"user": "bob", "online": false, "last_seen": null},
        ]})
    );
    for bad in [json!({"users": []}), json!({"users": ["no such/user"]})] {
        let refused = harness
            .api
            .post_as(&carol, "/v1/presence/query", &bad)
            .await;
        assert_eq!(refused.status, 400, "{bad}: {:?}", refused.body);
        assert!(refused.body["code"].is_string(), "{:?}", refused.body);
    }
}

/// The documented bound for app servers to hear that a killed gateway's user went offline:
/// the keys' 30 s TTL, or, when the killed gateway held the folder lease, its 30 s TTL plus up
/// to 10 s until another gateway retries; plus 3 s of slack.
const APP_SERVER_OFFLINE: Duration = Duration::from_secs(43);

/// The next presence change an app server hears, within `limit`.
async fn next_change(changes: &mut async_nats::Subscriber, limit: Duration) -> Option<Value> {
    use futures_util::StreamExt;
    let message = tokio::time::timeout(limit, changes.next()).await.ok()??;
    Some(serde_json::from_slice(&message.payload).expect("a JSON presence change"))
}

#[tokio::test]
async fn app_servers_hear_presence_changes_on_nats_including_a_killed_gateways() {
    let harness = Harness::start().await;
    let client = harness.nats.client().await;
    let mut changes = client.subscribe("tid.presence.dev.>").await.unwrap();
    client.flush().await.unwrap();
    let other = GatewayProcess::start(&harness);

    let alice_token = harness.api.user_token("alice").await;
    let alice = online(&other.base, &alice_token).await;
    let change = next_change(&mut changes, Duration::from_secs(5))
        .await
        .expect("alice online within 5 s");
    assert_eq!(change["user"], "alice", "{change}");
    assert_eq!(change["online"], true, "{change}");

    // Either gateway may hold the folder lease. When the killed one held it, the other takes
    // over once the lease expires and re-announces recent states (alice still online if her
    // key has not expired yet) before the offline change.
    let killed_at = Instant::now();
    drop(other);
    drop(alice);
    let change = loop {
        let left = APP_SERVER_OFFLINE.saturating_sub(killed_at.elapsed());
        let change = next_change(&mut changes, left)
            .await
            .unwrap_or_else(|| panic!("no offline change {APP_SERVER_OFFLINE:?} after the kill"));
        assert_eq!(change["user"], "alice", "{change}");
        if change["online"] == false {
            break change;
        }
    };
    assert!(change["last_seen"].as_i64().unwrap() > 0, "{change}");
    println!(
        "app servers heard a killed gateway's user go offline {:?} after the kill",
        killed_at.elapsed()
    );
}

/// Both gateways are separate `tidings gateway` processes (the all-in-one server of the
/// harness runs the projector and the folder too): a watcher on one sees a user of the other
/// come online, then go offline within the bound after that gateway is SIGKILLed, and the
/// user's device list, read through the surviving gateway, shows the device offline.
#[tokio::test]
async fn a_killed_gateway_process_s_users_go_offline_for_watchers_on_another_process() {
    let harness = Harness::start().await;
    let first = GatewayProcess::start(&harness);
    let second = GatewayProcess::start(&harness);
    harness.api.register("alice").await;
    let carol_token = harness.api.user_token("carol").await;
    let mut carol = online(&second.base, &carol_token).await;
    carol
        .send(json!({"t": "presence_subscribe", "users": ["alice"]}))
        .await;
    assert_eq!(presence(&mut carol).await["online"], false);

    let alice_token = harness.api.user_token("alice").await;
    let alice = online(&first.base, &alice_token).await;
    let frame = presence(&mut carol).await;
    assert_eq!(
        (&frame["user"], &frame["online"]),
        (&json!("alice"), &json!(true))
    );

    let killed_at = Instant::now();
    drop(first);
    drop(alice);
    let frame = next_presence(&mut carol, KILLED_OFFLINE)
        .await
        .unwrap_or_else(|| panic!("alice still online {KILLED_OFFLINE:?} after the kill"));
    assert_eq!(
        (&frame["user"], &frame["online"]),
        (&json!("alice"), &json!(false))
    );
    println!(
        "a killed gateway process's user went offline for a watcher on another process {:?} after the kill",
        killed_at.elapsed()
    );
    let listed = tidings_testkit::ServerApi::new(&second.base, "unused", "unused")
        .get_as(&alice_token, "/v1/devices")
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let device = &listed.body["devices"][0];
    assert_eq!(device["device"], "default", "{device}");
    assert_eq!(device["online"], false, "{device}");
    assert!(device["last_seen"].as_i64().unwrap() > 0, "{device}");
}
