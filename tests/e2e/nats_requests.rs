//! Integrator requests over NATS cover every server-API operation: one subject per operation
//! (`tid.in.<app>.<operation>`, the list in `tidings_api::operations`), the same bodies (path
//! parameters as body fields), answers and error codes as the signed HTTP routes. The table
//! below runs each operation; the operation list matches the server API's routes.

use crate::edge::routes_in;
use crate::harness::Harness;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tidings_api::operations::OPERATIONS;
use tidings_testkit::WsClient;

async fn request(client: &async_nats::Client, app: &str, operation: &str, body: &Value) -> Value {
    let reply = client
        .request(format!("tid.in.{app}.{operation}"), body.to_string().into())
        .await
        .expect("an answer");
    serde_json::from_slice(&reply.payload).unwrap()
}

/// Whether a route template (`/v1/relations/{action}`) covers an operation's path.
fn covers(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || t.starts_with('{'))
}

#[test]
fn every_server_api_route_is_an_operation() {
    let mut routes = Vec::new();
    for file in [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src/http.rs"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src/http_words.rs"),
    ] {
        routes.extend(routes_in(&std::fs::read_to_string(file).unwrap(), file));
    }
    assert!(!routes.is_empty());
    for (method, route) in &routes {
        assert!(
            OPERATIONS
                .iter()
                .any(|o| o.method == method && covers(route, o.path)),
            "{method} {route} has no operation in tidings_api::operations"
        );
    }
    for op in OPERATIONS {
        assert_eq!(
            routes
                .iter()
                .filter(|(m, r)| m == op.method && covers(r, op.path))
                .count(),
            1,
            "{} calls no route, or several",
            op.name
        );
    }
}

#[tokio::test]
async fn every_server_api_operation_works_over_nats() {
    let h = Harness::start().await;
    let app = h.api.app_key.clone();
    let client = h.nats.client().await;
    let mut used = BTreeSet::new();
    let mut call = async |operation: &'static str, body: Value| {
        used.insert(operation);
        let answer = request(&client, &app, operation, &body).await;
        assert!(answer.get("code").is_none(), "{operation} {body}: {answer}");
        answer
    };
    for user in ["alice", "bob", "carol", "dave"] {
        let r = call("users.upsert", json!({"user_id": user, "name": user})).await;
        assert_eq!(r["user_id"], user);
    }
    let r = call("users.token", json!({"user_id": "alice", "ttl_secs": 60})).await;
    assert!(r["token"].is_string() && r["expires_at"].is_i64(), "{r}");
    let sent = call(
        "messages.send",
        json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "n1",
               "body": {"type": "text", "text": "hi"}}),
    )
    .await;
    assert_eq!(sent["t"], "sent");
    let (conv, msg) = (sent["conv"].clone(), sent["msg_id"].clone());
    let r = call(
        "messages.edit",
        json!({"conv": conv, "msg_id": msg, "actor": "alice",
               "body": {"type": "text", "text": "hi!"}}),
    )
    .await;
    assert_eq!(r["edit_seq"], 1, "{r}");
    call(
        "conversations.react",
        json!({"conv": conv, "user": "bob", "msg_id": msg, "key": "ok"}),
    )
    .await;
    call(
        "conversations.pin",
        json!({"conv": conv, "msg_id": msg, "pin": true}),
    )
    .await;
    let r = call(
        "conversations.settings",
        json!({"conv": conv, "user": "bob", "pinned": true}),
    )
    .await;
    assert_eq!((&r["pinned"], &r["user_id"]), (&json!(true), &json!("bob")));
    let r = call(
        "conversations.hide",
        json!({"conv": conv, "user": "bob", "conv_seq": 1}),
    )
    .await;
    assert_eq!(r["conv_seq"], 1);
    let r = call(
        "conversations.clear",
        json!({"conv": conv, "user": "bob", "up_to": 1}),
    )
    .await;
    assert_eq!(r["up_to"], 1);
    call("messages.recall", json!({"conv": conv, "msg_id": msg})).await;
    for action in ["friend", "unfriend", "block", "unblock"] {
        let operation = match action {
            "friend" => "relations.friend",
            "unfriend" => "relations.unfriend",
            "block" => "relations.block",
            _ => "relations.unblock",
        };
        let r = call(operation, json!({"user": "alice", "other": "carol"})).await;
        assert_eq!(r["user_id"], "alice");
    }
    let r = call(
        "groups.op",
        json!({"group_id": "team", "actor": "alice", "op": "create", "name": "Team",
               "members": ["bob"]}),
    )
    .await;
    assert!(r["group"].is_object(), "{r}");
    let r = call(
        "system.send",
        json!({"to": ["bob"], "body": {"type": "text", "text": "sys"}}),
    )
    .await;
    assert_eq!(r["delivered_to"], 1);
    // A device is known once it said hello: bob's phone does, then is signed out over NATS.
    let token = call("users.token", json!({"user_id": "bob"})).await;
    let mut phone = WsClient::connect(&h.base, token["token"].as_str().unwrap(), false)
        .await
        .expect("upgrade accepted");
    phone
        .send(json!({"t": "hello", "since": 0, "device": "phone"}))
        .await;
    phone.expect("welcome").await;
    let r = call(
        "users.sign_out_device",
        json!({"user_id": "bob", "device": "phone"}),
    )
    .await;
    assert_eq!(r["signed_out"], true);
    let r = call("users.revoke_tokens", json!({"user_id": "bob"})).await;
    assert!(r["token_epoch"].as_u64().unwrap() >= 1, "{r}");
    // Customer-service accounts: carol serves, alice is her agent.
    let r = call(
        "services.open",
        json!({"service": "carol", "strategy": "least_busy"}),
    )
    .await;
    assert_eq!(r["service"]["strategy"], "least_busy", "{r}");
    let r = call(
        "services.attach",
        json!({"service": "carol", "agent": "alice", "capacity": 2}),
    )
    .await;
    assert_eq!(r["service"]["agents"][0]["agent"], "alice", "{r}");
    let r = call(
        "services.availability",
        json!({"service": "carol", "agent": "alice", "available": false}),
    )
    .await;
    assert_eq!(r["service"]["agents"][0]["available"], false, "{r}");
    let r = call(
        "services.detach",
        json!({"service": "carol", "agent": "alice"}),
    )
    .await;
    assert_eq!(r["service"]["agents"], json!([]), "{r}");
    // Tags and broadcasts.
    let r = call("users.set_tags", json!({"user_id": "bob", "add": ["vip"]})).await;
    assert_eq!(r["tags"], json!(["vip"]), "{r}");
    let r = call("users.tags", json!({"user_id": "bob"})).await;
    assert_eq!(r["tags"], json!(["vip"]), "{r}");
    let r = call(
        "broadcasts.send",
        json!({"tag": "vip", "body": {"type": "text", "text": "to the vips"}}),
    )
    .await;
    assert_eq!(r["bseq"], 1, "{r}");
    // Sensitive-word lists.
    let r = call(
        "words.change",
        json!({"list": "rude", "action": "mask", "add": ["darn"]}),
    )
    .await;
    assert_eq!(r["count"], 1, "{r}");
    let r = call("words.get", json!({"list": "rude"})).await;
    assert_eq!(r["words"], json!(["darn"]), "{r}");
    let r = call("words.lists", json!({})).await;
    assert_eq!(r["lists"][0]["list"], "rude", "{r}");
    let r = call("users.deactivate", json!({"user_id": "dave"})).await;
    assert_eq!(r["deactivated"], true);
    let all: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.name).collect();
    assert_eq!(used, all, "every operation ran");

    // Errors: the HTTP codes, over NATS.
    let errors = [
        ("users.token", json!({"user_id": "bad id!"}), "invalid_id"),
        ("users.token", json!({}), "invalid_request"),
        ("users.token", json!({"user_id": 7}), "invalid_request"),
        (
            "messages.send",
            json!({"from": "alice", "to": {"user": "nobody"}, "client_msg_id": "n2",
                   "body": {"type": "text", "text": "?"}}),
            "not_found",
        ),
        ("messages.send", json!({"from": "alice"}), "invalid_request"),
        (
            "messages.recall",
            json!({"conv": conv, "msg_id": "019b7b1c-3a00-7000-8000-000000000009"}),
            "not_found",
        ),
        (
            "groups.op",
            json!({"group_id": "team", "actor": "carol", "op": "dismiss"}),
            "forbidden",
        ),
        (
            "users.deactivate",
            json!({"user_id": "nobody"}),
            "not_found",
        ),
    ];
    for (operation, body, code) in errors {
        let answer = request(&client, &app, operation, &body).await;
        assert_eq!(answer["code"], code, "{operation} {body}: {answer}");
        assert!(answer["message"].is_string());
        // The same request over HTTP gets the same code.
        let op = tidings_api::operations::find(operation).unwrap();
        if let Ok((path, http_body)) = op.request(body.to_string().as_bytes()) {
            let http_body: Value = serde_json::from_slice(&http_body).unwrap();
            let r = h.api.post(&path, &http_body).await;
            assert_eq!(r.body["code"], code, "HTTP {path}: {:?}", r.body);
        }
    }
}
