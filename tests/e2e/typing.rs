//! Typing across two gateway processes (issue 14 item 5): a member's `typing` reaches the
//! other members' open sessions on either gateway and nobody else (not the sender, not a
//! non-member), is rate-limited per conversation, and is never stored: a member who was
//! offline finds nothing of it in the catch-up or the inbox.

use crate::access::{GatewayProcess, online};
use crate::harness::Harness;
use serde_json::{Value, json};
use tidings_testkit::WsClient;

/// Pings and returns the frames that arrived before the pong (everything already relayed to
/// this session, since frames to one session keep their order).
async fn drain(ws: &mut WsClient) -> Vec<Value> {
    ws.send(json!({"t": "ping"})).await;
    let mut frames = Vec::new();
    loop {
        let frame = ws.next().await.expect("open connection");
        if frame["t"] == "pong" {
            return frames;
        }
        frames.push(frame);
    }
}

/// The next frame that is not an entry.
async fn next_non_entry(ws: &mut WsClient) -> Value {
    loop {
        let frame = ws.next().await.expect("open connection");
        if frame["t"] != "entry" {
            return frame;
        }
    }
}

#[tokio::test]
async fn typing_reaches_only_online_members_and_is_never_stored() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    harness.api.register("dave").await;
    let (mut alice, _) = harness.online("alice", 0).await;
    let (mut carol, _) = harness.online("carol", 0).await;
    let bob_token = harness.api.user_token("bob").await;
    let mut bob = online(&other.base, &bob_token).await;

    alice
        .send(
            json!({"t": "group", "id": "g", "group": "team", "op": "create",
                     "name": "Team", "members": ["bob", "dave"]}),
        )
        .await;
    let created = alice.expect_answer("g").await;
    assert_eq!(created["t"], "group", "{created}");
    let entry = bob.expect("entry").await;
    assert_eq!(entry["kind"], "group_created", "{entry}");

    // A group member's typing reaches bob on the other gateway, not the sender.
    alice
        .send(json!({"t": "typing", "conv": "g~team", "state": "typing"}))
        .await;
    let frame = next_non_entry(&mut bob).await;
    assert_eq!(
        frame,
        json!({"t": "typing", "conv": "g~team", "user": "alice", "state": "typing", "expires_in": 6})
    );
    let to_alice = drain(&mut alice).await;
    assert!(to_alice.iter().all(|f| f["t"] == "entry"), "{to_alice:?}");

    // A non-member is refused and hears nothing.
    carol
        .send(json!({"t": "typing", "conv": "g~team", "state": "typing"}))
        .await;
    let refused = next_non_entry(&mut carol).await;
    assert_eq!(refused["t"], "error", "{refused}");
    assert_eq!(refused["code"], "not_member", "{refused}");
    carol
        .send(json!({"t": "typing", "conv": "d~alice~bob", "state": "typing"}))
        .await;
    assert_eq!(next_non_entry(&mut carol).await["code"], "not_member");

    // Direct conversation; a second notice for it within 2 s is dropped: bob's next frame
    // after the first one is alice's message, sent after the dropped notice.
    alice
        .send(json!({"t": "typing", "conv": "d~alice~bob", "state": "typing"}))
        .await;
    let frame = next_non_entry(&mut bob).await;
    assert_eq!(frame["conv"], "d~alice~bob", "{frame}");
    alice
        .send(json!({"t": "typing", "conv": "d~alice~bob", "state": "paused"}))
        .await;
    let sent = alice.send_text("m", "bob", "c1", "hi").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    let next = bob.next().await.expect("open connection");
    assert_eq!(
        next["t"], "entry",
        "the paused notice was rate-limited: {next}"
    );
    assert_eq!(next["msg_id"], sent["msg_id"]);
    assert!(drain(&mut carol).await.is_empty(), "carol heard nothing");

    // dave was offline throughout: his catch-up and inbox hold the group, no typing.
    let (_dave, catch_up) = harness.online("dave", 0).await;
    assert!(!catch_up.is_empty());
    for entry in &catch_up {
        assert_ne!(entry["kind"], "typing", "{entry}");
    }
    let dave_token = harness.api.user_token("dave").await;
    let inbox = harness.api.get_as(&dave_token, "/v1/inbox").await;
    assert_eq!(inbox.status, 200, "{:?}", inbox.body);
    let text = inbox.body.to_string();
    assert!(!text.contains("typing"), "{text}");
    assert!(text.contains("group_created"), "{text}");
}
