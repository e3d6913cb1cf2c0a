//! Recall and edit (issue 13, items 1-2): over WebSocket frames, client REST and the server
//! API, with two devices of one user and a peer; the recall window and role rules; edit
//! versions and conflicts; read diffusion; a recalled body gone from every read model.

use crate::harness::{Harness, eventually, until};
use serde_json::{Value, json};
use tidings_api::apps::{AppConfig, DEFAULT_EDIT_WINDOW_SECS, DEFAULT_FILE_CAP, DEFAULT_GROUP_CAP};
use tidings_testkit::{ServerApi, TestNats, WsClient};

const CONV: &str = "d~alice~bob";

async fn recall(ws: &mut WsClient, id: &str, conv: &str, msg_id: &str) -> Value {
    ws.send(json!({"t": "recall", "id": id, "conv": conv, "msg_id": msg_id}))
        .await;
    ws.expect_answer(id).await
}

async fn edit(
    ws: &mut WsClient,
    id: &str,
    conv: &str,
    msg_id: &str,
    text: &str,
    expected: Option<u64>,
) -> Value {
    let mut frame = json!({"t": "edit", "id": id, "conv": conv, "msg_id": msg_id,
                           "body": {"type": "text", "text": text}});
    if let Some(expected) = expected {
        frame["expected_edit_seq"] = json!(expected);
    }
    ws.send(frame).await;
    ws.expect_answer(id).await
}

/// The next entry of `kind`, skipping others.
async fn entry_of(ws: &mut WsClient, kind: &str) -> Value {
    loop {
        let frame = ws.expect("entry").await;
        if frame["kind"] == kind {
            return frame;
        }
    }
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_recall_reaches_every_device_and_the_body_is_gone_from_every_read_model() {
    let h = Harness::start().await;
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut phone, _) = h.online("alice", 0).await;
    let (mut laptop, _) = h.online("alice", 0).await;

    let sent = phone
        .send_text("s1", "bob", "c-1", "oops, wrong chat")
        .await;
    let msg_id = sent["msg_id"].as_str().unwrap().to_owned();
    let kept = phone.send_text("s2", "bob", "c-2", "this one stays").await;
    for ws in [&mut bob, &mut laptop] {
        assert_eq!(
            entry_of(ws, "message").await["body"]["text"],
            "oops, wrong chat"
        );
    }

    let refused = recall(&mut bob, "r0", CONV, &msg_id).await;
    assert_eq!(
        refused["code"], "forbidden",
        "only the sender recalls in a direct chat: {refused}"
    );
    let unknown = recall(
        &mut phone,
        "r1",
        CONV,
        "019b7b1c-3a00-7000-8000-00000000beef",
    )
    .await;
    assert_eq!(unknown["code"], "not_found", "{unknown}");

    let first = recall(&mut phone, "r2", CONV, &msg_id).await;
    assert_eq!(first["t"], "recalled", "{first}");
    assert_eq!(
        (first["conv_seq"].as_u64(), first["by"].as_str()),
        (Some(1), Some("alice"))
    );
    // Recalling again is a no-op that answers with the first recall.
    let again = recall(&mut phone, "r3", CONV, &msg_id).await;
    assert_eq!(
        (again["t"].as_str(), &again["ts"]),
        (Some("recalled"), &first["ts"]),
        "{again}"
    );

    for ws in [&mut bob, &mut laptop] {
        let entry = entry_of(ws, "recalled").await;
        assert_eq!(
            (
                entry["conv"].as_str(),
                entry["conv_seq"].as_u64(),
                entry["msg_id"].as_str(),
                entry["by"].as_str()
            ),
            (Some(CONV), Some(1), Some(msg_id.as_str()), Some("alice"))
        );
    }

    // A marker after the second recall: once it is in, every recall entry is too.
    let marker = bob.send_text("m", "alice", "c-3", "marker").await;
    assert_eq!(marker["t"], "sent");
    for user in ["alice", "bob"] {
        let token = h.api.user_token(user).await;
        let inbox = until("the marker is in the inbox", || async {
            let page = h.api.get_as(&token, "/v1/inbox?after=0").await.body;
            let entries = page["entries"].as_array().unwrap().clone();
            (entries.len() == 4).then_some(entries)
        })
        .await;
        assert_eq!(
            kinds(&inbox),
            ["message", "message", "recalled", "message"],
            "{user}"
        );
        assert!(
            inbox[0].get("body").is_none(),
            "{user}'s inbox keeps no body: {}",
            inbox[0]
        );
        assert_eq!(inbox[0]["recalled"]["by"], "alice");
        assert_eq!(inbox[1]["body"]["text"], "this one stays");

        // Catch-up over the socket joins the same.
        let (_ws, caught_up) = h.online(user, 0).await;
        assert_eq!(
            kinds(&caught_up),
            ["message", "message", "recalled", "message"]
        );
        assert!(caught_up[0].get("body").is_none(), "{}", caught_up[0]);

        let history = h
            .api
            .get_as(&token, &format!("/v1/conversations/{CONV}/messages"))
            .await
            .body;
        let oldest = &history["messages"][2];
        assert_eq!(oldest["msg_id"], msg_id.as_str());
        assert!(oldest.get("body").is_none(), "{oldest}");
        assert_eq!(oldest["recalled"]["by"], "alice");
        assert_eq!(history["messages"][1]["msg_id"], kept["msg_id"]);
    }
}

/// Two more apps on one server: one with a 1-second recall and edit window, one with none.
async fn windowed() -> (Harness, ServerApi, ServerApi) {
    let app = |key: &str, window: u64| AppConfig {
        key: key.into(),
        secret: format!("{key}-app-secret-0123456"),
        messaging: Default::default(),
        max_group_members: DEFAULT_GROUP_CAP,
        max_file_bytes: DEFAULT_FILE_CAP,
        recall_window_secs: window,
        edit_window_secs: if window == 0 {
            DEFAULT_EDIT_WINDOW_SECS
        } else {
            window
        },
        max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
        reaction_keys: Vec::new(),
    };
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.api.apps.push(app("strict", 1));
        c.api.apps.push(app("free", 0));
    })
    .await;
    let strict = ServerApi::new(&h.base, "strict", "strict-app-secret-0123456");
    let free = ServerApi::new(&h.base, "free", "free-app-secret-0123456");
    (h, strict, free)
}

/// The server API's route for a client route's action.
fn server_path(client: &str) -> String {
    client.replacen("/v1/", "/v1/server/", 1)
}

fn now_millis() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_millis() as i64
}

async fn send_as(api: &ServerApi, from: &str, to: &str, cmid: &str) -> Value {
    let body = json!({"from": from, "to": {"user": to}, "client_msg_id": cmid,
                      "body": {"type": "text", "text": cmid}});
    let r = api.post("/v1/messages", &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn action(msg: &Value, what: &str) -> String {
    format!(
        "/v1/conversations/{}/messages/{}/{what}",
        msg["conv"].as_str().unwrap(),
        msg["msg_id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn the_recall_window_binds_senders_and_not_the_app_server() {
    let (h, strict, free) = windowed().await;
    for api in [&strict, &free] {
        api.register("bob").await;
    }
    let (alice_strict, alice_free) = (
        strict.user_token("alice").await,
        free.user_token("alice").await,
    );

    let quick = send_as(&strict, "alice", "bob", "quick").await;
    let r = strict
        .post_as(&alice_strict, &action(&quick, "recall"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "within the window: {:?}", r.body);

    let late = send_as(&strict, "alice", "bob", "late").await;
    let unlimited = send_as(&free, "alice", "bob", "unlimited").await;
    let sent_at = late["ts"]
        .as_i64()
        .unwrap()
        .max(unlimited["ts"].as_i64().unwrap());
    // The window is what the test waits for, polled, not slept.
    until("the 1 s window has passed", || async {
        (now_millis() > sent_at + 1_000).then_some(())
    })
    .await;
    let r = strict
        .post_as(&alice_strict, &action(&late, "recall"), &json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden")),
        "{:?}",
        r.body
    );
    let edit = json!({"body": {"type": "text", "text": "too late"}});
    let r = strict
        .post_as(&alice_strict, &action(&late, "edit"), &edit)
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden")),
        "{:?}",
        r.body
    );

    // The app server moderates at any time; the recall records no actor.
    let moderation = server_path(&action(&late, "recall"));
    let r = strict.post(&moderation, &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("by").is_none(), "{:?}", r.body);
    // Acting for the sender, the server API is bound by the sender's window.
    let as_alice = send_as(&strict, "alice", "bob", "as-alice").await;
    let r = strict
        .post(
            &server_path(&action(&as_alice, "recall")),
            &json!({"actor": "alice"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["by"], "alice");

    // A window of 0 has no limit.
    let r = free
        .post_as(&alice_free, &action(&unlimited, "recall"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let bob = strict.user_token("bob").await;
    eventually(
        "bob's history shows both recalls, one by the app server",
        || async {
            let history = strict
                .get_as(&bob, "/v1/conversations/d~alice~bob/messages")
                .await
                .body;
            let recalled: Vec<Value> = history["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["recalled"].clone())
                .collect();
            recalled.len() == 3
                && recalled.iter().all(|r| r.is_object())
                && recalled[1].get("by").is_none()
        },
    )
    .await;
    drop(h);
}

#[tokio::test]
async fn edits_are_versioned_and_a_stale_edit_is_a_conflict() {
    let h = Harness::start().await;
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut alice, _) = h.online("alice", 0).await;
    let sent = alice.send_text("s", "bob", "c-1", "see you at 7").await;
    let msg_id = sent["msg_id"].as_str().unwrap().to_owned();

    // Before any edit: an answer is read past the entries that come first.
    let by_bob = edit(&mut bob, "b", CONV, &msg_id, "no", None).await;
    assert_eq!(by_bob["code"], "forbidden", "{by_bob}");
    let first = edit(&mut alice, "e1", CONV, &msg_id, "see you at 8", Some(0)).await;
    assert_eq!(
        (first["t"].as_str(), first["edit_seq"].as_u64()),
        (Some("edited"), Some(1)),
        "{first}"
    );
    let stale = edit(&mut alice, "e2", CONV, &msg_id, "see you at 9", Some(0)).await;
    assert_eq!(stale["code"], "conflict", "{stale}");
    // Over REST, without a version: it applies on whatever is current.
    let token = h.api.user_token("alice").await;
    let path = format!("/v1/conversations/{CONV}/messages/{msg_id}/edit");
    let second = h
        .api
        .post_as(
            &token,
            &path,
            &json!({"body": {"type": "text", "text": "see you at 9"}}),
        )
        .await;
    assert_eq!(
        (second.status, second.body["edit_seq"].as_u64()),
        (200, Some(2)),
        "{:?}",
        second.body
    );
    // The server API edits for the sender.
    let third = h
        .api
        .post(
            &server_path(&path),
            &json!({"actor": "alice", "expected_edit_seq": 2,
        "body": {"type": "text", "text": "see you at 10"}}),
        )
        .await;
    assert_eq!(
        (third.status, third.body["edit_seq"].as_u64()),
        (200, Some(3)),
        "{:?}",
        third.body
    );

    alice
        .send(
            json!({"t": "edit", "id": "c", "conv": CONV, "msg_id": msg_id,
                      "body": {"type": "custom", "data": 1}}),
        )
        .await;
    assert_eq!(alice.expect_answer("c").await["code"], "invalid_request");

    for n in 1..=3 {
        let entry = entry_of(&mut bob, "edited").await;
        assert_eq!(
            (entry["edit_seq"].as_u64(), entry["msg_id"].as_str()),
            (Some(n), Some(msg_id.as_str()))
        );
    }
    let history = h
        .api
        .get_as(&token, &format!("/v1/conversations/{CONV}/messages"))
        .await
        .body;
    let m = &history["messages"][0];
    assert_eq!(
        (m["body"]["text"].as_str(), m["edit_seq"].as_u64()),
        (Some("see you at 10"), Some(3)),
        "{m}"
    );
    assert_eq!(m["edited_at"], third.body["edited_at"]);
    let (_ws, caught_up) = h.online("bob", 0).await;
    assert_eq!(
        caught_up[0]["body"]["text"], "see you at 10",
        "catch-up shows the latest body"
    );

    let recalled = recall(&mut alice, "r", CONV, &msg_id).await;
    assert_eq!(recalled["t"], "recalled");
    let after = edit(&mut alice, "e4", CONV, &msg_id, "back again", None).await;
    assert_eq!(
        after["code"], "not_found",
        "a recalled message is gone: {after}"
    );
}

#[tokio::test]
async fn group_roles_decide_who_recalls_and_read_diffusion_members_hear_of_it() {
    group_roles(true).await;
}

#[tokio::test]
async fn group_roles_decide_who_recalls_in_a_write_diffusion_group() {
    group_roles(false).await;
}

/// Owner olga, admin adam, members mia and max, in a group of either diffusion.
async fn group_roles(read_diffusion: bool) {
    let large_group = if read_diffusion { 2 } else { 200 };
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.projector.large_group = large_group;
    })
    .await;
    for user in ["adam", "mia", "max"] {
        h.api.register(user).await;
    }
    let (mut olga, _) = h.online("olga", 0).await;
    olga.send(
        json!({"t": "group", "id": "c", "group": "club", "op": "create", "name": "Club",
                     "members": ["adam", "mia", "max"]}),
    )
    .await;
    assert_eq!(olga.expect_answer("c").await["group"]["member_count"], 4);
    olga.send(json!({"t": "group", "id": "a", "group": "club", "op": "set_admin", "user": "adam", "admin": true})).await;
    assert!(olga.expect_answer("a").await["group"].is_object());
    let mut ws = std::collections::HashMap::new();
    for user in ["adam", "mia", "max"] {
        ws.insert(user, h.online(user, 0).await.0);
    }
    let send = |from: &str, text: &str| {
        let body = json!({"from": from, "to": {"group": "club"}, "client_msg_id": text.replace(' ', "-"),
                          "body": {"type": "text", "text": text}});
        let api = &h.api;
        async move { api.post("/v1/messages", &body).await.body }
    };
    let by_mia = send("mia", "from mia").await;
    let by_adam = send("adam", "from adam").await;
    let conv = "g~club";
    let id = |m: &Value| m["msg_id"].as_str().unwrap().to_owned();

    let max = ws.get_mut("max").unwrap();
    assert_eq!(
        recall(max, "1", conv, &id(&by_mia)).await["code"],
        "forbidden"
    );
    let mia = ws.get_mut("mia").unwrap();
    assert_eq!(
        recall(mia, "2", conv, &id(&by_adam)).await["code"],
        "forbidden"
    );
    // Over REST: adam's socket is read for entries below, and its own recall's entry may
    // come before a WebSocket answer.
    let adam = h.api.user_token("adam").await;
    let path = format!("/v1/conversations/{conv}/messages/{}/recall", id(&by_mia));
    let by_admin = h.api.post_as(&adam, &path, &json!({})).await;
    assert_eq!(by_admin.body["by"], "adam", "an admin over a member");
    assert_eq!(
        recall(&mut olga, "4", conv, &id(&by_adam)).await["by"],
        "olga",
        "the owner over an admin"
    );

    // Members hear of every recall, in read diffusion too (where they got group_advanced
    // entries, not the messages).
    for user in ["adam", "mia", "max"] {
        let socket = ws.get_mut(user).unwrap();
        for expected in [&by_mia, &by_adam] {
            let entry = entry_of(socket, "recalled").await;
            assert_eq!(entry["msg_id"], expected["msg_id"], "{user}");
        }
    }
    let token = h.api.user_token("max").await;
    let history = h
        .api
        .get_as(&token, &format!("/v1/conversations/{conv}/messages"))
        .await
        .body;
    let messages = history["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .all(|m| m.get("body").is_none() && m["recalled"].is_object()),
        "{history}"
    );
}

/// A message older than the newest 512 a conversation remembers is found in the event log
/// (from the mark below it) and recalled and edited like a recent one.
#[tokio::test]
async fn messages_older_than_the_recent_window_are_found_in_the_event_log() {
    let h = Harness::start().await;
    for user in ["alice", "bob"] {
        h.api.register(user).await;
    }
    let first = send_as(&h.api, "alice", "bob", "first").await;
    let second = send_as(&h.api, "alice", "bob", "second").await;
    let recent = tidings_domain::conv::RECENT_FACTS;
    let fillers: Vec<String> = (0..recent).map(|i| format!("filler-{i}")).collect();
    for chunk in fillers.chunks(32) {
        let sends = chunk
            .iter()
            .map(|cmid| send_as(&h.api, "bob", "alice", cmid));
        futures_util::future::join_all(sends).await;
    }
    let r = h
        .api
        .post(&server_path(&action(&first, "recall")), &json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["conv_seq"].as_u64()),
        (200, Some(1)),
        "{:?}",
        r.body
    );
    let edit = json!({"actor": "alice", "body": {"type": "text", "text": "second, edited"}});
    let r = h
        .api
        .post(&server_path(&action(&second, "edit")), &edit)
        .await;
    assert_eq!(
        (r.status, r.body["conv_seq"].as_u64()),
        (200, Some(2)),
        "{:?}",
        r.body
    );
    let token = h.api.user_token("bob").await;
    eventually("bob's history shows both", || async {
        let path = format!("/v1/conversations/{CONV}/messages?order=oldest&after=0&limit=2");
        let page = h.api.get_as(&token, &path).await.body;
        page["messages"][0]["recalled"].is_object()
            && page["messages"][1]["body"]["text"] == "second, edited"
    })
    .await;
}
