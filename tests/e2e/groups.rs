//! Groups through the real server: lifecycle, membership flows, announcements and mutes, and
//! group messages in write and read diffusion.

use crate::harness::{Harness, eventually};
use serde_json::{Value, json};
use tidings_testkit::{TestNats, WsClient};

/// Sends a `group` frame and returns the answer (entries arriving meanwhile are skipped).
async fn op(ws: &mut WsClient, id: &str, group: &str, body: Value) -> Value {
    let mut frame = body;
    frame["t"] = json!("group");
    frame["id"] = json!(id);
    frame["group"] = json!(group);
    ws.send(frame).await;
    ws.expect_answer(id).await
}

async fn send_group(ws: &mut WsClient, id: &str, group: &str, text: &str, extra: Value) -> Value {
    let mut frame = json!({"t": "send", "id": id, "to": {"group": group}, "client_msg_id": id,
                           "body": {"type": "text", "text": text}});
    if let (Some(frame), Some(extra)) = (frame.as_object_mut(), extra.as_object()) {
        frame.extend(extra.clone());
    }
    ws.send(frame).await;
    ws.expect_answer(id).await
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

#[tokio::test]
async fn create_add_message_kick_and_the_kicked_member_is_refused() {
    let h = Harness::start().await;
    let (mut owner, _) = h.online("owner", 0).await;
    let (mut amy, _) = h.online("amy", 0).await;
    let (mut bob, _) = h.online("bob", 0).await;

    let r = op(
        &mut owner,
        "1",
        "team",
        json!({"op": "create", "name": "Team", "members": ["amy"]}),
    )
    .await;
    assert_eq!(r["t"], "group", "{r}");
    assert_eq!(r["group"]["role"], "owner");
    assert_eq!(r["group"]["member_count"], 2);
    assert_eq!(entry_of(&mut amy, "group_created").await["name"], "Team");

    let r = op(
        &mut amy,
        "2",
        "team",
        json!({"op": "add", "users": ["bob"]}),
    )
    .await;
    assert_eq!(r["code"], "forbidden", "members cannot add: {r}");
    let r = op(
        &mut owner,
        "3",
        "team",
        json!({"op": "add", "users": ["bob"]}),
    )
    .await;
    assert_eq!(r["group"]["member_count"], 3);
    assert_eq!(
        entry_of(&mut bob, "group_member_added").await["users"],
        json!(["bob"])
    );

    let sent = send_group(&mut owner, "m1", "team", "hello team", json!({})).await;
    assert_eq!(
        (sent["t"].as_str(), sent["conv"].as_str()),
        (Some("sent"), Some("g~team"))
    );
    for ws in [&mut amy, &mut bob] {
        let m = entry_of(ws, "message").await;
        assert_eq!(
            (m["from"].as_str(), m["to"].clone()),
            (Some("owner"), json!({"group": "team"}))
        );
    }

    op(
        &mut owner,
        "4",
        "team",
        json!({"op": "kick", "user": "bob"}),
    )
    .await;
    let removed = entry_of(&mut bob, "group_member_removed").await;
    assert_eq!(
        (removed["user"].as_str(), removed["flag"].as_bool()),
        (Some("bob"), Some(true))
    );
    let refused = send_group(&mut bob, "m2", "team", "let me back", json!({})).await;
    assert_eq!(
        refused["code"], "not_member",
        "the very next send after a kick: {refused}"
    );

    assert_eq!(
        send_group(&mut amy, "m3", "team", "still here", json!({})).await["t"],
        "sent"
    );
    assert_eq!(entry_of(&mut owner, "message").await["from"], "amy");

    // History: members read it, the kicked member no longer can.
    let amy_token = h.api.user_token("amy").await;
    let history = h
        .api
        .get_as(&amy_token, "/v1/conversations/g~team/messages")
        .await;
    let texts: Vec<&str> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["still here", "hello team"]);
    let bob_token = h.api.user_token("bob").await;
    let r = h
        .api
        .get_as(&bob_token, "/v1/conversations/g~team/messages")
        .await;
    assert_eq!(r.status, 403);

    // Sync at login: amy's groups, then nothing new since the cursor.
    let mine = h.api.get_as(&amy_token, "/v1/groups?since=0").await;
    assert_eq!(mine.body["groups"][0]["group"]["group"], "team");
    assert_eq!(mine.body["groups"][0]["role"], "member");
    let cursor = mine.body["cursor"].as_u64().unwrap();
    let none = h
        .api
        .get_as(&amy_token, &format!("/v1/groups?since={cursor}"))
        .await;
    assert_eq!(none.body["groups"], json!([]));
    let bobs = h.api.get_as(&bob_token, "/v1/groups?since=0").await;
    assert_eq!(
        bobs.body["groups"][0]["role"],
        Value::Null,
        "bob's row says he left"
    );
    let members = h
        .api
        .get_as(&amy_token, "/v1/groups/team/members?limit=1")
        .await;
    assert_eq!(members.body["members"][0]["user"], "amy");
    let rest = h
        .api
        .get_as(
            &amy_token,
            &format!(
                "/v1/groups/team/members?after={}",
                members.body["next_after"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(rest.body["members"][0]["user"], "owner");
    let r = h.api.get_as(&bob_token, "/v1/groups/team/members").await;
    assert_eq!(r.body["code"], "not_member");

    // Members leave; the owner cannot (transfer or dismiss first).
    let r = op(&mut amy, "5", "team", json!({"op": "leave"})).await;
    assert_eq!(
        (
            r["group"]["role"].clone(),
            r["group"]["member_count"].clone()
        ),
        (Value::Null, json!(1))
    );
    let r = op(&mut owner, "6", "team", json!({"op": "leave"})).await;
    assert_eq!(r["code"], "forbidden");
}

#[tokio::test]
async fn apply_then_approve_or_reject() {
    let h = Harness::start().await;
    let (mut owner, _) = h.online("owner", 0).await;
    op(
        &mut owner,
        "1",
        "club",
        json!({"op": "create", "name": "Club", "join_policy": "approval"}),
    )
    .await;
    let (mut carol, _) = h.online("carol", 0).await;
    let (mut dave, _) = h.online("dave", 0).await;

    let r = op(
        &mut carol,
        "a",
        "club",
        json!({"op": "apply", "note": "I like clubs"}),
    )
    .await;
    assert_eq!(r["group"]["role"], Value::Null, "{r}");
    let request = entry_of(&mut owner, "group_join_requested").await;
    assert_eq!(
        (request["user"].as_str(), request["note"].as_str()),
        (Some("carol"), Some("I like clubs"))
    );
    assert_eq!(
        entry_of(&mut carol, "group_join_requested").await["user"],
        "carol"
    );
    let r = op(
        &mut carol,
        "b",
        "club",
        json!({"op": "decide", "user": "carol", "approve": true}),
    )
    .await;
    assert_eq!(r["code"], "forbidden");
    op(
        &mut owner,
        "2",
        "club",
        json!({"op": "decide", "user": "carol", "approve": true}),
    )
    .await;
    let decided = entry_of(&mut carol, "group_join_decided").await;
    assert_eq!(decided["flag"], true);
    assert_eq!(
        entry_of(&mut carol, "group_member_added").await["users"],
        json!(["carol"])
    );
    assert_eq!(
        send_group(&mut carol, "c1", "club", "thanks", json!({})).await["t"],
        "sent"
    );

    op(&mut dave, "a", "club", json!({"op": "apply"})).await;
    op(
        &mut owner,
        "3",
        "club",
        json!({"op": "decide", "user": "dave", "approve": false}),
    )
    .await;
    let decided = entry_of(&mut dave, "group_join_decided").await;
    assert_eq!(decided["flag"], false);
    assert_eq!(
        send_group(&mut dave, "d1", "club", "hi?", json!({})).await["code"],
        "not_member"
    );
    let r = op(
        &mut owner,
        "4",
        "club",
        json!({"op": "decide", "user": "dave", "approve": true}),
    )
    .await;
    assert_eq!(r["code"], "not_found", "no pending request anymore");
}

#[tokio::test]
async fn announcement_mutes_transfer_and_dismiss() {
    let h = Harness::start().await;
    let (mut owner, _) = h.online("owner", 0).await;
    let (mut amy, _) = h.online("amy", 0).await;
    let (mut bob, _) = h.online("bob", 0).await;
    op(
        &mut owner,
        "1",
        "crew",
        json!({"op": "create", "name": "Crew", "members": ["amy", "bob"]}),
    )
    .await;
    op(
        &mut owner,
        "2",
        "crew",
        json!({"op": "set_admin", "user": "amy", "admin": true}),
    )
    .await;

    op(
        &mut amy,
        "a",
        "crew",
        json!({"op": "announce", "text": "standup at 10"}),
    )
    .await;
    assert_eq!(
        entry_of(&mut bob, "group_announcement").await["text"],
        "standup at 10"
    );
    let r = op(
        &mut bob,
        "b",
        "crew",
        json!({"op": "announce", "text": "no"}),
    )
    .await;
    assert_eq!(r["code"], "forbidden");
    let r = op(
        &mut amy,
        "c",
        "crew",
        json!({"op": "announce", "text": "x".repeat(3000)}),
    )
    .await;
    assert_eq!(r["code"], "too_large");

    op(
        &mut amy,
        "d",
        "crew",
        json!({"op": "mute", "user": "bob", "muted": true}),
    )
    .await;
    assert_eq!(
        send_group(&mut bob, "m1", "crew", "can I?", json!({})).await["code"],
        "muted"
    );
    op(
        &mut amy,
        "e",
        "crew",
        json!({"op": "mute", "user": "bob", "muted": false}),
    )
    .await;
    assert_eq!(
        send_group(&mut bob, "m2", "crew", "yes", json!({})).await["t"],
        "sent"
    );
    op(
        &mut owner,
        "3",
        "crew",
        json!({"op": "mute_all", "muted": true}),
    )
    .await;
    assert_eq!(
        send_group(&mut bob, "m3", "crew", "hm", json!({})).await["code"],
        "muted"
    );
    assert_eq!(
        send_group(&mut amy, "m4", "crew", "admins may", json!({})).await["t"],
        "sent"
    );
    let r = send_group(&mut bob, "m5", "crew", "@all", json!({"mention_all": true})).await;
    assert_eq!(r["code"], "muted");

    let r = op(
        &mut owner,
        "4",
        "crew",
        json!({"op": "transfer", "to": "bob"}),
    )
    .await;
    assert_eq!(r["group"]["role"], "admin");
    let r = op(&mut owner, "5", "crew", json!({"op": "dismiss"})).await;
    assert_eq!(r["code"], "forbidden", "only the new owner may dismiss");
    op(&mut bob, "f", "crew", json!({"op": "dismiss"})).await;
    assert_eq!(entry_of(&mut amy, "group_dismissed").await["group"], "crew");
    assert_eq!(
        send_group(&mut amy, "m6", "crew", "anyone?", json!({})).await["code"],
        "not_found"
    );
    let r = op(
        &mut amy,
        "g",
        "ghost",
        json!({"op": "announce", "text": "x"}),
    )
    .await;
    assert_eq!(r["code"], "not_found");
}

#[tokio::test]
async fn the_member_cap_is_enforced_with_a_clear_message() {
    // A second app with a cap of 3; the dev app keeps the default.
    let mut h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        let mut capped = tidings_api::apps::AppConfig::new("capped", "capped-app-secret-0123");
        capped.settings.max_group_members = 3;
        c.api.apps.push(capped);
    })
    .await;
    let dev_api = std::mem::replace(
        &mut h.api,
        tidings_testkit::ServerApi::new(&h.base, "capped", "capped-app-secret-0123"),
    );
    let (mut owner, _) = h.online("owner", 0).await;
    for u in ["a", "b", "c"] {
        h.api.register(u).await;
    }
    let r = op(
        &mut owner,
        "1",
        "tiny",
        json!({"op": "create", "name": "Tiny", "members": ["a", "b", "c"]}),
    )
    .await;
    assert_eq!(r["code"], "forbidden");
    assert!(
        r["message"].as_str().unwrap().contains("at most 3 members"),
        "{r}"
    );
    op(
        &mut owner,
        "2",
        "tiny",
        json!({"op": "create", "name": "Tiny", "members": ["a", "b"]}),
    )
    .await;
    let r = op(
        &mut owner,
        "3",
        "tiny",
        json!({"op": "add", "users": ["c"]}),
    )
    .await;
    assert_eq!(r["code"], "forbidden");
    let r = op(
        &mut owner,
        "4",
        "tiny",
        json!({"op": "add", "users": ["nobody"]}),
    )
    .await;
    assert_eq!(r["code"], "not_found");

    // The server API acts on behalf of a user, with that user's rights.
    let r = h
        .api
        .post(
            "/v1/server/groups/tiny/ops",
            &json!({"actor": "a", "op": "kick", "user": "b"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = h
        .api
        .post(
            "/v1/server/groups/tiny/ops",
            &json!({"actor": "owner", "op": "kick", "user": "b"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["group"]["member_count"].as_u64()),
        (200, Some(2))
    );

    // The cap is per app: the dev app's groups take more.
    for u in ["a", "b", "c"] {
        dev_api.register(u).await;
    }
    let token = dev_api.user_token("owner").await;
    let mut other = WsClient::connect(&h.base, &token, false).await.unwrap();
    other.hello(0).await;
    other.until_synced().await;
    let create = json!({"op": "create", "name": "Not tiny", "members": ["a", "b", "c"]});
    let r = op(&mut other, "5", "tiny", create).await;
    assert_eq!(r["group"]["member_count"], 4, "{r}");
}

/// Registers `n` users named `{prefix}{i}` through the signed API.
async fn register_many(h: &Harness, prefix: &str, n: usize) -> Vec<String> {
    let users: Vec<String> = (0..n).map(|i| format!("{prefix}{i:04}")).collect();
    for chunk in users.chunks(50) {
        let calls = chunk.iter().map(|u| h.api.register(u));
        for r in futures_util::future::join_all(calls).await {
            assert_eq!(r.status, 200);
        }
    }
    users
}

async fn big_group_delivers_once(size: usize, online: usize, group: &str, read_diffusion: bool) {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.gateway.frames_per_sec = 1_000_000;
        c.gateway.frames_burst = 1_000_000;
    })
    .await;
    let users = register_many(&h, &format!("{group}m"), size - 1).await;
    let (mut owner, _) = h.online(&format!("{group}owner"), 0).await;
    let r = op(
        &mut owner,
        "c",
        group,
        json!({"op": "create", "name": group, "members": users}),
    )
    .await;
    assert_eq!(r["group"]["member_count"], size, "{r}");
    // Connect `online` members and read past the group_created entry.
    let mut connected = Vec::new();
    for user in users.iter().take(online) {
        let (mut ws, backlog) = h.online(user, 0).await;
        if backlog.is_empty() {
            entry_of(&mut ws, "group_created").await;
        }
        connected.push(ws);
    }
    let mentioned = &users[online + 1];
    for i in 0..3 {
        let extra = if i == 2 {
            json!({"mentions": [mentioned]})
        } else {
            json!({})
        };
        let sent = send_group(
            &mut owner,
            &format!("g{i}"),
            group,
            &format!("msg {i}"),
            extra,
        )
        .await;
        assert_eq!(sent["conv_seq"], i + 1, "{sent}");
    }
    let expected_kind = if read_diffusion {
        "group_advanced"
    } else {
        "message"
    };
    for ws in &mut connected {
        for i in 0..3u64 {
            let e = ws.expect("entry").await;
            assert_eq!(e["kind"], expected_kind, "{e}");
            assert_eq!(e["conv_seq"], i + 1, "each message once, in order: {e}");
        }
    }
    // Nothing else is pending for online members: a ping is answered next.
    for ws in &mut connected {
        ws.send(json!({"t": "ping"})).await;
        ws.expect("pong").await;
    }
    // Offline members catch up; the mentioned one gets the full message.
    let (_m, backlog) = h.online(mentioned, 0).await;
    let kinds: Vec<&str> = backlog
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["group_created", expected_kind, expected_kind, "message"]
    );
    assert_eq!(backlog[3]["mentions"], json!([mentioned]));
    let last = &users[size - 2];
    let (_l, backlog) = h.online(last, 0).await;
    assert_eq!(backlog.len(), 4);
    assert_eq!(backlog[3]["kind"], expected_kind);
    // Group info tells clients the mode; the timeline holds every message.
    let token = h.api.user_token(last).await;
    let info = h.api.get_as(&token, &format!("/v1/groups/{group}")).await;
    assert_eq!(
        info.body["group"]["diffusion"],
        if read_diffusion { "read" } else { "write" }
    );
    eventually("history", || async {
        h.api
            .get_as(&token, &format!("/v1/conversations/g~{group}/messages"))
            .await
            .body["messages"]
            .as_array()
            .is_some_and(|m| m.len() == 3)
    })
    .await;
}

#[tokio::test]
async fn a_50_member_group_uses_write_diffusion() {
    big_group_delivers_once(50, 20, "small", false).await;
}

#[tokio::test]
async fn a_1000_member_group_uses_read_diffusion() {
    big_group_delivers_once(1000, 100, "large", true).await;
}

/// `user`'s row of `conv` in their conversation list, once `ready` holds for it.
async fn conv_row(h: &Harness, token: &str, conv: &str, ready: impl Fn(&Value) -> bool) -> Value {
    crate::harness::until(&format!("{conv} as wanted"), || async {
        let list = h.api.get_as(token, "/v1/conversations").await;
        let rows = list.body["conversations"].as_array().cloned()?;
        rows.into_iter().find(|r| r["conv"] == conv && ready(r))
    })
    .await
}

/// Only a group message's sender has their conversation row written; every other member's
/// row follows the group's timeline when read, across a restart (the projector's roster
/// reloads), and stops at the last message before a member leaves.
#[tokio::test]
async fn group_conversation_rows_follow_the_timeline_and_stop_at_a_leave() {
    let h = Harness::start().await;
    let (mut owner, _) = h.online("owner", 0).await;
    for user in ["amy", "bob"] {
        h.api.register(user).await;
    }
    let r = op(
        &mut owner,
        "c",
        "club",
        json!({"op": "create", "name": "Club", "members": ["amy", "bob"]}),
    )
    .await;
    assert_eq!(r["t"], "group", "{r}");
    for i in 1..=3 {
        let sent = send_group(
            &mut owner,
            &format!("m{i}"),
            "club",
            &format!("{i}"),
            json!({}),
        )
        .await;
        assert_eq!(sent["conv_seq"], i, "{sent}");
    }
    let amy = h.api.user_token("amy").await;
    let row = conv_row(&h, &amy, "g~club", |r| r["last_seq"] == 3).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["body"]["text"].as_str()
        ),
        (Some(3), Some("3")),
        "{row}"
    );
    let r = h
        .api
        .post_as(
            &amy,
            "/v1/conversations/g~club/read",
            &json!({"conv_seq": 2}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    conv_row(&h, &amy, "g~club", |r| r["unread"] == 1).await;

    // After a restart the fold knows nobody's row; a message from bob moves his row and
    // writes the others' once more, which changes nothing they show.
    drop(owner);
    let (nats, dir) = h.stop().await;
    let h = Harness::start_on(nats, dir, |_| {}).await;
    let (mut bob, _) = h.online("bob", 0).await;
    let sent = send_group(&mut bob, "m4", "club", "4", json!({})).await;
    assert_eq!(sent["conv_seq"], 4, "{sent}");
    let row = conv_row(&h, &amy, "g~club", |r| r["last_seq"] == 4).await;
    assert_eq!(
        (row["read_seq"].as_u64(), row["unread"].as_u64()),
        (Some(2), Some(2)),
        "{row}"
    );
    assert_eq!(row["last_message"]["from"], "bob");
    assert!(
        row.get("follows").is_none(),
        "the stored flag never goes out: {row}"
    );
    let bob_token = h.api.user_token("bob").await;
    let row = conv_row(&h, &bob_token, "g~club", |r| r["last_seq"] == 4).await;
    assert_eq!(row["unread"], 0, "sending reads what came before: {row}");

    // Bob leaves; the owner writes on. Bob's row stays at message 4, amy's follows.
    assert_eq!(
        op(&mut bob, "l", "club", json!({"op": "leave"})).await["t"],
        "group"
    );
    let (mut owner, _) = h.online("owner", 0).await;
    for i in 5..=6 {
        send_group(
            &mut owner,
            &format!("m{i}"),
            "club",
            &format!("{i}"),
            json!({}),
        )
        .await;
    }
    let row = conv_row(&h, &amy, "g~club", |r| r["last_seq"] == 6).await;
    assert_eq!(
        (
            row["unread"].as_u64(),
            row["last_message"]["body"]["text"].as_str()
        ),
        (Some(4), Some("6")),
        "{row}"
    );
    let row = conv_row(&h, &bob_token, "g~club", |_| true).await;
    assert_eq!(
        (row["last_seq"].as_u64(), row["unread"].as_u64()),
        (Some(4), Some(0)),
        "{row}"
    );
    assert_eq!(row["last_message"]["body"]["text"], "4");
}
