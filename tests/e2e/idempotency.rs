//! `send` is idempotent on (sender, client_msg_id), across retries and restarts.

use crate::harness::{Harness, eventually, seqs};

#[tokio::test]
async fn the_same_client_msg_id_three_times_yields_one_message() {
    let h = Harness::start().await;
    h.api.register("bob").await;
    let (mut alice, _) = h.online("alice", 0).await;
    let first = alice.send_text("a", "bob", "same", "once").await;
    let second = alice.send_text("b", "bob", "same", "once").await;
    for key in ["msg_id", "conv_seq", "conv", "ts"] {
        assert_eq!(first[key], second[key], "{key}");
    }
    alice.close().await;

    // A restarted server has no cache: the answer comes from the conversation's events.
    let (nats, dir) = h.stop().await;
    let h = Harness::start_on(nats, dir, |_| {}).await;
    let (mut alice, _) = h.online("alice", 1).await;
    let third = alice.send_text("c", "bob", "same", "once").await;
    assert_eq!(first["msg_id"], third["msg_id"]);
    assert_eq!(first["conv_seq"], third["conv_seq"]);

    // Through the server API as well.
    let r = h
        .api
        .post(
            "/v1/messages",
            &serde_json::json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "same",
                                "body": {"type": "text", "text": "once"}}),
        )
        .await;
    assert_eq!(r.body["msg_id"], first["msg_id"]);

    let next = alice.send_text("d", "bob", "other", "twice").await;
    assert_eq!(next["conv_seq"], 2);
    let token = h.api.user_token("bob").await;
    eventually("bob's inbox holds the second message", || {
        let (api, token) = (&h.api, token.clone());
        async move { api.get_as(&token, "/v1/inbox").await.body["last_seq"] == 2 }
    })
    .await;
    let inbox = h.api.get_as(&token, "/v1/inbox").await;
    let entries = inbox.body["entries"].as_array().unwrap().clone();
    assert_eq!(seqs(&entries), [1, 2]);
    assert_eq!(entries[0]["msg_id"], first["msg_id"]);
}
