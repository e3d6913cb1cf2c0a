//! Read-your-writes: every write answers the events-stream position of its state (`pos`);
//! a read naming it as `min_pos` (REST query, or `hello`) reflects the write, every time; a
//! position the read models do not reach in time is `503 unavailable` with `Retry-After`.

use crate::harness::Harness;
use serde_json::{Value, json};
use tidings_testkit::Reply;

fn pos(reply: &Reply) -> u64 {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["pos"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pos in {}", reply.body))
}

fn ids<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn reads_naming_a_writes_pos_reflect_it_every_time() {
    let harness = Harness::start().await;
    let api = &harness.api;
    let alice = api.user_token("alice").await;
    for trial in 0..20 {
        let other = format!("o{trial}");
        api.register(&other).await;

        // Client REST write, then the list it changes.
        let block = api
            .post_as(&alice, "/v1/blocks", &json!({ "user_id": other }))
            .await;
        let at = pos(&block);
        let blocks = api
            .get_as(&alice, &format!("/v1/blocks?min_pos={at}"))
            .await;
        assert!(
            ids(&blocks.body["blocks"], "user_id").contains(&other.as_str()),
            "trial {trial}: {:?}",
            blocks.body
        );

        // Server-API write, then a cached read (profiles go through the edge's user cache).
        let name = format!("renamed {trial}");
        let upsert = api
            .post("/v1/users", &json!({ "user_id": "alice", "name": name }))
            .await;
        let at = pos(&upsert);
        let profile = api
            .get_as(&alice, &format!("/v1/users/alice?min_pos={at}"))
            .await;
        assert_eq!(profile.body["name"], name.as_str(), "trial {trial}");

        // A group created, then the caller's groups.
        let group = format!("g{trial}");
        let created = api
            .post_as(
                &alice,
                "/v1/groups",
                &json!({ "group_id": group, "name": group, "members": [other] }),
            )
            .await;
        let at = pos(&created);
        let mine = api
            .get_as(&alice, &format!("/v1/groups?min_pos={at}"))
            .await;
        let groups: Vec<&str> = mine.body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["group"]["group"].as_str().unwrap())
            .collect();
        assert!(groups.contains(&group.as_str()), "trial {trial}: {mine:?}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_sent_messages_pos_makes_history_and_hello_include_it() {
    let harness = Harness::start().await;
    harness.api.register("bob").await;
    let (mut alice, _) = harness.online("alice", 0).await;
    let bob = harness.api.user_token("bob").await;
    for trial in 0..10 {
        let sent = alice
            .send_text(&trial.to_string(), "bob", &format!("c{trial}"), "hi")
            .await;
        let at = sent["pos"].as_u64().expect("sent carries pos");
        let conv = sent["conv"].as_str().unwrap();
        let history = harness
            .api
            .get_as(
                &bob,
                &format!("/v1/conversations/{conv}/messages?min_pos={at}"),
            )
            .await;
        assert_eq!(
            history.body["messages"][0]["msg_id"], sent["msg_id"],
            "trial {trial}"
        );

        // A new connection whose hello names the position catches up with the message.
        let mut ws = tidings_testkit::WsClient::connect(&harness.base, &bob, false)
            .await
            .unwrap();
        ws.send(json!({ "t": "hello", "since": 0, "min_pos": at }))
            .await;
        ws.expect("welcome").await;
        let entries = ws.until_synced().await;
        assert!(
            entries.iter().any(|e| e["msg_id"] == sent["msg_id"]),
            "trial {trial}"
        );
        ws.send(json!({ "t": "sync", "id": "p", "after": 0, "limit": 500, "min_pos": at }))
            .await;
        let page = ws.expect("page").await;
        assert!(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["msg_id"] == sent["msg_id"]),
            "trial {trial}"
        );
        ws.close().await;
    }
    harness.stop().await;
}

/// A server whose projector never runs: another instance holds both partitions' leases, so
/// the read models stay at 0 while writes move the events stream on.
async fn stalled_read_models() -> Harness {
    let nats = tidings_testkit::TestNats::start();
    let js = async_nats::jetstream::new(nats.client().await);
    let kv = js
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: tidings_projector::lease::BUCKET.to_owned(),
            history: 1,
            max_age: std::time::Duration::from_secs(3600),
            ..Default::default()
        })
        .await
        .unwrap();
    for partition in ["p0", "p1"] {
        kv.put(partition, "another-instance".into()).await.unwrap();
    }
    Harness::start_on(nats, tempfile::tempdir().unwrap(), |config| {
        config.gateway.min_pos_timeout_ms = 200;
        config.projector.partitions = 2;
        config.projector.lease_ttl_secs = 3600;
    })
    .await
}

#[tokio::test]
async fn a_position_not_reached_in_time_is_unavailable_with_a_retry_hint() {
    let harness = stalled_read_models().await;
    let alice = harness.api.user_token("alice").await;
    // alice's registration is in the stream, not in the read models.
    let written = harness.api.register("bob").await.body["pos"]
        .as_u64()
        .unwrap();
    assert!(written > 0);
    let reply = harness
        .api
        .get_as(&alice, &format!("/v1/inbox?min_pos={written}"))
        .await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "unavailable");
    assert_eq!(reply.retry_after.as_deref(), Some("1"));

    let mut ws = harness.connect("alice").await;
    ws.send(json!({ "t": "hello", "since": 0, "min_pos": written }))
        .await;
    assert_eq!(ws.expect("error").await["code"], "unavailable");
    // The connection stays open and a hello it can honour works.
    ws.hello(0).await;
    ws.until_synced().await;
    ws.send(json!({ "t": "sync", "id": "s1", "after": 0, "min_pos": written }))
        .await;
    let refused = ws.expect("error").await;
    assert_eq!(
        (&refused["id"], &refused["code"]),
        (&json!("s1"), &json!("unavailable"))
    );

    let bad = harness.api.get_as(&alice, "/v1/inbox?min_pos=abc").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["code"], "invalid_request");
    // Waiting is for callers with a token.
    let anonymous = harness
        .api
        .get_as("", &format!("/v1/inbox?min_pos={written}"))
        .await;
    assert_eq!(anonymous.status, 401);
    harness.stop().await;
}

/// A position past the events stream's end names no write: refused at once, not waited for
/// (found by schemathesis, which made every client route wait and answer 503).
#[tokio::test]
async fn a_position_past_the_streams_end_is_an_invalid_request() {
    let harness = stalled_read_models().await;
    let alice = harness.api.user_token("alice").await;
    let beyond = 1_000_000_000;
    let reply = harness
        .api
        .get_as(&alice, &format!("/v1/inbox?min_pos={beyond}"))
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "invalid_request");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("past the events stream's end"),
        "{:?}",
        reply.body
    );
    let mut ws = harness.connect("alice").await;
    ws.send(json!({ "t": "hello", "since": 0, "min_pos": beyond }))
        .await;
    assert_eq!(ws.expect("error").await["code"], "invalid_request");
    harness.stop().await;
}
