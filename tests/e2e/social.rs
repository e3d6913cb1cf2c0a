//! Friends, requests and blocks through the real server: entries live and after reconnect,
//! the relations read model, the friends-only policy, and blocks.

use crate::harness::{Harness, eventually};
use serde_json::{Value, json};
use tidings_testkit::{ServerApi, TestNats, WsClient};

/// Reads frames until the answer `id`, collecting the entries that arrive meanwhile.
async fn answer(ws: &mut WsClient, id: &str) -> (Value, Vec<Value>) {
    let mut entries = Vec::new();
    loop {
        let frame = ws.next().await.expect("open");
        if frame["id"] == id {
            return (frame, entries);
        }
        assert_eq!(frame["t"], "entry", "{frame}");
        entries.push(frame);
    }
}

async fn act(ws: &mut WsClient, id: &str, frame: Value) -> Value {
    let mut frame = frame;
    frame["id"] = json!(id);
    ws.send(frame).await;
    answer(ws, id).await.0
}

/// The next entry of this kind (skipping others).
async fn entry_of(ws: &mut WsClient, kind: &str) -> Value {
    loop {
        let frame = ws.expect("entry").await;
        if frame["kind"] == kind {
            return frame;
        }
    }
}

fn user_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["user_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn request_then_accept_reaches_both_live_and_after_reconnect() {
    let h = Harness::start().await;
    let (mut alice, _) = h.online("alice", 0).await;
    let (mut bob, _) = h.online("bob", 0).await;

    let r = act(
        &mut alice,
        "1",
        json!({"t": "friend_request", "to": "bob", "note": "hi, it's alice"}),
    )
    .await;
    assert_eq!(r["t"], "relation", "{r}");
    assert_eq!(
        r["relation"],
        json!({"user": "bob", "friend": false, "request": "out", "blocked": false})
    );
    let request = entry_of(&mut bob, "friend_request").await;
    assert_eq!(
        (request["from"].as_str(), request["to"].as_str()),
        (Some("alice"), Some("bob"))
    );
    assert_eq!(request["note"], "hi, it's alice");

    let bob_token = h.api.user_token("bob").await;
    let incoming = h
        .api
        .get_as(&bob_token, "/v1/friends/requests?direction=in")
        .await;
    assert_eq!(user_ids(&incoming.body["requests"]), ["alice"]);
    assert_eq!(incoming.body["requests"][0]["note"], "hi, it's alice");

    let r = act(
        &mut bob,
        "2",
        json!({"t": "friend_accept", "user": "alice"}),
    )
    .await;
    assert_eq!(r["relation"]["friend"], true);
    let accepted = entry_of(&mut alice, "friend_accepted").await;
    assert_eq!(
        (accepted["from"].as_str(), accepted["to"].as_str()),
        (Some("bob"), Some("alice"))
    );

    let alice_token = h.api.user_token("alice").await;
    for (token, other) in [(&alice_token, "bob"), (&bob_token, "alice")] {
        eventually("friends listed", || async {
            user_ids(&h.api.get_as(token, "/v1/friends").await.body["friends"]) == [other]
        })
        .await;
    }
    assert!(
        h.api.get_as(&bob_token, "/v1/friends/requests").await.body["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // After reconnecting, the entries are in the inbox in order.
    bob.close().await;
    let (_bob, backlog) = h.online("bob", 0).await;
    let kinds: Vec<&str> = backlog
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["friend_request", "friend_accepted"]);
}

#[tokio::test]
async fn reject_cancel_remove_mutual_and_duplicate() {
    let h = Harness::start().await;
    for user in ["alice", "bob", "carol", "dave"] {
        h.api.register(user).await;
    }
    let alice = h.api.user_token("alice").await;
    let bob = h.api.user_token("bob").await;
    let carol = h.api.user_token("carol").await;

    // Request, duplicate (no-op), reject.
    let r = h
        .api
        .post_as(&alice, "/v1/friends/requests", &json!({"to": "bob"}))
        .await;
    assert_eq!(
        (r.status, &r.body["relation"]["request"]),
        (200, &json!("out"))
    );
    let again = h
        .api
        .post_as(&alice, "/v1/friends/requests", &json!({"to": "bob"}))
        .await;
    assert_eq!(again.body, r.body, "a repeated request changes nothing");
    let r = h
        .api
        .post_as(&bob, "/v1/friends/requests/alice/reject", &json!({}))
        .await;
    assert_eq!(
        r.body["relation"],
        json!({"user": "alice", "friend": false, "blocked": false})
    );
    let r = h
        .api
        .post_as(&bob, "/v1/friends/requests/alice/accept", &json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );

    // Request then cancel.
    h.api
        .post_as(&alice, "/v1/friends/requests", &json!({"to": "carol"}))
        .await;
    let r = h.api.delete_as(&alice, "/v1/friends/requests/carol").await;
    assert_eq!(r.body["relation"]["request"], Value::Null);
    let r = h
        .api
        .post_as(&carol, "/v1/friends/requests/alice/accept", &json!({}))
        .await;
    assert_eq!(r.body["code"], "not_found");

    // Mutual requests make friends; then remove.
    h.api
        .post_as(&bob, "/v1/friends/requests", &json!({"to": "carol"}))
        .await;
    let r = h
        .api
        .post_as(&carol, "/v1/friends/requests", &json!({"to": "bob"}))
        .await;
    assert_eq!(r.body["relation"]["friend"], true);
    let r = h.api.delete_as(&bob, "/v1/friends/carol").await;
    assert_eq!(r.body["relation"]["friend"], false);

    // Every step is in the inboxes: carol saw alice's request and its cancellation, bob's
    // request, the acceptance and the removal.
    let (_c, carol_entries) = h.online("carol", 0).await;
    let kinds: Vec<&str> = carol_entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "friend_request",
            "friend_request_canceled",
            "friend_request",
            "friend_accepted",
            "friend_removed"
        ]
    );
    let (_a, alice_entries) = h.online("alice", 0).await;
    let kinds: Vec<&str> = alice_entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "friend_request",
            "friend_rejected",
            "friend_request",
            "friend_request_canceled"
        ]
    );

    // Bad input.
    let r = h
        .api
        .post_as(&alice, "/v1/friends/requests", &json!({"to": "alice"}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = h
        .api
        .post_as(&alice, "/v1/friends/requests", &json!({"to": "nobody"}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = h
        .api
        .post_as(
            &alice,
            "/v1/friends/requests",
            &json!({"to": "dave", "note": "n".repeat(300)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (413, Some("too_large"))
    );
    let r = h
        .api
        .post_as(&alice, "/v1/friends/requests", &json!({"to": "bad id"}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_id"))
    );
    let r = h
        .api
        .get_as(&alice, "/v1/friends/requests?direction=sideways")
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// A second app with the friends-only policy on the same server.
async fn friends_only() -> (Harness, ServerApi) {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.api.apps.push(tidings_api::apps::AppConfig {
            key: "closed".into(),
            secret: "closed-app-secret-0123".into(),
            messaging: tidings_domain::conv::MessagingPolicy::FriendsOnly,
            max_group_members: tidings_api::apps::DEFAULT_GROUP_CAP,
            max_file_bytes: tidings_api::apps::DEFAULT_FILE_CAP,
            max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
            reaction_keys: Vec::new(),
            recall_window_secs: tidings_api::apps::DEFAULT_RECALL_WINDOW_SECS,
            edit_window_secs: tidings_api::apps::DEFAULT_EDIT_WINDOW_SECS,
        });
    })
    .await;
    let api = ServerApi::new(&h.base, "closed", "closed-app-secret-0123");
    (h, api)
}

#[tokio::test]
async fn friends_only_policy_follows_the_relationship_on_the_very_next_send() {
    let (h, api) = friends_only().await;
    let alice = api.user_token("alice").await;
    let bob = api.user_token("bob").await;
    let mut ws = WsClient::connect(&h.base, &alice, false).await.unwrap();
    ws.hello(0).await;
    ws.until_synced().await;

    let r = ws.send_text("1", "bob", "m1", "hello stranger").await;
    assert_eq!(r["code"], "not_friends", "{r}");

    api.post_as(&alice, "/v1/friends/requests", &json!({"to": "bob"}))
        .await;
    api.post_as(&bob, "/v1/friends/requests/alice/accept", &json!({}))
        .await;
    let r = ws.send_text("2", "bob", "m2", "hello friend").await;
    assert_eq!(r["t"], "sent", "{r}");

    api.delete_as(&bob, "/v1/friends/alice").await;
    let r = ws.send_text("3", "bob", "m3", "still friends?").await;
    assert_eq!(
        r["code"], "not_friends",
        "refused on the very next send: {r}"
    );

    // The app server manages friendships too.
    let r = api
        .post(
            "/v1/relations/friend",
            &json!({"user": "alice", "other": "bob"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["relation"]["friend"]),
        (200, &json!(true)),
        "{:?}",
        r.body
    );
    assert_eq!(ws.send_text("4", "bob", "m4", "again").await["t"], "sent");
    let r = api
        .post(
            "/v1/relations/unfriend",
            &json!({"user": "bob", "other": "alice"}),
        )
        .await;
    assert_eq!(r.body["relation"]["friend"], false);
    assert_eq!(
        ws.send_text("5", "bob", "m5", "gone").await["code"],
        "not_friends"
    );
    let r = api
        .post(
            "/v1/relations/poke",
            &json!({"user": "bob", "other": "alice"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );

    // The dev app on the same server stays open.
    let (mut carol, _) = h.online("carol", 0).await;
    h.api.register("dan").await;
    assert_eq!(
        carol.send_text("1", "dan", "c1", "open app").await["t"],
        "sent"
    );
}

#[tokio::test]
async fn a_blocked_user_cannot_message_or_request_until_unblocked() {
    let h = Harness::start().await;
    let (mut alice, _) = h.online("alice", 0).await;
    let bob = h.api.user_token("bob").await;

    let r = h
        .api
        .post_as(&bob, "/v1/blocks", &json!({"user_id": "alice"}))
        .await;
    assert_eq!(r.body["relation"]["blocked"], true, "{:?}", r.body);
    let r = alice.send_text("1", "bob", "b1", "hello?").await;
    assert_eq!(r["code"], "blocked", "{r}");
    let r = act(&mut alice, "2", json!({"t": "friend_request", "to": "bob"})).await;
    assert_eq!(r["code"], "blocked", "{r}");
    let blocks = h.api.get_as(&bob, "/v1/blocks").await;
    assert_eq!(user_ids(&blocks.body["blocks"]), ["alice"]);
    // The blocker is the one who must unblock to ask.
    let r = h
        .api
        .post_as(&bob, "/v1/friends/requests", &json!({"to": "alice"}))
        .await;
    assert_eq!(r.body["code"], "forbidden");

    let r = h.api.delete_as(&bob, "/v1/blocks/alice").await;
    assert_eq!(r.body["relation"]["blocked"], false);
    assert_eq!(
        alice.send_text("3", "bob", "b3", "hello!").await["t"],
        "sent"
    );
    eventually("the block list empties", || async {
        h.api.get_as(&bob, "/v1/blocks").await.body["blocks"] == json!([])
    })
    .await;

    // Server API blocks on behalf of users, and relations:changed syncs everything since a cursor.
    let r = h
        .api
        .post(
            "/v1/relations/block",
            &json!({"user": "bob", "other": "alice"}),
        )
        .await;
    assert_eq!(r.body["relation"]["blocked"], true);
    assert_eq!(
        alice.send_text("4", "bob", "b4", "again?").await["code"],
        "blocked"
    );
    let all = h.api.get_as(&bob, "/v1/relations:changed?since=0").await;
    let rows = all.body["relations"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["blocked"], true);
    let cursor = all.body["cursor"].as_u64().unwrap();
    let none = h
        .api
        .get_as(&bob, &format!("/v1/relations:changed?since={cursor}"))
        .await;
    assert_eq!(none.body["relations"], json!([]));
    assert_eq!(none.body["cursor"], cursor);
}
