//! Sensitive words (issue 16): per-app lists managed through the server API, matched on text
//! bodies (sends and edits) with case folding and full-width/half-width normalisation; `mask`
//! lists star the word, `reject` lists refuse the message. A change reaches another instance within seconds
//! and lists outlive a restart.

use crate::access::{GatewayProcess, online};
use crate::harness::{Harness, until};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tidings_testkit::ServerApi;

/// A server-API send from alice to bob; its answer.
async fn send(api: &ServerApi, id: &str, text: &str) -> tidings_testkit::Reply {
    api.post(
        "/v1/messages",
        &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": id,
                "body": {"type": "text", "text": text}}),
    )
    .await
}

fn ok(reply: &tidings_testkit::Reply) -> &Value {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    &reply.body
}

/// Waits until this instance rejects `text` (the word lists apply within milliseconds).
async fn until_rejected(api: &ServerApi, text: &str) {
    let attempt = AtomicU64::new(0);
    until("the word lists to apply", || async {
        let n = attempt.fetch_add(1, Ordering::Relaxed);
        let reply = send(api, &format!("probe{n}"), text).await;
        (reply.body["code"] == "rejected").then_some(())
    })
    .await;
}

#[tokio::test]
async fn masked_and_rejected_words_fold_case_and_width_and_survive_a_restart() {
    let h = Harness::start().await;
    for user in ["alice", "bob"] {
        h.api.register(user).await;
    }
    let masked = h
        .api
        .post(
            "/v1/words/profanity",
            &json!({"action": "mask", "add": ["darn", "ＢＡＤ", "ｶﾞｷ"]}),
        )
        .await;
    assert_eq!(ok(&masked)["count"], 3);
    let banned = h
        .api
        .post("/v1/words/banned", &json!({"add": ["Forbidden"]}))
        .await;
    assert_eq!(ok(&banned)["action"], "reject", "reject is the default");
    until_rejected(&h.api, "forbidden").await;

    let listed = h.api.get("/v1/words").await;
    let lists: Vec<&Value> = ok(&listed)["lists"].as_array().unwrap().iter().collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(lists[0]["list"], "banned");
    let profanity = h.api.get("/v1/words/profanity").await;
    assert_eq!(ok(&profanity)["words"], json!(["bad", "darn", "ガキ"]));

    // Live: the masked text is what bob receives; the rejected one is refused over WebSocket.
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut alice, _) = h.online("alice", 0).await;
    let sent = alice
        .send_text("1", "bob", "w1", "oh DaRn, ｂａｄ day, ガキ!")
        .await;
    assert_eq!(sent["t"], "sent", "{sent}");
    let entry = bob.expect("entry").await;
    assert_eq!(entry["body"]["text"], "oh ****, *** day, **!", "{entry}");
    let refused = alice
        .send_text("2", "bob", "w2", "this is ＦＯＲＢＩＤＤＥＮ")
        .await;
    assert_eq!(refused["code"], "rejected", "{refused}");
    assert_eq!(refused["reason"], "sensitive_word", "{refused}");

    // An edit's new body is screened the same way.
    let edit = format!(
        "/v1/server/conversations/{}/messages/{}/edit",
        sent["conv"].as_str().unwrap(),
        sent["msg_id"].as_str().unwrap()
    );
    let refused = h
        .api
        .post(
            &edit,
            &json!({"actor": "alice", "body": {"type": "text", "text": "now forbidden"}}),
        )
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["reason"], "sensitive_word");
    let edited = h
        .api
        .post(
            &edit,
            &json!({"actor": "alice", "body": {"type": "text", "text": "still BAD"}}),
        )
        .await;
    ok(&edited);
    let entry = bob.expect("entry").await;
    assert_eq!(entry["kind"], "edited", "{entry}");
    assert_eq!(entry["body"]["text"], "still ***", "{entry}");

    // Removing a word; bad input gets the protocol's codes.
    let removed = h
        .api
        .post("/v1/words/profanity", &json!({"remove": ["DARN"]}))
        .await;
    assert_eq!(ok(&removed)["count"], 2);
    for (path, body, code) in [
        ("/v1/words/bad.name", json!({"add": ["x"]}), "invalid_id"),
        ("/v1/words/l", json!({"add": [" "]}), "invalid_request"),
        (
            "/v1/words/l",
            json!({"action": "explode"}),
            "invalid_request",
        ),
        (
            "/v1/words/l",
            json!({"add": ["x".repeat(33)]}),
            "invalid_request",
        ),
        ("/v1/words/l", json!({"colour": "red"}), "invalid_request"),
    ] {
        let refused = h.api.post(path, &body).await;
        assert_eq!(refused.status, 400, "{path} {body}: {:?}", refused.body);
        assert_eq!(refused.body["code"], code, "{path} {body}");
    }
    let missing = h.api.get("/v1/words/nothing").await;
    assert_eq!(missing.status, 404, "{:?}", missing.body);

    // After a restart the lists are there and match from the first message on.
    let key = h.api.app_key.clone();
    let secret = h.api.app_secret.clone();
    let (nats, dir) = h.stop().await;
    let h = Harness::start_on(nats, dir, |_| {}).await;
    let api = ServerApi::new(&h.base, &key, &secret);
    let refused = send(&api, "after", "FORBIDDEN fruit").await;
    assert_eq!(refused.body["code"], "rejected", "{:?}", refused.body);
    assert_eq!(ok(&api.get("/v1/words/profanity").await)["count"], 2);
}

#[tokio::test]
async fn a_word_list_change_reaches_another_instance_within_seconds() {
    let h = Harness::start().await;
    let other = GatewayProcess::start(&h);
    h.api.register("bob").await;
    let token = h.api.user_token("alice").await;
    let alice = online(&other.base, &token).await;

    let added = h
        .api
        .post("/v1/words/late", &json!({"add": ["embargo"]}))
        .await;
    ok(&added);
    let changed_at = Instant::now();
    let alice = tokio::sync::Mutex::new(alice);
    let attempt = AtomicU64::new(0);
    let refused = until("the other instance to apply the list", || async {
        let n = attempt.fetch_add(1, Ordering::Relaxed);
        let mut ws = alice.lock().await;
        let answer = ws
            .send_text(&n.to_string(), "bob", &format!("e{n}"), "the EMBARGO holds")
            .await;
        (answer["t"] == "error").then_some(answer)
    })
    .await;
    let took = changed_at.elapsed();
    assert_eq!(refused["code"], "rejected", "{refused}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    println!("a word-list change applied on another process after {took:?}");
}
