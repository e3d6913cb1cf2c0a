//! Per-app presence and typing settings (issue 14): `presence_max_watched` caps what one
//! subscription or query may name (default 1,000), `presence_friends` makes a subscription
//! naming nobody watch the caller's friends, and typing is off in groups above the
//! read-diffusion threshold unless `typing_in_large_groups` is on.

use crate::apps::{admin_of, create, credential};
use crate::harness::{Harness, eventually};
use serde_json::{Value, json};
use tidings_testkit::{ServerApi, TestNats, WsClient};

/// Groups above this size use read diffusion here, so a group of three is large.
const LARGE_GROUP: usize = 2;

async fn online(base: &str, token: &str) -> WsClient {
    let mut ws = WsClient::connect(base, token, false)
        .await
        .expect("upgrade accepted");
    ws.hello(0).await;
    ws.until_synced().await;
    ws
}

/// The next frame that is not an entry.
async fn next_non_entry(ws: &mut WsClient) -> Value {
    loop {
        let frame = ws.next().await.expect("open connection");
        if frame["t"] != "entry" {
            return frame;
        }
    }
}

/// Creates the three-member group `big` as alice and waits until the gateway's read model
/// holds it (typing membership is read there).
async fn big_group(api: &ServerApi, alice: &mut WsClient, token: &str) {
    alice
        .send(
            json!({"t": "group", "id": "g", "group": "big", "op": "create",
                     "name": "Big", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(alice.expect_answer("g").await["t"], "group");
    eventually("the big group projected", || async {
        let group = api.get_as(token, "/v1/groups/big").await;
        group.status == 200 && group.body["group"]["member_count"] == 3
    })
    .await;
}

#[tokio::test]
async fn presence_and_typing_follow_the_app_s_settings() {
    let harness = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.projector.large_group = LARGE_GROUP;
    })
    .await;

    // The default app: typing in a large group is off.
    for user in ["bob", "carol"] {
        harness.api.register(user).await;
    }
    let token = harness.api.user_token("alice").await;
    let mut alice = online(&harness.base, &token).await;
    big_group(&harness.api, &mut alice, &token).await;
    alice
        .send(json!({"t": "typing", "conv": "g~big", "state": "typing"}))
        .await;
    let refused = next_non_entry(&mut alice).await;
    assert_eq!(refused["code"], "invalid_request", "{refused}");

    // An app that caps watching at 2 users, watches friends by default and types anywhere.
    let admin = admin_of(&harness.base, &credential(&harness));
    let settings = json!({"presence_max_watched": 2, "presence_friends": true,
                          "typing_in_large_groups": true});
    let secret = create(&admin, json!({"key": "chatty", "settings": settings})).await;
    let api = ServerApi::new(&harness.base, "chatty", &secret);
    let mut tokens = Vec::new();
    for user in ["alice", "bob", "carol"] {
        tokens.push(api.user_token(user).await);
    }
    let mut alice = online(&harness.base, &tokens[0]).await;
    let mut bob = online(&harness.base, &tokens[1]).await;

    // The cap: three users are refused, on the socket and by the query.
    alice
        .send(json!({"t": "presence_subscribe", "id": "p1", "users": ["bob", "carol", "dave"]}))
        .await;
    let answer = alice.expect_answer("p1").await;
    assert_eq!(answer["code"], "invalid_request", "{answer}");
    assert_eq!(answer["message"], "users must list 1-2 users", "{answer}");
    let query = api
        .post_as(
            &tokens[0],
            "/v1/presence/query",
            &json!({"users": ["bob", "carol", "dave"]}),
        )
        .await;
    assert_eq!(query.status, 400, "{:?}", query.body);
    assert_eq!(query.body["code"], "invalid_request");

    // Friends by default: a subscription naming nobody watches alice's friend bob (online).
    let friended = api
        .post(
            "/v1/relations/friend",
            &json!({"user": "alice", "other": "bob"}),
        )
        .await;
    assert_eq!(friended.status, 200, "{:?}", friended.body);
    eventually("the friendship projected", || async {
        let friends = api.get_as(&tokens[0], "/v1/friends").await;
        friends.body.to_string().contains("\"bob\"")
    })
    .await;
    alice
        .send(json!({"t": "presence_subscribe", "id": "p2"}))
        .await;
    let frame = next_non_entry(&mut alice).await;
    assert_eq!(
        (&frame["t"], &frame["user"], &frame["online"]),
        (&json!("presence"), &json!("bob"), &json!(true)),
        "{frame}"
    );

    // Typing in a large group is on in this app: bob hears alice.
    big_group(&api, &mut alice, &tokens[0]).await;
    alice
        .send(json!({"t": "typing", "conv": "g~big", "state": "typing"}))
        .await;
    let heard = next_non_entry(&mut bob).await;
    assert_eq!(heard["t"], "typing", "{heard}");
    assert_eq!(heard["conv"], "g~big", "{heard}");
    harness.stop().await;
}
