//! Conversation settings that follow the user across devices (issue 14 item 6): a setting made
//! on one device reaches the user's other devices live, and a device that was offline by
//! catch-up, and the conversation list shows them; nobody else hears of them.

use crate::harness::Harness;
use serde_json::{Value, json};

/// The `settings` entries among `entries`, for `conv`.
fn settings_of<'a>(entries: &'a [Value], conv: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|e| e["kind"] == "settings" && e["conv"] == conv)
        .collect()
}

#[tokio::test]
async fn a_setting_made_on_one_device_reaches_the_other_live_and_by_catch_up() {
    let h = Harness::start().await;
    let conv = "d~alice~bob";
    let alice = h.api.user_token("alice").await;
    h.api.user_token("bob").await;
    let r = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": "bob", "to": {"user": "alice"}, "client_msg_id": "c1",
                    "body": {"type": "text", "text": "hi"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let sent_pos = r.body["pos"].as_u64().unwrap();

    // Alice's second device is online and caught up with the message.
    let mut phone = h.connect("alice").await;
    phone
        .send(json!({"t": "hello", "since": 0, "min_pos": sent_pos}))
        .await;
    phone.expect("welcome").await;
    let before = phone.until_synced().await;
    assert!(settings_of(&before, conv).is_empty());

    // Her first device pins the conversation, mutes it until a time and keeps a draft.
    let r = h
        .api
        .post_as(
            &alice,
            &format!("/v1/conversations/{conv}/settings"),
            &json!({"pinned": true, "muted_until": 4_102_444_800_000_i64, "draft": "see you"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["pinned"], &r.body["muted_until"], &r.body["draft"]),
        (
            &json!(true),
            &json!(4_102_444_800_000_i64),
            &json!("see you")
        )
    );
    let pos = r.body["pos"].as_u64().unwrap();

    // Live: the phone gets the change as an entry.
    let live = loop {
        let frame = phone.expect("entry").await;
        if frame["kind"] == "settings" {
            break frame;
        }
    };
    assert_eq!(
        (
            &live["conv"],
            &live["pinned"],
            &live["muted_until"],
            &live["draft"]
        ),
        (
            &json!(conv),
            &json!(true),
            &json!(4_102_444_800_000_i64),
            &json!("see you")
        )
    );

    // A later change of one field leaves the others as they were.
    let r = h
        .api
        .post_as(
            &alice,
            &format!("/v1/conversations/{conv}/settings"),
            &json!({"draft": null, "marked_unread": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["pinned"],
            &r.body["draft"],
            &r.body["marked_unread"]
        ),
        (&json!(true), &Value::Null, &json!(true))
    );
    let pos = pos.max(r.body["pos"].as_u64().unwrap());

    // By catch-up: a tablet that was offline learns both changes, in order.
    let mut tablet = h.connect("alice").await;
    tablet
        .send(json!({"t": "hello", "since": 0, "min_pos": pos}))
        .await;
    tablet.expect("welcome").await;
    let entries = tablet.until_synced().await;
    let changes = settings_of(&entries, conv);
    assert_eq!(changes.len(), 2, "{entries:?}");
    assert_eq!(changes[0]["draft"], "see you");
    assert_eq!(
        (&changes[1]["pinned"], &changes[1]["marked_unread"]),
        (&json!(true), &json!(true))
    );

    // The conversation list carries them, for Alice only.
    let settings = |token: String| {
        let h = &h;
        async move {
            let r = h
                .api
                .get_as(&token, &format!("/v1/conversations?min_pos={pos}"))
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            let rows = r.body["conversations"].as_array().unwrap().clone();
            let row = rows.into_iter().find(|c| c["conv"] == conv).unwrap();
            row["settings"].clone()
        }
    };
    assert_eq!(
        settings(alice.clone()).await,
        json!({"pinned": true, "muted_until": 4_102_444_800_000_i64, "draft": null,
               "marked_unread": true, "hidden": false, "hidden_up_to": 0})
    );
    let bob = h.api.user_token("bob").await;
    assert_eq!(settings(bob.clone()).await["pinned"], false);

    // A device that was away asks what changed since its cursor: the conversation once, as
    // it now is; nothing after the returned cursor.
    let changed = |since: u64, token: String| {
        let h = &h;
        async move {
            let r = h
                .api
                .get_as(
                    &token,
                    &format!("/v1/conversations:changed?since={since}&min_pos={pos}"),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body
        }
    };
    let all = changed(0, alice.clone()).await;
    assert_eq!(all["conversations"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all["conversations"][0]["conv"], conv);
    assert_eq!(all["conversations"][0]["settings"]["marked_unread"], true);
    let cursor = all["cursor"].as_u64().unwrap();
    assert_eq!(all["conversations"][0]["cursor"], cursor);
    let none = changed(cursor, alice.clone()).await;
    assert_eq!(
        (
            none["conversations"].as_array().unwrap().len(),
            &none["cursor"]
        ),
        (0, &json!(cursor))
    );
    let bobs = changed(0, bob).await;
    assert!(
        bobs["conversations"].as_array().unwrap().is_empty(),
        "{bobs}"
    );

    // Bob's devices never hear of Alice's settings.
    let (_bob, entries) = h.online("bob", 0).await;
    assert!(settings_of(&entries, conv).is_empty(), "{entries:?}");
}

#[tokio::test]
async fn the_app_server_changes_settings_with_the_users_rights() {
    let h = Harness::start().await;
    for user in ["alice", "bob", "carol"] {
        h.api.user_token(user).await;
    }
    let r = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": "bob", "to": {"user": "alice"}, "client_msg_id": "c1",
                    "body": {"type": "text", "text": "hi"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = "/v1/server/conversations/d~alice~bob/settings";
    let r = h
        .api
        .post(
            path,
            &json!({"user": "alice", "hidden": true, "muted_until": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["user_id"], &r.body["hidden"], &r.body["pinned"]),
        (&json!("alice"), &json!(true), &json!(false))
    );
    let (_ws, entries) = h.online("alice", 0).await;
    assert_eq!(settings_of(&entries, "d~alice~bob").len(), 1, "{entries:?}");

    // Only a participant; and bad values are refused with the protocol's codes.
    for (body, status, code) in [
        (json!({"user": "carol", "pinned": true}), 403, "forbidden"),
        (
            json!({"user": "alice", "muted_until": -1}),
            400,
            "invalid_request",
        ),
        (
            json!({"user": "alice", "pinned": "yes"}),
            400,
            "invalid_request",
        ),
        (
            json!({"user": "alice", "draft": "x".repeat(4_001)}),
            400,
            "invalid_request",
        ),
    ] {
        let r = h.api.post(path, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let r = h
        .api
        .post(
            "/v1/server/conversations/g~nope/settings",
            &json!({"user": "alice", "pinned": true}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );
}

/// The conversations `token`'s user sees in their list, read once the read models cover `pos`.
async fn listed(h: &Harness, token: &str, pos: u64) -> Vec<Value> {
    let r = h
        .api
        .get_as(token, &format!("/v1/conversations?min_pos={pos}"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["conversations"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_hidden_conversation_leaves_the_list_until_a_newer_message() {
    let h = Harness::start().await;
    let alice = h.api.user_token("alice").await;
    h.api.user_token("bob").await;
    let conv = "d~alice~bob";
    let send = |id: &'static str| {
        let h = &h;
        async move {
            let r = h
                .api
                .post(
                    "/v1/messages",
                    &json!({"from": "bob", "to": {"user": "alice"}, "client_msg_id": id,
                            "body": {"type": "text", "text": id}}),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["pos"].as_u64().unwrap()
        }
    };
    send("c1").await;
    let path = format!("/v1/conversations/{conv}/settings");
    let r = h.api.post_as(&alice, &path, &json!({"hidden": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (&r.body["hidden"], &r.body["hidden_up_to"]),
        (&json!(true), &json!(1))
    );
    let pos = r.body["pos"].as_u64().unwrap();
    assert!(listed(&h, &alice, pos).await.is_empty());

    // A newer message shows it again, as not hidden; hiding it again hides it up to that one.
    let pos = send("c2").await;
    let rows = listed(&h, &alice, pos).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["settings"]["hidden"], false);
    let r = h.api.post_as(&alice, &path, &json!({"hidden": true})).await;
    assert_eq!(r.body["hidden_up_to"], 2, "{:?}", r.body);
    let pos = r.body["pos"].as_u64().unwrap();
    assert!(listed(&h, &alice, pos).await.is_empty());
    let r = h
        .api
        .post_as(&alice, &path, &json!({"hidden": false}))
        .await;
    let pos = r.body["pos"].as_u64().unwrap();
    assert_eq!(listed(&h, &alice, pos).await.len(), 1);
}

#[tokio::test]
async fn two_devices_changing_different_fields_at_once_both_take_effect() {
    let h = Harness::start().await;
    let alice = h.api.user_token("alice").await;
    h.api.user_token("bob").await;
    let r = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": "bob", "to": {"user": "alice"}, "client_msg_id": "c1",
                    "body": {"type": "text", "text": "hi"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = "/v1/conversations/d~alice~bob/settings";
    // Each change is merged onto the settings as the subject then holds them, so racing
    // writes of different fields never undo each other.
    let changes: Vec<Value> = (0..8)
        .map(|i| match i % 4 {
            0 => json!({"pinned": true}),
            1 => json!({"draft": "typed on the phone"}),
            2 => json!({"marked_unread": true}),
            _ => json!({"muted_until": 123}),
        })
        .collect();
    let answers =
        futures_util::future::join_all(changes.iter().map(|c| h.api.post_as(&alice, path, c)))
            .await;
    let mut pos = 0;
    for r in &answers {
        assert_eq!(r.status, 200, "{:?}", r.body);
        pos = pos.max(r.body["pos"].as_u64().unwrap());
    }
    let rows = listed(&h, &alice, pos).await;
    assert_eq!(
        rows[0]["settings"],
        json!({"pinned": true, "muted_until": 123, "draft": "typed on the phone",
               "marked_unread": true, "hidden": false, "hidden_up_to": 0})
    );
}
