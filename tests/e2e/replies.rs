//! Replies and forwards through the real server (issue 13, item 3): a reply's quote as every
//! read shows it, following an edit and a recall of the original; a forward copies a message
//! the sender can read from another conversation, with its origin, and is refused otherwise.

use crate::harness::Harness;
use serde_json::{Value, json};
use tidings_testkit::{ServerApi, WsClient};

/// Sends over the server API; the answer (status checked by the caller).
async fn send(api: &ServerApi, from: &str, to: Value, id: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"from": from, "to": to, "client_msg_id": id});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = api.post("/v1/messages", &body).await;
    (r.status, r.body)
}

fn text(s: &str) -> Value {
    json!({"body": {"type": "text", "text": s}})
}

/// The history row of `conv_seq`, as of `min_pos`.
async fn row(api: &ServerApi, token: &str, conv: &str, conv_seq: &Value, min_pos: &Value) -> Value {
    let path = format!("/v1/conversations/{conv}/messages?min_pos={min_pos}");
    let r = api.get_as(token, &path).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| &m["conv_seq"] == conv_seq)
        .cloned()
        .unwrap_or_else(|| panic!("no row {conv_seq}: {:?}", r.body))
}

/// The next `message` entry on `ws`.
async fn next_message(ws: &mut WsClient) -> Value {
    loop {
        let entry = ws.expect("entry").await;
        if entry["kind"] == "message" {
            return entry;
        }
    }
}

#[tokio::test]
async fn a_reply_quotes_its_original_as_it_is_now() {
    let h = Harness::start().await;
    let api = &h.api;
    let alice = api.user_token("alice").await;
    api.register("bob").await;
    let (mut alice_ws, _) = h.online("alice", 0).await;
    let long = "x".repeat(90) + "0123456789abcdef";
    let (_, original) = send(api, "alice", json!({"user": "bob"}), "o1", text(&long)).await;
    next_message(&mut alice_ws).await;
    let conv = original["conv"].as_str().unwrap();

    // Bob answers it: the entry pushed to alice and the history row quote 100 characters.
    let reply_to = json!({"reply_to": original["msg_id"]});
    let mut extra = text("agreed");
    extra
        .as_object_mut()
        .unwrap()
        .extend(reply_to.as_object().unwrap().clone());
    let (status, reply) = send(api, "bob", json!({"user": "alice"}), "r1", extra).await;
    assert_eq!(status, 200, "{reply}");
    let quote: String = long.chars().take(100).collect();
    let expected = json!({"msg_id": original["msg_id"], "conv_seq": original["conv_seq"],
                          "from": "alice", "quote": quote});
    let live = next_message(&mut alice_ws).await;
    assert_eq!(live["reply_to"], expected, "live: {live}");
    let history = row(api, &alice, conv, &reply["conv_seq"], &reply["pos"]).await;
    assert_eq!(history["reply_to"], expected, "history: {history}");
    let list = api.get_as(&alice, "/v1/conversations").await;
    let last = &list.body["conversations"][0]["last_message"];
    assert_eq!(
        last["reply_to"], expected,
        "conversation list: {:?}",
        list.body
    );

    // The original is edited, then recalled: every later read of the reply shows it.
    let path = format!(
        "/v1/conversations/{conv}/messages/{}",
        original["msg_id"].as_str().unwrap()
    );
    let edited = api
        .post_as(
            &alice,
            &format!("{path}/edit"),
            &json!({"body": {"type": "text", "text": "short"}}),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    let history = row(api, &alice, conv, &reply["conv_seq"], &edited.body["pos"]).await;
    assert_eq!(history["reply_to"]["quote"], "short", "{history}");
    let recalled = api
        .post_as(&alice, &format!("{path}/recall"), &json!({}))
        .await;
    assert_eq!(recalled.status, 200, "{:?}", recalled.body);
    let at = &recalled.body["pos"];
    let history = row(api, &alice, conv, &reply["conv_seq"], at).await;
    assert_eq!(history["reply_to"]["recalled"], true, "{history}");
    assert!(history["reply_to"].get("quote").is_none(), "{history}");
    let inbox = api
        .get_as(&alice, &format!("/v1/inbox?after=0&min_pos={at}"))
        .await;
    let entry = inbox.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["msg_id"] == reply["msg_id"])
        .cloned()
        .unwrap();
    assert_eq!(entry["reply_to"]["recalled"], true, "inbox: {entry}");
    let (_laptop, caught_up) = h.online("alice", 0).await;
    let entry = caught_up
        .iter()
        .find(|e| e["msg_id"] == reply["msg_id"] && e["kind"] == "message")
        .unwrap();
    assert_eq!(entry["reply_to"]["recalled"], true, "catch-up: {entry}");

    // A recalled message, or one of another conversation, cannot be answered.
    api.register("carol").await;
    let (_, elsewhere) = send(api, "carol", json!({"user": "alice"}), "e1", text("hi")).await;
    for target in [&original["msg_id"], &elsewhere["msg_id"]] {
        let mut extra = text("?");
        extra["reply_to"] = target.clone();
        let id = format!("bad-{}", target.as_str().unwrap());
        let (status, refused) = send(api, "bob", json!({"user": "alice"}), &id, extra).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (404, Some("not_found")),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn a_forward_copies_a_readable_message_with_its_origin() {
    let h = Harness::start().await;
    let api = &h.api;
    api.register("alice").await;
    let bob = api.user_token("bob").await;
    api.register("carol").await;
    let r = api
        .post(
            "/v1/server/groups/club/ops",
            &json!({"actor": "carol", "op": "create", "name": "Club", "members": ["alice"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, posted) = send(
        api,
        "carol",
        json!({"group": "club"}),
        "g1",
        text("meet at 6"),
    )
    .await;
    let edit = format!(
        "/v1/conversations/g~club/messages/{}/edit",
        posted["msg_id"].as_str().unwrap()
    );
    let carol = api.user_token("carol").await;
    let edited = api
        .post_as(
            &carol,
            &edit,
            &json!({"body": {"type": "text", "text": "meet at 7"}}),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);

    // Alice, a member, forwards it to bob over the WebSocket: the latest body, with its origin.
    let (mut ws, _) = h.online("alice", 0).await;
    ws.send(
        json!({"t": "send", "id": "f1", "to": {"user": "bob"}, "client_msg_id": "f1",
                   "forward_of": {"conv": "g~club", "msg_id": posted["msg_id"]}}),
    )
    .await;
    let sent = ws.expect_answer("f1").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    let copy = row(api, &bob, "d~alice~bob", &sent["conv_seq"], &sent["pos"]).await;
    assert_eq!(
        copy["body"],
        json!({"type": "text", "text": "meet at 7"}),
        "{copy}"
    );
    assert_eq!(
        copy["forward_of"],
        json!({"conv": "g~club", "msg_id": posted["msg_id"], "from": "carol", "ts": posted["ts"]}),
    );

    // Bob cannot read the club: his forward of the same message is refused, and so are a
    // forward with a body of its own and one of a message that is not there.
    let forward =
        |conv: &str, msg_id: &Value| json!({"forward_of": {"conv": conv, "msg_id": msg_id}});
    let mut with_body = forward("g~club", &posted["msg_id"]);
    with_body["body"] = json!({"type": "text", "text": "mine"});
    let missing = json!("019b7b1c-3a00-7000-8000-000000000077");
    for (from, id, extra, status, code) in [
        (
            "bob",
            "f2",
            forward("g~club", &posted["msg_id"]),
            403,
            "forbidden",
        ),
        ("alice", "f3", with_body, 400, "invalid_request"),
        ("alice", "f4", forward("g~club", &missing), 404, "not_found"),
    ] {
        let to = if from == "bob" { "alice" } else { "bob" };
        let (got, refused) = send(api, from, json!({"user": to}), id, extra).await;
        assert_eq!(
            (got, refused["code"].as_str()),
            (status, Some(code)),
            "{id}: {refused}"
        );
    }

    // Once the original is recalled, it cannot be forwarded.
    let recall = edit.replace("/edit", "/recall");
    let r = api.post_as(&carol, &recall, &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let again = forward("g~club", &posted["msg_id"]);
    let (got, refused) = send(api, "alice", json!({"user": "bob"}), "f5", again).await;
    assert_eq!(
        (got, refused["code"].as_str()),
        (404, Some("not_found")),
        "{refused}"
    );
}
