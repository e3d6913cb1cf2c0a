//! Reactions and pins through the real server (issue 13, items 4 and 5): a reaction repeated
//! from two devices at once counts once and is told once, removal, the read-diffusion rule for
//! who hears of reactions, the pin cap and role rules, and the pin list.

use crate::harness::Harness;
use serde_json::{Value, json};
use tidings_testkit::{ServerApi, TestNats, WsClient};

const APP: &str = "annot";
const SECRET: &str = "annot-secret-0123456789";

/// An app with a cap of two pins and a reaction allowlist.
fn app() -> tidings_api::apps::AppConfig {
    let mut app = tidings_api::apps::AppConfig::new(APP, SECRET);
    app.settings.max_pins = 2;
    app.settings.reaction_keys = vec!["👍".into(), "ok".into(), "❤️".into()];
    app
}

/// A server serving `app()` (groups above `large_group` members use read diffusion), and a
/// server-API client signing as it.
async fn start(large_group: usize) -> (Harness, ServerApi) {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.api.apps.push(app());
        c.projector.large_group = large_group;
    })
    .await;
    let api = ServerApi::new(&h.base, APP, SECRET);
    (h, api)
}

/// Sends a text over the server API; the `sent` answer.
async fn send(api: &ServerApi, from: &str, to: Value, id: &str, text: &str) -> Value {
    let r = api
        .post(
            "/v1/messages",
            &json!({"from": from, "to": to, "client_msg_id": id,
                    "body": {"type": "text", "text": text}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn pos(answer: &Value) -> u64 {
    answer["pos"].as_u64().expect("pos")
}

/// `user`'s inbox entries of `kind`, as of the write at `min_pos`.
async fn entries(api: &ServerApi, token: &str, kind: &str, min_pos: u64) -> Vec<Value> {
    let r = api
        .get_as(
            token,
            &format!("/v1/inbox?after=0&limit=500&min_pos={min_pos}"),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// The history row of `conv_seq` as `token`'s user sees it, as of `min_pos`.
async fn row(api: &ServerApi, token: &str, conv: &str, conv_seq: u64, min_pos: u64) -> Value {
    let r = api
        .get_as(
            token,
            &format!("/v1/conversations/{conv}/messages?min_pos={min_pos}"),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["conv_seq"] == conv_seq)
        .cloned()
        .unwrap_or_else(|| panic!("no row {conv_seq} in {:?}", r.body))
}

async fn device(h: &Harness, token: &str) -> WsClient {
    let mut ws = WsClient::connect(&h.base, token, false).await.unwrap();
    ws.hello(0).await;
    ws.until_synced().await;
    ws
}

#[tokio::test]
async fn a_reaction_from_two_devices_at_once_counts_once_and_is_removed() {
    let (h, api) = start(200).await;
    let alice = api.user_token("alice").await;
    let bob = api.user_token("bob").await;
    let sent = send(&api, "alice", json!({"user": "bob"}), "r1", "react to me").await;
    let (conv, msg_id) = (sent["conv"].as_str().unwrap(), &sent["msg_id"]);
    let conv_seq = sent["conv_seq"].as_u64().unwrap();

    let (mut phone, mut laptop) = (device(&h, &bob).await, device(&h, &bob).await);
    for (ws, id) in [(&mut phone, "p"), (&mut laptop, "l")] {
        ws.send(json!({"t": "react", "id": id, "conv": conv, "msg_id": msg_id, "key": "👍"}))
            .await;
    }
    let (p, l) = (
        phone.expect_answer("p").await,
        laptop.expect_answer("l").await,
    );
    for answer in [&p, &l] {
        assert_eq!(answer["t"], "reacted", "{answer}");
        assert_eq!(
            (answer["added"].clone(), answer["conv_seq"].as_u64()),
            (json!(true), Some(conv_seq))
        );
    }
    let both = pos(&p).max(pos(&l));

    let bobs = row(&api, &bob, conv, conv_seq, both).await;
    assert_eq!(bobs["reactions"], json!({"👍": 1}), "{bobs}");
    assert_eq!(bobs["reacted"], json!(["👍"]));
    let alices = row(&api, &alice, conv, conv_seq, both).await;
    assert_eq!(alices["reactions"], json!({"👍": 1}), "{alices}");
    assert_eq!(alices["reacted"], json!([]));
    for token in [&alice, &bob] {
        let told = entries(&api, token, "reaction", both).await;
        assert_eq!(told.len(), 1, "two requests, one reaction: {told:?}");
        assert_eq!(
            (
                &told[0]["user"],
                &told[0]["key"],
                &told[0]["added"],
                &told[0]["msg_id"]
            ),
            (&json!("bob"), &json!("👍"), &json!(true), msg_id)
        );
    }

    // Removed over REST, the key percent-encoded in the path; a second removal is a no-op.
    let path = format!(
        "/v1/conversations/{conv}/messages/{}/reactions/%F0%9F%91%8D",
        msg_id.as_str().unwrap()
    );
    let removed = api.delete_as(&bob, &path).await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    assert_eq!(removed.body["added"], false);
    let again = api.delete_as(&bob, &path).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    let after = pos(&again.body);
    let bobs = row(&api, &bob, conv, conv_seq, after).await;
    assert!(bobs.get("reactions").is_none(), "{bobs}");
    let told = entries(&api, &alice, "reaction", after).await;
    let added: Vec<&Value> = told.iter().map(|e| &e["added"]).collect();
    assert_eq!(added, [&json!(true), &json!(false)], "{told:?}");
}

#[tokio::test]
async fn reactions_are_checked_against_the_message_the_key_and_the_participants() {
    let (_h, api) = start(200).await;
    let bob = api.user_token("bob").await;
    let eve = api.user_token("eve").await;
    api.register("alice").await;
    let sent = send(&api, "alice", json!({"user": "bob"}), "c1", "hi").await;
    let conv = sent["conv"].as_str().unwrap();
    let msg_id = sent["msg_id"].as_str().unwrap();
    let react = |key: &str| json!({ "key": key });
    let path = format!("/v1/conversations/{conv}/messages/{msg_id}/reactions");
    let cases = [
        (
            &bob,
            path.clone(),
            react(&"x".repeat(33)),
            "invalid_request",
        ),
        (&bob, path.clone(), react("🙃"), "invalid_request"),
        (&eve, path.clone(), react("ok"), "not_found"),
        (
            &bob,
            format!(
                "/v1/conversations/{conv}/messages/019b7b1c-3a00-7000-8000-000000000099/reactions"
            ),
            react("ok"),
            "not_found",
        ),
        (
            &bob,
            format!(
                "/v1/conversations/{conv}/messages/019b7b1c-3a00-7000-8000-000000000099/reactions"
            ),
            react(""),
            "invalid_request",
        ),
        (
            &bob,
            format!("/v1/conversations/{conv}/messages/nope/reactions"),
            react("ok"),
            "invalid_id",
        ),
    ];
    for (token, path, body, code) in cases {
        let r = api.post_as(token, &path, &body).await;
        assert_eq!(r.body["code"], code, "{path} {body}: {:?}", r.body);
    }
}

/// Creates group `group` owned by `owner` with `members`, over the server API.
async fn group(api: &ServerApi, owner: &str, group: &str, members: &[&str]) {
    let r = api
        .post(
            &format!("/v1/server/groups/{group}/ops"),
            &json!({"actor": owner, "op": "create", "name": group, "members": members}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn in_a_read_diffusion_group_only_the_sender_and_the_reactor_hear_of_a_reaction() {
    let (_h, api) = start(2).await;
    let mut tokens = Vec::new();
    for user in ["olga", "amy", "ben", "cid", "zed"] {
        tokens.push(api.user_token(user).await);
    }
    group(&api, "olga", "big", &["amy", "ben", "cid"]).await;
    let sent = send(&api, "olga", json!({"group": "big"}), "g1", "hello all").await;
    let msg_id = sent["msg_id"].as_str().unwrap();
    let conv_seq = sent["conv_seq"].as_u64().unwrap();
    let react = |user: &str| json!({"user": user, "msg_id": msg_id, "key": "ok"});
    let path = "/v1/server/conversations/g~big/reactions";
    let outsider = api.post(path, &react("zed")).await;
    assert_eq!(outsider.body["code"], "not_member", "{:?}", outsider.body);
    let r = api.post(path, &react("amy")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let at = pos(&r.body);
    let told: Vec<usize> = futures_util::future::join_all(
        tokens[..4].iter().map(|t| entries(&api, t, "reaction", at)),
    )
    .await
    .iter()
    .map(Vec::len)
    .collect();
    assert_eq!(told, [1, 1, 0, 0], "olga (sender), amy (reactor), ben, cid");
    let bens = row(&api, &tokens[2], "g~big", conv_seq, at).await;
    assert_eq!(
        bens["reactions"],
        json!({"ok": 1}),
        "others see counts: {bens}"
    );
}

#[tokio::test]
async fn pins_follow_the_roles_and_the_cap_and_are_listed() {
    let (_h, api) = start(200).await;
    let olga = api.user_token("olga").await;
    let adam = api.user_token("adam").await;
    let mia = api.user_token("mia").await;
    group(&api, "olga", "team", &["adam", "mia"]).await;
    let r = api
        .post(
            "/v1/server/groups/team/ops",
            &json!({"actor": "olga", "op": "set_admin", "user": "adam", "admin": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut ids = Vec::new();
    for i in 1..=3 {
        let sent = send(
            &api,
            "mia",
            json!({"group": "team"}),
            &format!("p{i}"),
            &format!("m{i}"),
        )
        .await;
        ids.push(sent["msg_id"].as_str().unwrap().to_owned());
    }
    let pin = |token: &String, i: usize| {
        let path = format!("/v1/conversations/g~team/pins/{}", ids[i]);
        let token = token.clone();
        let api = &api;
        async move { api.post_as(&token, &path, &json!({})).await }
    };
    let r = pin(&mia, 0).await;
    assert_eq!(
        r.body["code"], "forbidden",
        "members cannot pin: {:?}",
        r.body
    );
    let r = pin(&adam, 0).await;
    assert_eq!(
        (r.status, &r.body["pinned"]),
        (200, &json!(true)),
        "{:?}",
        r.body
    );
    let r = pin(&olga, 1).await;
    assert_eq!(r.body["pinned"], true, "{:?}", r.body);
    let r = pin(&olga, 2).await;
    assert_eq!(r.body["code"], "conflict", "a cap of 2: {:?}", r.body);
    let r = pin(&olga, 0).await;
    assert_eq!(
        (r.status, &r.body["pinned"]),
        (200, &json!(true)),
        "a repeat is a no-op"
    );
    let r = api
        .delete_as(&adam, &format!("/v1/conversations/g~team/pins/{}", ids[0]))
        .await;
    assert_eq!(r.body["pinned"], false, "{:?}", r.body);
    let r = pin(&olga, 2).await;
    assert_eq!(r.body["pinned"], true, "room again: {:?}", r.body);
    let at = pos(&r.body);

    let list = api
        .get_as(&mia, &format!("/v1/conversations/g~team/pins?min_pos={at}"))
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let pins = list.body["pins"].as_array().unwrap();
    let listed: Vec<(&Value, &Value)> = pins
        .iter()
        .map(|p| (&p["conv_seq"], &p["message"]["body"]["text"]))
        .collect();
    assert_eq!(
        listed,
        [(&json!(2), &json!("m2")), (&json!(3), &json!("m3"))]
    );
    assert_eq!(pins[1]["by"], "olga");
    let rows: Vec<bool> =
        futures_util::future::join_all((1..=3).map(|s| row(&api, &mia, "g~team", s, at)))
            .await
            .iter()
            .map(|m| m["pinned"] == true)
            .collect();
    assert_eq!(rows, [false, true, true]);
    let told: Vec<(String, u64)> =
        futures_util::future::join_all(["pinned", "unpinned"].map(|k| entries(&api, &mia, k, at)))
            .await
            .concat()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["seq"].as_u64().unwrap(),
                )
            })
            .collect();
    let mut told = told;
    told.sort_by_key(|(_, seq)| *seq);
    let kinds: Vec<&str> = told.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["pinned", "pinned", "unpinned", "pinned"]);

    // Outsiders cannot list; the app server unpins as itself (moderation).
    let eve = api.user_token("eve").await;
    let r = api.get_as(&eve, "/v1/conversations/g~team/pins").await;
    assert_eq!(r.body["code"], "forbidden", "{:?}", r.body);
    let r = api
        .post(
            "/v1/server/conversations/g~team/pins",
            &json!({"msg_id": ids[1], "pin": false}),
        )
        .await;
    assert_eq!(r.body["pinned"], false, "{:?}", r.body);
    let list = api
        .get_as(
            &mia,
            &format!("/v1/conversations/g~team/pins?min_pos={}", pos(&r.body)),
        )
        .await;
    assert_eq!(
        list.body["pins"].as_array().unwrap().len(),
        1,
        "{:?}",
        list.body
    );
}

#[tokio::test]
async fn either_user_of_a_direct_conversation_pins_over_the_websocket() {
    let (h, api) = start(200).await;
    let bob = api.user_token("bob").await;
    api.register("alice").await;
    let sent = send(&api, "alice", json!({"user": "bob"}), "d1", "pin me").await;
    let mut ws = device(&h, &bob).await;
    ws.send(json!({"t": "pin", "id": "1", "conv": sent["conv"], "msg_id": sent["msg_id"]}))
        .await;
    let answer = ws.expect_answer("1").await;
    assert_eq!(
        (answer["t"].as_str(), &answer["pinned"]),
        (Some("pin_set"), &json!(true)),
        "{answer}"
    );
    loop {
        let entry = ws.expect("entry").await;
        if entry["kind"] == "pinned" {
            assert_eq!(
                (&entry["msg_id"], &entry["by"]),
                (&sent["msg_id"], &json!("bob"))
            );
            break;
        }
    }
    ws.send(json!({"t": "unpin", "id": "2", "conv": sent["conv"], "msg_id": sent["msg_id"]}))
        .await;
    let answer = ws.expect_answer("2").await;
    assert_eq!(answer["pinned"], false, "{answer}");
}
