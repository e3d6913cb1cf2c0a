//! Rebuilding the read models from sequence 1 gives the live state, digest for digest.

use crate::harness::{Harness, eventually, last_seq};
use serde_json::json;
use std::process::Command;
use tidings_store::ProjectionStore;
use tidings_testkit::TestNats;

/// Groups above this size use read diffusion here, so the `big` group exercises it.
const LARGE_GROUP: usize = 2;
/// A replay cache of two rows per table and generation: most batches evict.
const TINY_CACHE: usize = 2;

#[tokio::test]
async fn replay_digest_equals_live_digest() {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.projector.large_group = LARGE_GROUP;
    })
    .await;
    let (mut alice, _) = h.online("alice", 0).await;
    let (mut bob, _) = h.online("bob", 0).await;
    h.api.register("carol").await;
    let mut to_bob = Vec::new();
    for i in 0..20 {
        let sent = alice
            .send_text(&format!("a{i}"), "bob", &format!("a{i}"), "hi bob")
            .await;
        to_bob.push(sent["msg_id"].as_str().unwrap().to_owned());
    }
    for i in 0..10 {
        bob.send_text(&format!("b{i}"), "alice", &format!("b{i}"), "hi alice")
            .await;
        bob.send_text(&format!("c{i}"), "carol", &format!("c{i}"), "hi carol")
            .await;
    }
    let renamed = h
        .api
        .post(
            "/v1/users",
            &serde_json::json!({"user_id": "carol", "name": "Carol C"}),
        )
        .await;
    assert_eq!(renamed.body["version"], 2);

    // Relations, revocation and deactivation are rebuilt too.
    let bob_token = h.api.user_token("bob").await;
    let carol_token = h.api.user_token("carol").await;
    for (token, path, body) in [
        (
            &bob_token,
            "/v1/friends/requests",
            json!({"to": "alice", "note": "hi"}),
        ),
        (&bob_token, "/v1/friends/requests", json!({"to": "carol"})),
        (&carol_token, "/v1/friends/requests/bob/accept", json!({})),
        (&carol_token, "/v1/blocks", json!({"user_id": "alice"})),
    ] {
        assert_eq!(
            h.api.post_as(token, path, &body).await.status,
            200,
            "{path}"
        );
    }
    assert_eq!(
        h.api
            .post("/v1/users/carol/tokens/revoke", &json!({}))
            .await
            .status,
        200
    );
    h.api.register("dave").await;
    assert_eq!(
        h.api
            .post("/v1/users/dave/deactivate", &json!({}))
            .await
            .status,
        200
    );

    let system = json!({"to": ["alice", "bob"], "body": {"type": "text", "text": "hi all"}});
    assert_eq!(
        h.api.post("/v1/system/messages", &system).await.body["delivered_to"],
        2
    );

    // Read markers move conversation rows and deliver receipts.
    let r = h
        .api
        .post_as(
            &bob_token,
            "/v1/conversations/d~alice~bob/read",
            &json!({"conv_seq": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Delete and clear for me: hidden messages and clear marks, direct and in groups below.
    for (path, body) in [
        ("/v1/conversations/d~alice~bob/hide", json!({"conv_seq": 3})),
        ("/v1/conversations/d~alice~bob/hide", json!({"conv_seq": 3})),
        ("/v1/conversations/d~alice~bob/clear", json!({"up_to": 2})),
        ("/v1/conversations/d~bob~carol/clear", json!({})),
    ] {
        let r = h.api.post_as(&bob_token, path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }

    // Conversation settings: a change, a repeat (records nothing), a field cleared, another
    // conversation.
    for (conv, body) in [
        (
            "d~alice~bob",
            json!({"pinned": true, "draft": "later", "muted_until": 9}),
        ),
        ("d~alice~bob", json!({"pinned": true})),
        ("d~alice~bob", json!({"draft": null, "marked_unread": true})),
        ("d~bob~carol", json!({"hidden": true})),
    ] {
        let path = format!("/v1/conversations/{conv}/settings");
        let r = h.api.post_as(&bob_token, &path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }

    // Devices and per-device read positions: every session registered its device at hello;
    // reads name their device (the REST body, a session's `read` frame), and carol's phone is
    // registered, then signed out.
    let r = h
        .api
        .post_as(
            &bob_token,
            "/v1/conversations/d~alice~bob/read",
            &json!({"conv_seq": 7, "device": "bob-tablet"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    bob.send(json!({"t": "read", "conv": "d~alice~bob", "conv_seq": 9}))
        .await;
    // Frames are answered in order: the settings answer means the read is recorded.
    bob.send(
        json!({"t": "settings", "id": "s-read", "conv": "d~alice~bob", "marked_unread": false}),
    )
    .await;
    assert_eq!(bob.expect_answer("s-read").await["t"], "settings_set");
    let carol_fresh = h.api.user_token("carol").await;
    let mut carol_phone = tidings_testkit::WsClient::connect(&h.base, &carol_fresh, false)
        .await
        .expect("upgrade accepted");
    carol_phone
        .send(json!({"t": "hello", "since": 0, "device": "carol-phone", "platform": "android"}))
        .await;
    carol_phone.expect("welcome").await;
    let out = h
        .api
        .post("/v1/users/carol/devices/carol-phone/sign-out", &json!({}))
        .await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    // Push settings: two registrations, one replaced, one removed, do-not-disturb set.
    for (method, path, body) in [
        (
            "PUT",
            "/v1/devices/phone/push",
            json!({"provider": "apns", "token": "a1", "topic": "t"}),
        ),
        (
            "PUT",
            "/v1/devices/pixel/push",
            json!({"provider": "fcm", "token": "f1"}),
        ),
        (
            "PUT",
            "/v1/devices/phone/push",
            json!({"provider": "apns", "token": "a2"}),
        ),
        ("DELETE", "/v1/devices/pixel/push", json!(null)),
        ("PUT", "/v1/push/dnd", json!({"until": 9})),
    ] {
        let r = match method {
            "PUT" => h.api.put_as(&bob_token, path, &body).await,
            _ => h.api.delete_as(&bob_token, path).await,
        };
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }

    // Tags and broadcasts: tags added, a repeat (records nothing), one removed; a broadcast to
    // everyone and one to a tag (each stored once).
    for (user, body) in [
        ("alice", json!({"add": ["vip", "beta"]})),
        ("alice", json!({"add": ["vip"]})),
        ("bob", json!({"add": ["vip"]})),
        ("alice", json!({"remove": ["beta"]})),
    ] {
        let r = h.api.post(&format!("/v1/users/{user}/tags"), &body).await;
        assert_eq!(r.status, 200, "{user}: {:?}", r.body);
    }
    for body in [
        json!({"body": {"type": "text", "text": "to everyone"}}),
        json!({"tag": "vip", "body": {"type": "text", "text": "to the vips"}}),
    ] {
        let r = h.api.post("/v1/broadcasts", &body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    // Groups: lifecycle, membership, roles, mutes and messages, small and large.
    let owner_token = h.api.user_token("alice").await;
    for (path, body) in [
        (
            "/v1/groups",
            json!({"group_id": "team", "name": "Team", "members": ["bob"]}),
        ),
        (
            "/v1/groups/team/ops",
            json!({"op": "add", "users": ["carol"]}),
        ),
        (
            "/v1/groups/team/ops",
            json!({"op": "set_admin", "user": "bob", "admin": true}),
        ),
        (
            "/v1/groups/team/ops",
            json!({"op": "announce", "text": "hello all"}),
        ),
        (
            "/v1/groups/team/ops",
            json!({"op": "mute", "user": "carol", "muted": true}),
        ),
        (
            "/v1/groups/team/ops",
            json!({"op": "kick", "user": "carol"}),
        ),
        (
            "/v1/groups",
            json!({"group_id": "big", "name": "Big", "members": ["bob", "carol"]}),
        ),
    ] {
        let r = h.api.post_as(&owner_token, path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    let mut in_group = Vec::new();
    for group in ["team", "big"] {
        alice
            .send(
                json!({"t": "send", "id": group, "to": {"group": group}, "client_msg_id": group,
                         "body": {"type": "text", "text": "to the group"}, "mentions": ["bob"]}),
            )
            .await;
        let sent = alice.expect_answer(group).await;
        assert_eq!(sent["t"], "sent");
        in_group.push(sent["msg_id"].as_str().unwrap().to_owned());
    }
    // A member's row follows the group's timeline until they leave: bob writes (his row
    // moves), carol leaves (hers stops there), alice writes on.
    for (ws, id) in [(&mut bob, "big-2"), (&mut alice, "big-3")] {
        if id == "big-3" {
            // Her first token was revoked above.
            let carol = h.api.user_token("carol").await;
            let r = h
                .api
                .post_as(&carol, "/v1/groups/big/ops", &json!({"op": "leave"}))
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        ws.send(
            json!({"t": "send", "id": id, "to": {"group": "big"}, "client_msg_id": id,
                       "body": {"type": "text", "text": id}}),
        )
        .await;
        assert_eq!(ws.expect_answer(id).await["t"], "sent");
    }

    // App events share the stream: every change of a runtime app is read (and folds into no
    // read model) on the way.
    let admin = tidings::dev_app::admin_in(h.dir.path()).unwrap().unwrap();
    let admin = tidings_testkit::ServerApi::new(&h.base, &admin.key, &admin.secret);
    for (path, body) in [
        (
            "/v1/admin/apps",
            json!({"key": "tenant", "settings": {"max_group_members": 9}}),
        ),
        (
            "/v1/admin/apps/tenant/rotate-secret",
            json!({"grace_secs": 60}),
        ),
        (
            "/v1/admin/apps/tenant/settings",
            json!({"messaging": "friends_only"}),
        ),
        ("/v1/admin/apps/tenant/disable", json!({})),
    ] {
        let r = admin.post(path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }

    for (conv, body) in [
        ("g~big", json!({"user": "bob", "conv_seq": 1})),
        ("g~team", json!({"user": "bob", "up_to": 1})),
    ] {
        let action = if body.get("conv_seq").is_some() {
            "hide"
        } else {
            "clear"
        };
        let r = h
            .api
            .post(&format!("/v1/server/conversations/{conv}/{action}"), &body)
            .await;
        assert_eq!(r.status, 200, "{conv}: {:?}", r.body);
    }

    // Reactions (a repeat, a removal, a read-diffusion group) and pins.
    for (by_bob, id, t, conv, msg_id, key) in [
        (true, "r1", "react", "d~alice~bob", &to_bob[0], "👍"),
        (true, "r2", "react", "d~alice~bob", &to_bob[0], "👍"),
        (false, "r3", "react", "d~alice~bob", &to_bob[0], "👍"),
        (true, "r4", "react", "d~alice~bob", &to_bob[1], "ok"),
        (true, "r5", "unreact", "d~alice~bob", &to_bob[1], "ok"),
        (true, "r6", "react", "g~big", &in_group[1], "ok"),
        (false, "p1", "pin", "d~alice~bob", &to_bob[2], ""),
        (false, "p2", "pin", "g~team", &in_group[0], ""),
        (true, "p3", "unpin", "g~team", &in_group[0], ""),
        (false, "p4", "pin", "g~big", &in_group[1], ""),
    ] {
        let ws = if by_bob { &mut bob } else { &mut alice };
        ws.send(json!({"t": t, "id": id, "conv": conv, "msg_id": msg_id, "key": key}))
            .await;
        let answer = ws.expect_answer(id).await;
        assert!(answer["pos"].is_u64(), "{id}: {answer}");
    }

    // Recalls and edits: direct, a write-diffusion and a read-diffusion group, by the sender
    // and by the app server; a repeated recall records nothing.
    let direct =
        |id: &str, action: &str| format!("/v1/conversations/d~alice~bob/messages/{id}/{action}");
    let group =
        |g: &str, id: &str, action: &str| format!("/v1/conversations/g~{g}/messages/{id}/{action}");
    let edit = |text: &str| json!({"body": {"type": "text", "text": text}});
    for (path, body) in [
        (direct(&to_bob[18], "edit"), edit("hi bob, edited")),
        (direct(&to_bob[18], "edit"), edit("hi bob, edited twice")),
        (direct(&to_bob[19], "recall"), json!({})),
        (direct(&to_bob[19], "recall"), json!({})),
        (
            group("team", &in_group[0], "edit"),
            edit("to the team, edited"),
        ),
        (
            group("big", &in_group[1], "edit"),
            edit("to the big group, edited"),
        ),
        (group("big", &in_group[1], "recall"), json!({})),
    ] {
        let r = h.api.post_as(&owner_token, &path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    let moderation = format!(
        "/v1/server/conversations/d~alice~bob/messages/{}/recall",
        to_bob[0]
    );
    let r = h.api.post(&moderation, &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // A reply to an edited message and one to a recalled message (sent before its recall),
    // and a forward from the team to bob.
    for (id, extra) in [
        (
            "reply1",
            json!({"reply_to": to_bob[18], "body": {"type": "text", "text": "re"}}),
        ),
        (
            "reply2",
            json!({"reply_to": to_bob[1], "body": {"type": "text", "text": "re"}}),
        ),
        (
            "fwd1",
            json!({"forward_of": {"conv": "g~team", "msg_id": in_group[0]}}),
        ),
    ] {
        let mut frame = json!({"t": "send", "id": id, "to": {"user": "bob"}, "client_msg_id": id});
        frame
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        alice.send(frame).await;
        assert_eq!(alice.expect_answer(id).await["t"], "sent", "{id}");
    }
    let r = h
        .api
        .post_as(&owner_token, &direct(&to_bob[1], "recall"), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Customer-service accounts: assigned, queued, taken, transferred and closed sessions, a
    // detach that requeues, messages both ways and a removal on one side.
    let desk = h.api.user_token("desk").await;
    h.api.register("agent").await;
    for (path, body) in [
        (
            "/v1/server/services/desk",
            json!({"strategy": "least_busy"}),
        ),
        (
            "/v1/server/services/desk/agents/agent",
            json!({"capacity": 1}),
        ),
        (
            "/v1/messages",
            json!({"from": "alice", "to": {"service": "desk"}, "client_msg_id": "s1",
                   "body": {"type": "text", "text": "help"}}),
        ),
        (
            "/v1/messages",
            json!({"from": "bob", "to": {"service": "desk"}, "client_msg_id": "s2",
                   "body": {"type": "text", "text": "help"}}),
        ),
        ("/v1/server/services/desk/agents/agent/detach", json!({})),
    ] {
        let r = h.api.post(path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    for (path, body) in [
        ("/v1/services/desk/customers/bob/take", json!({})),
        (
            "/v1/services/desk/customers/alice/messages",
            json!({"client_msg_id": "s3", "body": {"type": "text", "text": "here"}}),
        ),
        ("/v1/services/desk/customers/alice/close", json!({})),
        ("/v1/conversations/s~desk~bob/hide", json!({"conv_seq": 1})),
    ] {
        let r = h.api.post_as(&desk, path, &body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }

    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let last = last_seq(&js).await;
    eventually("the live projection catches up", || async {
        h.store.checkpoint("inbox").await.unwrap() == last
    })
    .await;
    let live = h.store.digest().await.unwrap();

    let into = tempfile::tempdir().unwrap();
    let store = tidings_store::FjallStore::open(&into.path().join("store")).unwrap();
    let report = tidings::replay::replay(&client, store, LARGE_GROUP, TINY_CACHE, false)
        .await
        .unwrap();
    assert_eq!(report.through_seq, last);
    assert_eq!(report.events, last);
    assert_eq!(report.digest, live);

    // The command line does the same and prints the digest.
    let cli_into = tempfile::tempdir().unwrap();
    let config = cli_into.path().join("tidings.toml");
    std::fs::write(
        &config,
        format!("[projector]\nlarge_group = {LARGE_GROUP}\n"),
    )
    .unwrap();
    let stdout = succeeds(
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["replay", "inbox", "--into"])
            .arg(cli_into.path().join("store"))
            .env("NATS_URL", h.nats.url())
            .env("TIDINGS_CONFIG", &config),
    );
    assert!(stdout.contains(&format!("digest={live}")), "{stdout}");

    // The command leaves its store to the process's exit once the journal is synced: opened
    // again, the store holds every row it digested.
    let stdout = succeeds(
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["digest", "--data-dir"])
            .arg(cli_into.path()),
    );
    assert!(
        stdout.contains(&format!("checkpoint={last} digest={live}")),
        "{stdout}"
    );
}

/// Runs a `tidings` command (logging warnings only), asserts it succeeded and returns its
/// standard output.
fn succeeds(command: &mut Command) -> String {
    let out = command.env("TIDINGS_LOG", "warn").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `tidings digest` of a directory that holds no store says so instead of digesting a new,
/// empty one (opening an embedded store creates it).
#[test]
fn digest_of_a_directory_without_a_store_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["digest", "--data-dir"])
        .arg(dir.path())
        .env("TIDINGS_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no embedded store"), "{stderr}");
    assert!(!dir.path().join("store").exists());
}
