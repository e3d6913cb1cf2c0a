//! The before-send hook (issue 16): an app's hook, over NATS or signed HTTP, allows, rejects
//! (the sender gets `rejected` with the hook's code) or rewrites a message before it is
//! recorded; a hook that does not answer in time fails open or closed as the app says.

use crate::access::online;
use crate::apps::{admin_of, create, credential};
use crate::harness::{Harness, until};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tidings_testkit::{ServerApi, WsClient};

/// Answers the app's NATS hook with `decide(request)`, or never when it gives `None`.
async fn nats_hook(h: &Harness, app: &str, decide: fn(&Value) -> Option<Value>) {
    let client = h.nats.client().await;
    let mut requests = client
        .subscribe(format!("tid.hook.{app}.before_send"))
        .await
        .unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(request) = requests.next().await {
            let asked: Value = serde_json::from_slice(&request.payload).unwrap();
            if let (Some(answer), Some(reply)) = (decide(&asked), request.reply) {
                let payload = answer.to_string().into();
                client.publish(reply, payload).await.unwrap();
            }
        }
    });
}

/// Alice and Bob of a new app with `settings`, online; and the app's server API.
async fn pair(h: &Harness, app: &str, settings: Value) -> (ServerApi, WsClient, WsClient) {
    let admin = admin_of(&h.base, &credential(h));
    let secret = create(&admin, json!({"key": app, "settings": settings})).await;
    let api = ServerApi::new(&h.base, app, &secret);
    let alice = online(&h.base, &api.user_token("alice").await).await;
    let bob = online(&h.base, &api.user_token("bob").await).await;
    (api, alice, bob)
}

/// The text of the next message entry `ws` receives.
async fn next_text(ws: &mut WsClient) -> String {
    let entry = ws.expect("entry").await;
    entry["body"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a text message entry: {entry}"))
        .to_owned()
}

fn moderate(asked: &Value) -> Option<Value> {
    let text = asked["body"]["text"].as_str().unwrap_or_default();
    Some(if text.contains("spam") {
        json!({"action": "reject", "code": "spam", "message": "no spam here"})
    } else if let Some(rest) = text.strip_prefix("shout:") {
        json!({"action": "rewrite", "body": {"type": "text", "text": rest.trim().to_uppercase()}})
    } else {
        json!({"action": "allow"})
    })
}

#[tokio::test]
async fn a_nats_hook_rejects_rewrites_and_allows() {
    let h = Harness::start().await;
    nats_hook(&h, "hooked", moderate).await;
    let hook = json!({"before_send": {"nats": true}});
    let (api, mut alice, mut bob) = pair(&h, "hooked", hook).await;

    let refused = alice.send_text("1", "bob", "m1", "cheap spam").await;
    assert_eq!(refused["t"], "error", "{refused}");
    assert_eq!(refused["code"], "rejected", "{refused}");
    assert_eq!(refused["reason"], "spam", "{refused}");
    assert_eq!(refused["message"], "no spam here", "{refused}");

    let sent = alice.send_text("2", "bob", "m2", "shout: hello").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert_eq!(
        sent["conv_seq"], 1,
        "the rejected message took no place: {sent}"
    );
    assert_eq!(next_text(&mut bob).await, "HELLO");
    let sent = alice.send_text("3", "bob", "m3", "plain").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert_eq!(next_text(&mut bob).await, "plain");

    // The server API's sends go through the hook too; the refusal is JSON with its status.
    let refused = api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "s1",
                    "body": {"type": "text", "text": "more spam"}}),
        )
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "rejected");
    assert_eq!(refused.body["reason"], "spam");

    // A custom body outside the hook's `body_types` filter is not asked about.
    let filtered = json!({"before_send": {"nats": true, "body_types": ["custom"]}});
    let (_, mut carol, _) = pair(&h, "filtered", filtered).await;
    let sent = carol.send_text("4", "bob", "f1", "spam is fine here").await;
    assert_eq!(sent["t"], "sent", "{sent}");
}

#[tokio::test]
async fn a_hook_that_times_out_fails_open_or_closed() {
    let h = Harness::start().await;
    for app in ["slowopen", "slowclosed"] {
        nats_hook(&h, app, |_| None).await;
    }
    let hook = |failure: &str| json!({"before_send": {"nats": true, "timeout_ms": 300, "failure": failure}});
    let (_, mut open, mut bob) = pair(&h, "slowopen", hook("open")).await;
    let (_, mut closed, _) = pair(&h, "slowclosed", hook("closed")).await;

    let started = Instant::now();
    let sent = open.send_text("1", "bob", "o1", "let me through").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(next_text(&mut bob).await, "let me through");

    let started = Instant::now();
    let refused = closed.send_text("2", "bob", "c1", "hold me").await;
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A hook nobody answers (no responders) fails the same way, at once.
    let (_, mut absent, _) = pair(&h, "nobody", hook("closed")).await;
    let refused = absent.send_text("3", "bob", "n1", "anyone?").await;
    assert_eq!(refused["code"], "unavailable", "{refused}");
}

/// The app secret of the HTTP hook's app, which the hook checks signatures with.
const HOOK_SECRET: &str = "http-hook-secret-0123456789";

async fn http_hook(
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    let timestamp: i64 = header("X-Timestamp").parse().unwrap();
    let expected = tidings_testkit::server_api::signature(
        HOOK_SECRET,
        "POST",
        "/hook?v=1",
        timestamp,
        &header("X-Nonce"),
        &body,
    );
    let fresh = (tidings_testkit::server_api::now_secs() - timestamp).abs() <= 300;
    if header("X-Signature") != expected || header("X-App-Key") != "webhooked" || !fresh {
        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({})));
    }
    let asked: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(asked["conv_kind"], "direct");
    let text = asked["body"]["text"].as_str().unwrap();
    let answer =
        json!({"action": "rewrite", "body": {"type": "text", "text": format!("[checked] {text}")}});
    (axum::http::StatusCode::OK, axum::Json(answer))
}

#[tokio::test]
async fn a_signed_http_hook_rewrites() {
    let h = Harness::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook?v=1", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/hook", axum::routing::post(http_hook));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let admin = admin_of(&h.base, &credential(&h));
    let settings = json!({"before_send": {"url": url}});
    create(
        &admin,
        json!({"key": "webhooked", "secret": HOOK_SECRET, "settings": settings}),
    )
    .await;
    let api = ServerApi::new(&h.base, "webhooked", HOOK_SECRET);
    let mut alice = online(&h.base, &api.user_token("alice").await).await;
    let mut bob = online(&h.base, &api.user_token("bob").await).await;
    let sent = alice.send_text("1", "bob", "w1", "hi").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert_eq!(next_text(&mut bob).await, "[checked] hi");

    // Bad hook settings are refused by the admin API.
    let bad = admin
        .post(
            "/v1/admin/apps/webhooked/settings",
            &json!({"before_send": {"url": "ftp://example"}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert_eq!(bad.body["code"], "invalid_request");
}

#[tokio::test]
async fn hook_outcomes_and_latency_are_measured() {
    let h = Harness::start().await;
    nats_hook(&h, "metered", moderate).await;
    let (_, mut alice, _) = pair(&h, "metered", json!({"before_send": {"nats": true}})).await;
    let refused = alice.send_text("1", "bob", "x1", "spam").await;
    assert_eq!(refused["code"], "rejected", "{refused}");
    let metrics = until("the hook metrics", || async {
        let text = tidings_runtime::outbound::client()
            .build()
            .unwrap()
            .get(format!("{}/metrics", h.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("tidings_hook_calls_total{").then_some(text)
    })
    .await;
    assert!(
        metrics.contains(r#"outcome="reject""#) && metrics.contains("tidings_hook_seconds_bucket"),
        "{metrics}"
    );
}
