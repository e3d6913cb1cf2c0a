//! Profiles: one, a batch, what changed since a cursor; deactivation and token revocation.

use crate::harness::{Harness, eventually};
use serde_json::json;
use tidings_testkit::{TestNats, WsClient};

#[tokio::test]
async fn profiles_are_served_singly_in_batches_and_by_change() {
    // A cache that never expires by itself: only change notices can refresh it.
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.gateway.user_cache_ttl_secs = 3600;
    })
    .await;
    let token = h.api.user_token("alice").await;
    for i in 0..5 {
        let r = h
            .api
            .post("/v1/users", &json!({"user_id": format!("u{i}"), "name": format!("User {i}"),
                                       "avatar_url": "https://example.com/a.png", "extra": {"i": i}}))
            .await;
        assert_eq!(r.body["version"], 1);
    }
    eventually("profiles projected", || async {
        h.api.get_as(&token, "/v1/users/u4").await.status == 200
    })
    .await;
    let one = h.api.get_as(&token, "/v1/users/u1").await;
    assert_eq!(one.body["user_id"], "u1");
    assert_eq!(one.body["name"], "User 1");
    assert_eq!(one.body["extra"], json!({"i": 1}));
    assert_eq!(one.body["version"], 1);
    let missing = h.api.get_as(&token, "/v1/users/ghost").await;
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (404, Some("not_found"))
    );

    let batch = h
        .api
        .post_as(
            &token,
            "/v1/users:batchGet",
            &json!({"user_ids": ["u0", "ghost", "u3"]}),
        )
        .await;
    let names: Vec<&str> = batch.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["User 0", "User 3"]);
    assert_eq!(batch.body["not_found"], json!(["ghost"]));
    let too_many: Vec<String> = (0..101).map(|i| format!("x{i}")).collect();
    let r = h
        .api
        .post_as(&token, "/v1/users:batchGet", &json!({"user_ids": too_many}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = h
        .api
        .post_as(
            &token,
            "/v1/users:batchGet",
            &json!({"user_ids": ["bad id"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_id"))
    );

    // Changed since a cursor: everything once, then only what changes.
    let all = h.api.get_as(&token, "/v1/users:changed?since=0").await;
    assert_eq!(all.body["users"].as_array().unwrap().len(), 6);
    let cursor = all.body["cursor"].as_u64().unwrap();
    assert_eq!(
        h.api.get_as(&token, "/v1/users/u2").await.body["name"],
        "User 2"
    );
    let r = h
        .api
        .post("/v1/users", &json!({"user_id": "u2", "name": "User Two"}))
        .await;
    assert_eq!(r.body["version"], 2);
    // The cache is dropped by the projector's change notice: the new name shows up.
    eventually("the cached profile refreshes", || async {
        h.api.get_as(&token, "/v1/users/u2").await.body["name"] == "User Two"
    })
    .await;
    let changed = h
        .api
        .get_as(&token, &format!("/v1/users:changed?since={cursor}"))
        .await;
    let changed_users = changed.body["users"].as_array().unwrap();
    assert_eq!(changed_users.len(), 1);
    assert_eq!(
        (
            changed_users[0]["user_id"].as_str(),
            changed_users[0]["version"].as_u64()
        ),
        (Some("u2"), Some(2))
    );
}

#[tokio::test]
async fn deactivation_and_revocation_take_effect_at_the_edge() {
    let h = Harness::start().await;
    let (mut alice, _) = h.online("alice", 0).await;
    let old = h.api.user_token("bob").await;
    assert_eq!(h.api.get_as(&old, "/v1/inbox").await.status, 200);

    let r = h.api.post("/v1/users/bob/tokens/revoke", &json!({})).await;
    assert_eq!(r.body["token_epoch"], 1, "{:?}", r.body);
    eventually("the old token is refused", || async {
        h.api.get_as(&old, "/v1/inbox").await.status == 401
    })
    .await;
    assert_eq!(
        WsClient::connect(&h.base, &old, false)
            .await
            .err()
            .map(|r| r.0),
        Some(401)
    );
    let fresh = h.api.user_token("bob").await;
    assert_eq!(h.api.get_as(&fresh, "/v1/inbox").await.status, 200);

    let r = h.api.post("/v1/users/bob/deactivate", &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    eventually("a deactivated user's token is refused", || async {
        h.api.get_as(&fresh, "/v1/inbox").await.status == 401
    })
    .await;
    assert_eq!(
        alice.send_text("1", "bob", "m1", "anyone?").await["code"],
        "not_found"
    );
    let r = h.api.post("/v1/users/bob/token", &json!({})).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = h
        .api
        .post("/v1/users", &json!({"user_id": "bob", "name": "Bob again"}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = h.api.post("/v1/users/ghost/deactivate", &json!({})).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let profile = h
        .api
        .get_as(&h.api.user_token("carol").await, "/v1/users/bob")
        .await;
    assert_eq!(profile.body["deactivated"], true);
}
