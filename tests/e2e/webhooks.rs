//! Feed webhooks: an app with a `feed_webhook` setting gets its feed records POSTed, signed
//! like the server API (checked here with the testkit's signer); a receiver that keeps failing
//! gets the webhook's `max_attempts`, with backoff, then the record is a dead letter the admin
//! API lists; the outcomes are counted in `/metrics`.

use crate::apps::{admin_of, create, credential};
use crate::feed::check_schema;
use crate::harness::{Harness, until};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tidings_testkit::ServerApi;
use tidings_testkit::server_api::signature;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    fn all(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

async fn accept(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push(Delivery {
        headers,
        body,
        at: Instant::now(),
    });
    StatusCode::NO_CONTENT
}

async fn refuse(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    accept(State(r), headers, body).await;
    StatusCode::INTERNAL_SERVER_ERROR
}

/// A local receiver: `/hook` accepts, `/down` answers 500. Returns its base URL.
async fn receiver() -> (String, Receiver, Receiver) {
    let (ok, down) = (Receiver::default(), Receiver::default());
    let router = Router::new()
        .route("/hook", post(accept).with_state(ok.clone()))
        .route("/down", post(refuse).with_state(down.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, ok, down)
}

fn header<'a>(d: &'a Delivery, name: &str) -> &'a str {
    d.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

const HOOK_SECRET: &str = "hook-secret-0123456789";

#[tokio::test]
async fn webhooks_get_signed_records_and_failures_become_dead_letters() {
    let h = Harness::start().await;
    let admin = admin_of(&h.base, &credential(&h));
    let (base, ok, down) = receiver().await;
    let hooked = create(
        &admin,
        json!({"key": "hooked", "settings": {"feed_webhook": {
            "url": format!("{base}/hook?v=1"), "secret": HOOK_SECRET}}}),
    )
    .await;
    let failing = create(
        &admin,
        json!({"key": "failing", "settings": {"feed_webhook": {
            "url": format!("{base}/down"), "secret": HOOK_SECRET,
            "max_attempts": 3, "backoff_ms": 200}}}),
    )
    .await;
    // Views never show the webhook's secret.
    let shown = admin.get("/v1/admin/apps/hooked").await;
    assert_eq!(
        shown.body["app"]["settings"]["feed_webhook"]["secret"],
        "(set)"
    );

    let hooked_api = ServerApi::new(&h.base, "hooked", &hooked);
    assert_eq!(hooked_api.register("alice").await.status, 200);
    assert_eq!(hooked_api.register("bob").await.status, 200);
    let sent = hooked_api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "w1",
                    "body": {"type": "text", "text": "to the webhook"}}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);

    let deliveries = until("three signed deliveries", || async {
        let all = ok.all();
        (all.len() >= 3).then_some(all)
    })
    .await;
    let mut types = Vec::new();
    for d in &deliveries {
        let timestamp: i64 = header(d, "x-timestamp").parse().unwrap();
        let expected = signature(
            HOOK_SECRET,
            "POST",
            "/hook?v=1",
            timestamp,
            header(d, "x-nonce"),
            &d.body,
        );
        assert_eq!(
            header(d, "x-signature"),
            expected,
            "signed with the webhook's secret"
        );
        assert_eq!(header(d, "x-app-key"), "hooked");
        assert_eq!(header(d, "content-type"), "application/json");
        let record: Value = serde_json::from_slice(&d.body).unwrap();
        check_schema(&record);
        assert_eq!(record["app"], "hooked");
        assert_eq!(
            header(d, "x-tidings-event-seq"),
            record["event_seq"].to_string()
        );
        types.push(record["type"].as_str().unwrap().to_owned());
    }
    assert!(types.contains(&"message_sent".to_owned()), "{types:?}");

    // The failing receiver: three attempts at the one record, spaced by the backoff, then a
    // dead letter.
    let failing_api = ServerApi::new(&h.base, "failing", &failing);
    assert_eq!(failing_api.register("zed").await.status, 200);
    let listed = until("the record is dead-lettered", || async {
        let r = admin.get("/v1/admin/apps/failing/feed/dead-letters").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let letters = r.body["dead_letters"].as_array().unwrap().clone();
        (!letters.is_empty()).then_some(r.body)
    })
    .await;
    let letter = &listed["dead_letters"][0];
    assert_eq!(letter["attempts"], 3, "{letter}");
    assert!(
        letter["reason"].as_str().unwrap().contains("500"),
        "{letter}"
    );
    assert_eq!(letter["record"]["type"], "user_registered");
    assert_eq!(letter["record"]["data"]["user"], "zed");
    let attempts = down.all();
    assert_eq!(attempts.len(), 3, "max_attempts, no more");
    let nonces: Vec<&str> = attempts.iter().map(|d| header(d, "x-nonce")).collect();
    assert_eq!(
        nonces
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "a nonce per attempt: {nonces:?}"
    );
    let waits: Vec<u128> = attempts
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect();
    assert!(
        waits[0] >= 200 && waits[1] >= 400,
        "backoff of 200 ms, doubled: {waits:?}"
    );
    // Paging: nothing after the last one; a bad page is refused with the error shape.
    let last = listed["last_seq"].as_u64().unwrap();
    let after = admin
        .get(&format!(
            "/v1/admin/apps/failing/feed/dead-letters?after={last}"
        ))
        .await;
    assert_eq!(after.body["dead_letters"], json!([]));
    let bad = admin
        .get("/v1/admin/apps/failing/feed/dead-letters?limit=0")
        .await;
    assert_eq!(
        (bad.status, &bad.body["code"]),
        (400, &json!("invalid_request"))
    );
    let unknown = admin.get("/v1/admin/apps/nosuch/feed/dead-letters").await;
    assert_eq!(
        (unknown.status, &unknown.body["code"]),
        (404, &json!("not_found"))
    );

    // A webhook that cannot work is refused when set.
    let refused = admin
        .post(
            "/v1/admin/apps/hooked/settings",
            &json!({"feed_webhook": {"url": "ftp://x", "secret": HOOK_SECRET}}),
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["code"]),
        (400, &json!("invalid_request"))
    );

    let metrics = tidings_runtime::outbound::client()
        .build()
        .unwrap()
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for outcome in ["delivered", "retried", "dead"] {
        assert!(
            metrics.contains(&format!(
                "tidings_feed_webhook_deliveries_total{{outcome=\"{outcome}\"}}"
            )),
            "{outcome} counted"
        );
    }
}
