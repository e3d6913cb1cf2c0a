//! Delete for me, clear for me: a user removes messages from their own view, on all their
//! devices (live and by catch-up), in history, the conversation list and catch-up, while
//! everyone else keeps seeing them; in direct conversations and in write- and
//! read-diffusion groups; with clear errors for bad requests.

use crate::harness::Harness;
use serde_json::{Value, json};
use tidings_testkit::TestNats;

/// Sends a text message over the server API; returns its `conv_seq` and `pos`.
async fn send(h: &Harness, from: &str, to: Value, client_msg_id: &str) -> (u64, u64) {
    let r = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": from, "to": to, "client_msg_id": client_msg_id,
                    "body": {"type": "text", "text": client_msg_id}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.body["conv_seq"].as_u64().unwrap(),
        r.body["pos"].as_u64().unwrap(),
    )
}

/// Opens a session of `user` and catches up from the start once the read models cover
/// `pos`; returns the session and the catch-up entries.
async fn catch_up(h: &Harness, user: &str, pos: u64) -> (tidings_testkit::WsClient, Vec<Value>) {
    let mut ws = h.connect(user).await;
    ws.send(json!({"t": "hello", "since": 0, "min_pos": pos}))
        .await;
    ws.expect("welcome").await;
    let entries = ws.until_synced().await;
    (ws, entries)
}

/// The `conv_seq`s of a history answer, in its order.
fn conv_seqs(messages: &Value) -> Vec<u64> {
    messages
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["conv_seq"].as_u64().unwrap())
        .collect()
}

/// A user's whole history of `conv`, newest first, read once the read models cover `pos`.
async fn history(h: &Harness, token: &str, conv: &str, pos: u64) -> Vec<u64> {
    let r = h
        .api
        .get_as(
            token,
            &format!("/v1/conversations/{conv}/messages?limit=100&min_pos={pos}"),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["next_before"].is_null(), "{:?}", r.body);
    conv_seqs(&r.body["messages"])
}

/// The `(kind, conv_seq)` of catch-up entries that carry or announce a message of `conv`.
fn messages_of(entries: &[Value], conv: &str) -> Vec<u64> {
    entries
        .iter()
        .filter(|e| e["conv"] == conv && (e["kind"] == "message" || e["kind"] == "group_advanced"))
        .map(|e| e["conv_seq"].as_u64().unwrap())
        .collect()
}

/// The caller's row of `conv` in their conversation list, once the read models cover `pos`.
async fn conversation_row(h: &Harness, token: &str, conv: &str, pos: u64) -> Value {
    let r = h
        .api
        .get_as(token, &format!("/v1/conversations?min_pos={pos}"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conv"] == conv)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {conv}: {:?}", r.body))
}

#[tokio::test]
async fn a_hidden_message_is_gone_from_every_device_of_its_user_only() {
    let h = Harness::start().await;
    let conv = "d~alice~bob";
    let (mut phone, _) = h.online("alice", 0).await;
    let (mut laptop, _) = h.online("alice", 0).await;
    h.api.register("bob").await;
    for i in 1..=3 {
        send(&h, "bob", json!({"user": "alice"}), &format!("m{i}")).await;
    }
    for device in [&mut phone, &mut laptop] {
        for _ in 1..=3 {
            assert_eq!(device.expect("entry").await["kind"], "message");
        }
    }

    phone
        .send(json!({"t": "hide", "id": "h1", "conv": conv, "conv_seq": 2}))
        .await;
    let hidden = phone.expect_answer("h1").await;
    assert_eq!(
        (hidden["t"].as_str(), hidden["conv_seq"].as_u64()),
        (Some("hidden"), Some(2)),
        "{hidden}"
    );
    let pos = hidden["pos"].as_u64().unwrap();
    // The other device hears of it live.
    let entry = laptop.expect("entry").await;
    assert_eq!(
        (
            entry["kind"].as_str(),
            entry["conv"].as_str(),
            entry["conv_seq"].as_u64()
        ),
        (Some("hidden"), Some(conv), Some(2)),
        "{entry}"
    );

    let alice = h.api.user_token("alice").await;
    let bob = h.api.user_token("bob").await;
    assert_eq!(history(&h, &alice, conv, pos).await, [3, 1]);
    assert_eq!(
        history(&h, &bob, conv, pos).await,
        [3, 2, 1],
        "the peer keeps it"
    );

    // A device catching up from the start gets the hidden message as a placeholder.
    let mut tablet = h.connect("alice").await;
    tablet
        .send(json!({"t": "hello", "since": 0, "min_pos": pos}))
        .await;
    let welcome = tablet.expect("welcome").await;
    let last = welcome["last_seq"].as_u64().unwrap();
    let mut entries = Vec::new();
    let synced = loop {
        let frame = tablet.next().await.unwrap();
        match frame["t"].as_str() {
            Some("entry") => entries.push(frame),
            Some("synced") => break frame,
            _ => panic!("unexpected {frame}"),
        }
    };
    assert_eq!(synced["seq"].as_u64(), Some(last));
    assert_eq!(messages_of(&entries, conv), [1, 3]);
    assert!(entries.iter().any(|e| e["kind"] == "hidden"));
    // The peer's catch-up is untouched.
    let (_bob_ws, bob_entries) = catch_up(&h, "bob", pos).await;
    assert_eq!(messages_of(&bob_entries, conv), [1, 2, 3]);

    // `sync` and GET /v1/inbox stay gapless: the hidden message's entry is a `removed`
    // placeholder naming it, with no body.
    tablet
        .send(json!({"t": "sync", "id": "s", "after": 0, "limit": 3}))
        .await;
    let page = tablet.expect_answer("s").await;
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(messages_of(entries, conv), [1, 3]);
    let removed: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "removed").collect();
    assert_eq!(removed.len(), 1, "{page}");
    assert_eq!(
        (removed[0]["conv"].as_str(), removed[0]["conv_seq"].as_u64()),
        (Some(conv), Some(2))
    );
    assert!(removed[0].get("body").is_none(), "{page}");
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let r = h
        .api
        .get_as(&alice, &format!("/v1/inbox?after=1&limit=2&min_pos={pos}"))
        .await;
    let entries = r.body["entries"].as_array().unwrap();
    assert_eq!(messages_of(entries, conv), [3]);
    assert_eq!(entries[0]["kind"], "removed", "{:?}", r.body);

    // Hiding it again records nothing; the conversation row counts and shows what is left.
    let again = h
        .api
        .post_as(
            &alice,
            &format!("/v1/conversations/{conv}/hide"),
            &json!({"conv_seq": 2}),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["pos"], pos, "a no-op answers the same position");
    let row = conversation_row(&h, &alice, conv, pos).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["conv_seq"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let hide_last = h
        .api
        .post_as(
            &alice,
            &format!("/v1/conversations/{conv}/hide"),
            &json!({"conv_seq": 3}),
        )
        .await;
    let pos = hide_last.body["pos"].as_u64().unwrap();
    let row = conversation_row(&h, &alice, conv, pos).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["conv_seq"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let row = conversation_row(&h, &bob, conv, pos).await;
    assert_eq!(
        row["last_message"]["conv_seq"], 3,
        "the peer's row is untouched"
    );
}

#[tokio::test]
async fn clearing_a_conversation_is_monotonic_and_only_for_its_user() {
    let h = Harness::start().await;
    let conv = "d~alice~bob";
    let alice = h.api.user_token("alice").await;
    let bob = h.api.user_token("bob").await;
    for i in 1..=4 {
        send(&h, "bob", json!({"user": "alice"}), &format!("c{i}")).await;
    }
    let clear = |body: Value| {
        let (h, alice) = (&h, &alice);
        async move {
            let r = h
                .api
                .post_as(alice, &format!("/v1/conversations/{conv}/clear"), &body)
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            (
                r.body["up_to"].as_u64().unwrap(),
                r.body["pos"].as_u64().unwrap(),
            )
        }
    };
    let (up_to, pos) = clear(json!({"up_to": 2})).await;
    assert_eq!(up_to, 2);
    let row = conversation_row(&h, &alice, conv, pos).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["conv_seq"].as_u64()
        ),
        (Some(2), Some(4))
    );
    assert_eq!(history(&h, &alice, conv, pos).await, [4, 3]);
    // Oldest first and by time, the cleared part stays out too.
    let r = h
        .api
        .get_as(
            &alice,
            &format!(
                "/v1/conversations/{conv}/messages?order=oldest&limit=1&since_ts=0&min_pos={pos}"
            ),
        )
        .await;
    assert_eq!(
        (
            conv_seqs(&r.body["messages"]),
            r.body["next_after"].as_u64()
        ),
        (vec![3], Some(3))
    );

    // A lower mark changes nothing; no mark clears up to the newest message.
    assert_eq!(clear(json!({"up_to": 1})).await, (2, pos));
    let (up_to, pos) = clear(json!({})).await;
    assert_eq!(up_to, 4);
    let row = conversation_row(&h, &alice, conv, pos).await;
    assert_eq!(row["unread"], 0);
    assert!(row.get("last_message").is_none(), "{row}");
    assert_eq!(row["last_seq"], 4);
    assert!(history(&h, &alice, conv, pos).await.is_empty());
    assert_eq!(history(&h, &bob, conv, pos).await, [4, 3, 2, 1]);
    let row = conversation_row(&h, &bob, conv, pos).await;
    assert_eq!(row["last_message"]["conv_seq"], 4);

    // A new message shows again; catch-up holds only it and the two clear entries.
    let (new, sent_pos) = send(&h, "bob", json!({"user": "alice"}), "c5").await;
    assert_eq!(new, 5);
    let (_ws, entries) = catch_up(&h, "alice", sent_pos).await;
    assert_eq!(messages_of(&entries, conv), [5]);
    let marks: Vec<u64> = entries
        .iter()
        .filter(|e| e["kind"] == "cleared")
        .map(|e| e["up_to"].as_u64().unwrap())
        .collect();
    assert_eq!(marks, [2, 4]);
    let row = conversation_row(&h, &alice, conv, sent_pos).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["conv_seq"].as_u64()
        ),
        (Some(1), Some(5))
    );

    // The app server clears and hides for a user, with the user's rights.
    let r = h
        .api
        .post(
            &format!("/v1/server/conversations/{conv}/clear"),
            &json!({"user": "bob", "up_to": 1}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["up_to"].as_u64()),
        (200, Some(1)),
        "{:?}",
        r.body
    );
    let r = h
        .api
        .post(
            &format!("/v1/server/conversations/{conv}/hide"),
            &json!({"user": "bob", "conv_seq": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pos = r.body["pos"].as_u64().unwrap();
    assert_eq!(history(&h, &bob, conv, pos).await, [5, 4, 2]);
    assert_eq!(history(&h, &alice, conv, pos).await, [5]);
    let r = h
        .api
        .post(
            "/v1/server/conversations/d~carol~dave/hide",
            &json!({"user": "bob", "conv_seq": 1}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
}

/// Groups above this size use read diffusion here.
const LARGE_GROUP: usize = 2;

#[tokio::test]
async fn group_members_remove_messages_for_themselves_in_both_diffusions() {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.projector.large_group = LARGE_GROUP;
    })
    .await;
    let alice = h.api.user_token("alice").await;
    let bob = h.api.user_token("bob").await;
    let carol = h.api.user_token("carol").await;
    for (group, members) in [("small", json!(["bob"])), ("big", json!(["bob", "carol"]))] {
        let r = h
            .api
            .post_as(
                &alice,
                "/v1/groups",
                &json!({"group_id": group, "name": group, "members": members}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    for group in ["small", "big"] {
        for i in 1..=3 {
            send(&h, "alice", json!({"group": group}), &format!("{group}{i}")).await;
        }
    }
    let (mut bob_ws, _) = h.online("bob", 0).await;
    for (group, hide) in [("small", 2), ("big", 2)] {
        let conv = format!("g~{group}");
        bob_ws
            .send(json!({"t": "hide", "id": group, "conv": conv, "conv_seq": hide}))
            .await;
        let answer = bob_ws.expect_answer(group).await;
        assert_eq!(answer["t"], "hidden", "{answer}");
        let pos = answer["pos"].as_u64().unwrap();
        assert_eq!(history(&h, &bob, &conv, pos).await, [3, 1], "{group}");
        assert_eq!(history(&h, &carol, "g~big", pos).await, [3, 2, 1]);
        assert_eq!(history(&h, &alice, &conv, pos).await, [3, 2, 1]);
    }
    bob_ws
        .send(json!({"t": "clear", "id": "c", "conv": "g~big", "up_to": 1}))
        .await;
    let cleared = bob_ws.expect_answer("c").await;
    assert_eq!(
        (cleared["t"].as_str(), cleared["up_to"].as_u64()),
        (Some("cleared"), Some(1))
    );
    let pos = cleared["pos"].as_u64().unwrap();
    assert_eq!(history(&h, &bob, "g~big", pos).await, [3]);
    let row = conversation_row(&h, &bob, "g~big", pos).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["conv_seq"].as_u64()
        ),
        (Some(1), Some(3))
    );

    // Catch-up: write diffusion's message entries and read diffusion's group_advanced
    // entries of removed messages are both left out, for bob only.
    let (_ws, entries) = catch_up(&h, "bob", pos).await;
    assert_eq!(messages_of(&entries, "g~small"), [1, 3]);
    assert_eq!(messages_of(&entries, "g~big"), [3]);
    let (_ws, entries) = catch_up(&h, "carol", pos).await;
    assert_eq!(messages_of(&entries, "g~big"), [1, 2, 3]);

    // Only current members remove messages of a group: never one, and one kicked a moment ago.
    let dave = h.api.user_token("dave").await;
    let r = h
        .api
        .post_as(
            &dave,
            "/v1/conversations/g~big/hide",
            &json!({"conv_seq": 1}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = h
        .api
        .post_as(
            &carol,
            "/v1/conversations/g~big/hide",
            &json!({"conv_seq": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let kick = json!({"op": "kick", "user": "carol"});
    let r = h.api.post_as(&alice, "/v1/groups/big/ops", &kick).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = h
        .api
        .post_as(&carol, "/v1/conversations/g~big/clear", &json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
}

#[tokio::test]
async fn bad_removals_get_clear_errors() {
    let h = Harness::start().await;
    let alice = h.api.user_token("alice").await;
    h.api.register("bob").await;
    send(&h, "alice", json!({"user": "bob"}), "only").await;
    h.api.register("carol").await;
    for (path, body, status, code) in [
        (
            "/v1/conversations/d~alice~bob/hide",
            json!({"conv_seq": 2}),
            400,
            "invalid_request",
        ),
        (
            "/v1/conversations/d~alice~bob/hide",
            json!({"conv_seq": 0}),
            400,
            "invalid_request",
        ),
        (
            "/v1/conversations/d~alice~bob/clear",
            json!({"up_to": 9}),
            400,
            "invalid_request",
        ),
        (
            "/v1/conversations/d~alice~bob/hide",
            json!({"conv_seq": "one"}),
            400,
            "invalid_request",
        ),
        (
            "/v1/conversations/d~alice~bob/hide",
            json!({}),
            400,
            "invalid_request",
        ),
        (
            "/v1/conversations/g~nope/hide",
            json!({"conv_seq": 1}),
            404,
            "not_found",
        ),
        (
            "/v1/conversations/d~alice~carol/clear",
            json!({}),
            404,
            "not_found",
        ),
        (
            "/v1/conversations/d~bob~carol/hide",
            json!({"conv_seq": 1}),
            403,
            "forbidden",
        ),
        (
            "/v1/conversations/d~bob~alice/hide",
            json!({"conv_seq": 1}),
            400,
            "invalid_id",
        ),
    ] {
        let r = h.api.post_as(&alice, path, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{path} {body}: {:?}",
            r.body
        );
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let r = h
        .api
        .post_as(
            &alice,
            "/v1/conversations/d~alice~bob/hide",
            &json!({"conv_seq": 2}),
        )
        .await;
    assert!(
        r.body["message"].as_str().unwrap().contains("1-1"),
        "the message names the range: {:?}",
        r.body
    );

    // Over WebSocket: an error frame echoing the id; the connection stays open.
    let (mut ws, _) = h.online("alice", 0).await;
    for (frame, code) in [
        (
            json!({"t": "hide", "id": "a", "conv": "d~alice~bob", "conv_seq": 5}),
            "invalid_request",
        ),
        (
            json!({"t": "clear", "id": "b", "conv": "g~nope"}),
            "not_found",
        ),
        (
            json!({"t": "hide", "id": "c", "conv": "d~bob~carol", "conv_seq": 1}),
            "forbidden",
        ),
        (
            json!({"t": "hide", "id": "d", "conv": "d~alice~bob"}),
            "invalid_request",
        ),
    ] {
        let id = frame["id"].as_str().unwrap().to_owned();
        ws.send(frame).await;
        let answer = ws.expect_answer(&id).await;
        assert_eq!(
            (answer["t"].as_str(), answer["code"].as_str()),
            (Some("error"), Some(code)),
            "{answer}"
        );
    }
    ws.send(json!({"t": "ping"})).await;
    ws.expect("pong").await;
}
