//! One-to-one messaging with both users online.

use crate::harness::{Harness, eventually};
use serde_json::json;
use tidings_testkit::WsClient;

#[tokio::test]
async fn alice_sends_to_bob_both_online() {
    let h = Harness::start().await;
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut alice, _) = h.online("alice", 0).await;

    let sent = alice.send_text("r1", "bob", "c-1", "hello bob").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert_eq!(sent["conv_seq"], 1);
    assert_eq!(sent["conv"], "d~alice~bob");
    let msg_id = sent["msg_id"].as_str().unwrap().to_owned();

    let entry = bob.expect("entry").await;
    assert_eq!(entry["kind"], "message");
    assert_eq!(entry["seq"], 1);
    assert_eq!(entry["from"], "alice");
    assert_eq!(entry["to"], json!({"user": "bob"}));
    assert_eq!(entry["body"], json!({"type": "text", "text": "hello bob"}));
    assert_eq!(entry["msg_id"], msg_id.as_str());

    // alice's own inbox holds it too (her other devices see it).
    let own = alice.expect("entry").await;
    assert_eq!(own["msg_id"], msg_id.as_str());

    for user in ["alice", "bob"] {
        let token = h.api.user_token(user).await;
        let inbox = h.api.get_as(&token, "/v1/inbox?after=0").await;
        assert_eq!(inbox.status, 200);
        assert_eq!(inbox.body["last_seq"], 1);
        assert_eq!(inbox.body["entries"][0]["msg_id"], msg_id.as_str());

        let convs = h.api.get_as(&token, "/v1/conversations").await;
        let row = &convs.body["conversations"][0];
        assert_eq!(row["conv"], "d~alice~bob");
        assert_eq!(row["last_seq"], 1);
        let expected_unread = if user == "bob" { 1 } else { 0 };
        assert_eq!(row["unread"], expected_unread, "{user}: {row}");

        let history = h
            .api
            .get_as(&token, "/v1/conversations/d~alice~bob/messages")
            .await;
        assert_eq!(history.body["messages"][0]["msg_id"], msg_id.as_str());
    }
}

#[tokio::test]
async fn server_api_send_reaches_the_websocket_and_msgpack_clients() {
    let h = Harness::start().await;
    h.api.register("alice").await;
    let token = h.api.user_token("bob").await;
    let mut bob = WsClient::connect(&h.base, &token, true).await.unwrap();
    bob.hello(0).await;
    assert!(bob.until_synced().await.is_empty());

    let r = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "srv-1",
                    "body": {"type": "custom", "data": {"card": [1, 2]}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["t"], "sent");
    assert_eq!(r.body["conv_seq"], 1);

    let entry = bob.expect("entry").await;
    assert_eq!(
        entry["body"],
        json!({"type": "custom", "data": {"card": [1, 2]}})
    );

    // ping / pong and sync over MessagePack too.
    bob.send(json!({"t": "ping"})).await;
    bob.expect("pong").await;
    bob.send(json!({"t": "sync", "id": "s1", "after": 0, "limit": 10}))
        .await;
    let page = bob.expect("page").await;
    assert_eq!(page["id"], "s1");
    assert_eq!(page["last_seq"], 1);
    assert_eq!(page["entries"][0]["seq"], 1);

    // ack records the device's position.
    bob.send(json!({"t": "ack", "seq": 1})).await;
    let store = h.store.clone();
    let app_key = h.api.app_key.clone();
    eventually("device ack stored", || {
        let (store, app_key) = (store.clone(), app_key.clone());
        async move {
            use tidings_store::DeviceStore;
            let app = tidings_domain::AppId::parse(app_key).unwrap();
            let bob = tidings_domain::UserId::parse("bob").unwrap();
            store.device_ack(&app, &bob, "default").await.unwrap() == 1
        }
    })
    .await;
}

#[tokio::test]
async fn read_markers_move_the_conversation_and_send_a_receipt() {
    let h = Harness::start().await;
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut alice, _) = h.online("alice", 0).await;
    for i in 1..=3 {
        alice
            .send_text(&format!("r{i}"), "bob", &format!("c{i}"), "hi")
            .await;
        bob.expect("entry").await;
    }
    bob.send(json!({"t": "read", "conv": "d~alice~bob", "conv_seq": 2}))
        .await;
    // bob's other devices and alice (a read receipt) get a `read` entry.
    let receipt = loop {
        let e = alice.expect("entry").await;
        if e["kind"] == "read" {
            break e;
        }
    };
    assert_eq!(
        (receipt["user"].as_str(), receipt["conv_seq"].as_u64()),
        (Some("bob"), Some(2))
    );
    assert_eq!(bob.expect("entry").await["kind"], "read");
    let token = h.api.user_token("bob").await;
    let row = &h.api.get_as(&token, "/v1/conversations").await.body["conversations"][0];
    assert_eq!(
        (row["read_seq"].as_u64(), row["unread"].as_u64()),
        (Some(2), Some(1))
    );

    // Over REST too; backwards is a no-op, beyond the newest message or a foreign
    // conversation is refused.
    let r = h
        .api
        .post_as(
            &token,
            "/v1/conversations/d~alice~bob/read",
            &json!({"conv_seq": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    eventually("all read", || async {
        h.api.get_as(&token, "/v1/conversations").await.body["conversations"][0]["unread"] == 0
    })
    .await;
    bob.send(json!({"t": "read", "conv": "d~alice~bob", "conv_seq": 9}))
        .await;
    loop {
        let frame = bob.next().await.unwrap();
        if frame["t"] == "error" {
            assert_eq!(frame["code"], "invalid_request");
            break;
        }
    }
    let r = h
        .api
        .post_as(
            &token,
            "/v1/conversations/d~carol~dave/read",
            &json!({"conv_seq": 1}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
}

#[tokio::test]
async fn system_messages_reach_the_active_users_listed() {
    let h = Harness::start().await;
    let (mut bob, _) = h.online("bob", 0).await;
    h.api.register("carol").await;
    h.api.register("gone").await;
    h.api.post("/v1/users/gone/deactivate", &json!({})).await;
    let body = json!({"type": "text", "text": "maintenance at midnight"});
    let r = h
        .api
        .post(
            "/v1/system/messages",
            &json!({"to": ["bob", "carol", "bob", "gone", "nobody"], "body": body}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["delivered_to"].as_u64()),
        (200, Some(2)),
        "{:?}",
        r.body
    );
    let entry = bob.expect("entry").await;
    assert_eq!(
        (entry["kind"].as_str(), &entry["body"]),
        (Some("system"), &body)
    );
    let (_carol, backlog) = h.online("carol", 0).await;
    assert_eq!(backlog[0]["kind"], "system");

    let r = h
        .api
        .post("/v1/system/messages", &json!({"to": [], "body": body}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let big = json!({"type": "text", "text": "x".repeat(5000)});
    let r = h
        .api
        .post("/v1/system/messages", &json!({"to": ["bob"], "body": big}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (413, Some("too_large"))
    );
    let r = h
        .api
        .post(
            "/v1/system/messages",
            &json!({"to": ["bad id"], "body": body}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_id"))
    );
}
