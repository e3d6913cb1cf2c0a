//! Offline push end to end: devices register push tokens over client REST, the push worker
//! inside `tidings up` turns messages into jobs for devices with no session open (honouring
//! mute, do-not-disturb and mentions, bursts collapsed, badge = unread total) and delivers them
//! to local stand-ins of the app server's webhook, APNs and FCM (`push_providers.rs`), which
//! check each request against the provider's documented format.

use crate::apps::{admin_of, create, credential};
use crate::harness::{
    Harness, consumer_filters, consumer_reads, eventually, last_seq, until, until_reads,
};
use crate::process::{field, launch, signal};
use crate::push_providers::{self as providers, Log};
use async_nats::jetstream;
use serde_json::{Value, json};
use tidings_events::subjects;
use tidings_store::ProjectionStore;
use tidings_testkit::{ServerApi, TestNats, WsClient};

/// Far in the future, unix ms.
const FOREVER: i64 = 4_102_444_800_000;

/// Creates app `key` whose push settings `push(secret)` gives; its server API and secret.
async fn app_with_push(
    base: &str,
    admin: &ServerApi,
    key: &str,
    push: impl AsyncFnOnce(&str) -> Value,
) -> ServerApi {
    let secret = create(admin, json!({ "key": key })).await;
    let settings = push(&secret).await;
    let set = admin
        .post(
            &format!("/v1/admin/apps/{key}/settings"),
            &json!({ "push": settings }),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    ServerApi::new(base, key, &secret)
}

async fn register_push(api: &ServerApi, token: &str, device: &str, body: Value) -> Value {
    let r = api
        .put_as(token, &format!("/v1/devices/{device}/push"), &body)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn send(api: &ServerApi, from: &str, to: Value, id: &str, text: &str, mentions: &[&str]) {
    let r = api
        .post(
            "/v1/messages",
            &json!({"from": from, "to": to, "client_msg_id": id, "mentions": mentions,
                    "body": {"type": "text", "text": text}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn online_as(base: &str, token: &str, device: &str) -> WsClient {
    let mut ws = WsClient::connect(base, token, false)
        .await
        .expect("upgrade accepted");
    ws.send(json!({ "t": "hello", "since": 0, "device": device }))
        .await;
    ws.expect("welcome").await;
    ws.until_synced().await;
    ws
}

/// The jobs the webhook received, each checked (signature and key).
fn jobs(log: &Log) -> Vec<Value> {
    log.all()
        .into_iter()
        .map(|seen| {
            assert!(seen.problems.is_empty(), "webhook: {:?}", seen.problems);
            seen.body["job"].clone()
        })
        .collect()
}

fn of(jobs: &[Value], device: &str, conv: &str) -> Vec<Value> {
    jobs.iter()
        .filter(|j| j["device"] == device && j["conv"] == conv)
        .cloned()
        .collect()
}

/// Waits for a job for `device` in `conv` standing for `conv_seq`.
async fn job_for(log: &Log, device: &str, conv: &str, conv_seq: u64) -> Value {
    until(&format!("a job for {device} {conv} #{conv_seq}"), || {
        let found = of(&jobs(log), device, conv)
            .into_iter()
            .find(|j| j["conv_seq"] == conv_seq);
        async move { found }
    })
    .await
}

/// Waits until the push worker has handled everything in the stream now.
async fn handled(h: &Harness) {
    let js = async_nats::jetstream::new(h.nats.client().await);
    let through = last_seq(&js).await;
    eventually("the push worker handled the stream", || async {
        h.store.checkpoint("push").await.unwrap() >= through
    })
    .await;
}

async fn unread_total(api: &ServerApi, token: &str) -> u64 {
    let r = api.get_as(token, "/v1/conversations").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["unread"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn push_jobs_reach_only_offline_devices_honouring_mute_mentions_and_do_not_disturb() {
    let h = Harness::start().await;
    let admin = admin_of(&h.base, &credential(&h));
    let mut log = Log::default();
    let api = app_with_push(&h.base, &admin, "pushy", async |secret: &str| {
        let (url, l) = providers::webhook("pushy", secret).await;
        log = l;
        json!({ "webhook_url": url })
    })
    .await;
    api.register("alice").await;
    let bob = api.user_token("bob").await;
    let alice = api.user_token("alice").await;
    register_push(
        &api,
        &bob,
        "phone",
        json!({"provider": "webhook", "token": "bob-phone"}),
    )
    .await;
    let both = register_push(
        &api,
        &bob,
        "laptop",
        json!({"provider": "webhook", "token": "bob-laptop", "topic": "desk"}),
    )
    .await;
    assert_eq!(both["devices"].as_array().unwrap().len(), 2, "{both}");
    let direct = "d~alice~bob";

    // The laptop is online: only the phone gets a job.
    let laptop = online_as(&h.base, &bob, "laptop").await;
    send(&api, "alice", json!({"user": "bob"}), "m1", "hello", &[]).await;
    let first = job_for(&log, "phone", direct, 1).await;
    assert_eq!(
        (&first["count"], &first["badge"], &first["mention"]),
        (&json!(1), &json!(1), &json!(false)),
        "{first}"
    );
    assert_eq!(first["preview"], "hello");
    assert_eq!(first["token"], "bob-phone");
    laptop.close().await;
    eventually("bob is offline", || async {
        let r = api
            .post_as(&alice, "/v1/presence/query", &json!({"users": ["bob"]}))
            .await;
        r.body["users"][0]["online"] == false
    })
    .await;
    // Offline now: both devices get the next one, and the laptop never got the first.
    send(&api, "alice", json!({"user": "bob"}), "m2", "there?", &[]).await;
    job_for(&log, "phone", direct, 2).await;
    let laptop_job = job_for(&log, "laptop", direct, 2).await;
    assert_eq!(laptop_job["badge"], 2, "{laptop_job}");
    assert_eq!(laptop_job["topic"], "desk");
    assert!(
        of(&jobs(&log), "laptop", direct)
            .iter()
            .all(|j| j["conv_seq"] != 1)
    );

    // A muted group: nothing, unless bob is mentioned.
    let r = api
        .post(
            "/v1/server/groups/team/ops",
            &json!({"actor": "alice", "op": "create", "name": "team", "members": ["bob"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api
        .post_as(
            &bob,
            "/v1/conversations/g~team/settings",
            &json!({"muted_until": FOREVER}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    send(&api, "alice", json!({"group": "team"}), "g1", "lunch?", &[]).await;
    send(
        &api,
        "alice",
        json!({"group": "team"}),
        "g2",
        "@bob lunch?",
        &["bob"],
    )
    .await;
    let mentioned = job_for(&log, "phone", "g~team", 2).await;
    assert_eq!(
        (&mentioned["mention"], &mentioned["count"]),
        (&json!(true), &json!(1))
    );
    assert!(
        of(&jobs(&log), "phone", "g~team")
            .iter()
            .all(|j| j["conv_seq"] != 1)
    );

    // Do-not-disturb: nothing at all while it holds.
    let r = api
        .put_as(&bob, "/v1/push/dnd", &json!({"until": FOREVER}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["dnd_until"], FOREVER);
    send(&api, "alice", json!({"user": "bob"}), "m3", "quiet", &[]).await;
    handled(&h).await;
    let r = api
        .put_as(&bob, "/v1/push/dnd", &json!({"until": null}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    send(&api, "alice", json!({"user": "bob"}), "m4", "loud", &[]).await;
    let after = job_for(&log, "phone", direct, 4).await;
    assert_eq!(after["count"], 1, "{after}");
    assert!(
        of(&jobs(&log), "phone", direct)
            .iter()
            .all(|j| j["conv_seq"] != 3)
    );

    // A burst collapses; the badge is bob's unread total.
    for i in 5..=9 {
        send(
            &api,
            "alice",
            json!({"user": "bob"}),
            &format!("m{i}"),
            &format!("#{i}"),
            &[],
        )
        .await;
    }
    let last = job_for(&log, "phone", direct, 9).await;
    handled(&h).await;
    let burst: Vec<Value> = of(&jobs(&log), "phone", direct)
        .into_iter()
        .filter(|j| j["conv_seq"].as_u64().unwrap() >= 5)
        .collect();
    let counted: u64 = burst.iter().map(|j| j["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 5, "{burst:?}");
    assert!(burst.len() < 5, "the burst was not collapsed: {burst:?}");
    assert_eq!(
        last["badge"].as_u64(),
        Some(unread_total(&api, &bob).await),
        "{last}"
    );

    // Unregistering stops jobs for that device; the settings read back.
    let r = api.delete_as(&bob, "/v1/devices/laptop/push").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.get_as(&bob, "/v1/push").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let devices: Vec<&str> = r.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["phone"]);
    assert_eq!(r.body["dnd_until"], Value::Null);
}

#[tokio::test]
async fn push_registration_errors_are_clear() {
    let h = Harness::start().await;
    let bob = h.api.user_token("bob").await;
    for (body, code) in [
        (
            json!({"provider": "pager", "token": "t"}),
            "invalid_request",
        ),
        (json!({"provider": "fcm", "token": ""}), "invalid_request"),
        (json!({"provider": "fcm"}), "invalid_request"),
    ] {
        let r = h.api.put_as(&bob, "/v1/devices/phone/push", &body).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["code"], code, "{body}: {:?}", r.body);
    }
    let r = h
        .api
        .put_as(
            &bob,
            "/v1/devices/bad%20id/push",
            &json!({"provider": "fcm", "token": "t"}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["code"], "invalid_id", "{:?}", r.body);
    let r = h
        .api
        .put_as(&bob, "/v1/push/dnd", &json!({"until": -5}))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = h
        .api
        .put_as("not-a-token", "/v1/push/dnd", &json!({"until": null}))
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
}

#[tokio::test]
async fn apns_and_fcm_adapters_send_what_the_providers_document() {
    providers_get_what_they_document(false).await;
}

/// The same over TLS: APNs negotiates HTTP/2 by ALPN (its server refuses anything else), the
/// FCM token exchange and sends go over HTTPS, certificates checked against the test CA.
#[tokio::test]
async fn apns_and_fcm_adapters_reach_https_endpoints() {
    providers_get_what_they_document(true).await;
}

async fn providers_get_what_they_document(tls: bool) {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |config| {
        if tls {
            crate::tls::trusting_the_test_ca(config);
        }
    })
    .await;
    let admin = admin_of(&h.base, &credential(&h));
    let (apns_base, apns_log) = providers::apns(tls).await;
    let (fcm_base, fcm_tokens, fcm_sends) = providers::fcm(tls).await;
    assert_eq!(apns_base.starts_with("https://"), tls, "{apns_base}");
    let api = app_with_push(&h.base, &admin, "mobile", async |_: &str| {
        json!({
            "apns": {
                "team_id": providers::TEAM_ID,
                "key_id": providers::KEY_ID,
                "private_key": providers::APNS_KEY,
                "topic": providers::TOPIC,
                "endpoint": apns_base,
            },
            "fcm": {
                "project_id": providers::PROJECT,
                "client_email": providers::CLIENT_EMAIL,
                "private_key": providers::FCM_KEY,
                "token_uri": format!("{fcm_base}/token"),
                "endpoint": fcm_base,
            },
        })
    })
    .await;
    let shown = admin.get("/v1/admin/apps/mobile").await;
    let push = &shown.body["app"]["settings"]["push"];
    assert_eq!(push["apns"]["private_key"], "(hidden)", "{push}");
    assert_eq!(push["fcm"]["private_key"], "(hidden)", "{push}");
    api.register("alice").await;
    let bob = api.user_token("bob").await;
    let apns_token = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    register_push(
        &api,
        &bob,
        "iphone",
        json!({"provider": "apns", "token": apns_token}),
    )
    .await;
    register_push(
        &api,
        &bob,
        "pixel",
        json!({"provider": "fcm", "token": "fcm-registration-1"}),
    )
    .await;
    send(
        &api,
        "alice",
        json!({"user": "bob"}),
        "m1",
        "hi from alice",
        &[],
    )
    .await;
    handled(&h).await;
    send(&api, "alice", json!({"user": "bob"}), "m2", "again", &[]).await;

    let apns = until("two APNs requests", || {
        let all = apns_log.all();
        async move { (all.len() >= 2).then_some(all) }
    })
    .await;
    for seen in &apns {
        assert!(seen.problems.is_empty(), "APNs: {:?}", seen.problems);
        assert_eq!(seen.path, format!("/3/device/{apns_token}"));
        assert_eq!(seen.headers["apns-collapse-id"], "d~alice~bob");
    }
    assert_eq!(apns[0].body["aps"]["alert"]["body"], "hi from alice");
    assert_eq!(apns[1].body["aps"]["badge"], 2);

    let sends = until("two FCM sends", || {
        let all = fcm_sends.all();
        async move { (all.len() >= 2).then_some(all) }
    })
    .await;
    for seen in &sends {
        assert!(seen.problems.is_empty(), "FCM: {:?}", seen.problems);
        assert_eq!(seen.body["message"]["token"], "fcm-registration-1");
    }
    assert_eq!(sends[1].body["message"]["data"]["badge"], "2");
    // One token exchange serves both sends (the access token is reused until it expires).
    let exchanges = fcm_tokens.all();
    assert_eq!(exchanges.len(), 1, "{exchanges:?}");
    assert!(
        exchanges[0].problems.is_empty(),
        "{:?}",
        exchanges[0].problems
    );
}

#[tokio::test]
async fn no_push_job_is_lost_when_the_server_is_killed_mid_stream() {
    let nats = TestNats::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let up = || {
        launch(
            &["up", "--listen", "127.0.0.1:0", "--data-dir", data],
            &[("NATS_URL", nats.url())],
        )
    };
    let (mut child, line) = up();
    let base = field(&line, "listen");
    let admin = admin_of(
        &base,
        &tidings::dev_app::admin_in(dir.path()).unwrap().unwrap(),
    );
    let mut log = Log::default();
    let api = app_with_push(&base, &admin, "durable", async |secret: &str| {
        let (url, l) = providers::webhook("durable", secret).await;
        log = l;
        json!({ "webhook_url": url })
    })
    .await;
    alice_and_bobs_phone(&api).await;
    const SENT: u64 = 20;
    for i in 1..=SENT {
        send(
            &api,
            "alice",
            json!({"user": "bob"}),
            &format!("k{i}"),
            "x",
            &[],
        )
        .await;
    }
    // Killed as the last send is acknowledged: the worker is still gathering its batch.
    signal(child.id(), "KILL");
    child.wait().unwrap();
    let before = jobs(&log).len();
    let (mut child, _) = up();
    let covered = until("every message covered by a job", || {
        let mut seqs = std::collections::BTreeSet::new();
        for job in of(&jobs(&log), "phone", "d~alice~bob") {
            let (last, count) = (
                job["conv_seq"].as_u64().unwrap(),
                job["count"].as_u64().unwrap(),
            );
            seqs.extend(last + 1 - count..=last);
        }
        async move { (seqs.len() as u64 == SENT).then_some(seqs) }
    })
    .await;
    assert_eq!(covered, (1..=SENT).collect());
    println!(
        "jobs before the kill: {before}; after the restart: {}",
        jobs(&log).len()
    );
    signal(child.id(), "TERM");
    child.wait().unwrap();
}

const PUSH_WORKER: &str = "push-worker";
/// What the push worker reads while some app has a provider.
const MESSAGES_AND_APPS: [&str; 2] = ["tid.evt.*.conv.>", subjects::ALL_APPS];

/// Registers alice, and bob's phone with the app-defined (webhook) provider.
async fn alice_and_bobs_phone(api: &ServerApi) {
    api.register("alice").await;
    let bob = api.user_token("bob").await;
    register_push(
        api,
        &bob,
        "phone",
        json!({"provider": "webhook", "token": "t"}),
    )
    .await;
}

#[tokio::test]
async fn with_no_app_pushing_the_worker_reads_only_app_events_until_one_does() {
    let h = Harness::start().await;
    let js = jetstream::new(h.nats.client().await);
    until_reads(&js, PUSH_WORKER, &[subjects::ALL_APPS]).await;
    // The development app has no provider: its messages are not delivered to the worker.
    h.api.register("alice").await;
    h.api.register("bob").await;
    send(&h.api, "alice", json!({"user": "bob"}), "q1", "quiet", &[]).await;
    let quiet = last_seq(&js).await;
    let (_, delivered) = consumer_reads(&js, PUSH_WORKER).await.unwrap();
    assert!(
        delivered < quiet,
        "delivered {delivered}, message at {quiet}"
    );

    // An app given a webhook: the worker reads messages from the app's next event on.
    let admin = admin_of(&h.base, &credential(&h));
    let (mut log, mut hook) = (Log::default(), String::new());
    let loud = app_with_push(&h.base, &admin, "loud", async |secret: &str| {
        let (url, l) = providers::webhook("loud", secret).await;
        (log, hook) = (l, url.clone());
        json!({ "webhook_url": url })
    })
    .await;
    until_reads(&js, PUSH_WORKER, &MESSAGES_AND_APPS).await;
    alice_and_bobs_phone(&loud).await;
    send(&loud, "alice", json!({"user": "bob"}), "k1", "one", &[]).await;
    job_for(&log, "phone", "d~alice~bob", 1).await;

    // Another app's provider comes and goes: loud still has one, so the scope stays.
    app_with_push(
        &h.base,
        &admin,
        "also",
        async |_: &str| json!({ "webhook_url": "http://127.0.0.1:9/push" }),
    )
    .await;
    let also_off = admin
        .post("/v1/admin/apps/also/settings", &json!({"push": {}}))
        .await;
    assert_eq!(also_off.status, 200, "{:?}", also_off.body);
    handled(&h).await;
    let mut wide = MESSAGES_AND_APPS.map(str::to_owned).to_vec();
    wide.sort();
    assert_eq!(consumer_filters(&js, PUSH_WORKER).await, Some(wide));

    // The last provider removed: back to app events; a message then gets no job, even once
    // the provider is back.
    let settings = "/v1/admin/apps/loud/settings";
    let off = admin.post(settings, &json!({"push": {}})).await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    until_reads(&js, PUSH_WORKER, &[subjects::ALL_APPS]).await;
    send(&loud, "alice", json!({"user": "bob"}), "k2", "two", &[]).await;
    let on = admin
        .post(settings, &json!({"push": {"webhook_url": hook}}))
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    send(&loud, "alice", json!({"user": "bob"}), "k3", "three", &[]).await;
    job_for(&log, "phone", "d~alice~bob", 3).await;
    handled(&h).await;
    let seqs: Vec<(u64, u64)> = of(&jobs(&log), "phone", "d~alice~bob")
        .iter()
        .map(|j| {
            (
                j["conv_seq"].as_u64().unwrap(),
                j["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seqs,
        [(1, 1), (3, 1)],
        "none for the message sent without a provider"
    );
}

#[tokio::test]
async fn a_provider_configured_across_a_restart_is_followed_from_the_start_on() {
    let h = Harness::start().await;
    let js = jetstream::new(h.nats.client().await);
    until_reads(&js, PUSH_WORKER, &[subjects::ALL_APPS]).await;
    alice_and_bobs_phone(&h.api).await;
    send(&h.api, "alice", json!({"user": "bob"}), "k1", "before", &[]).await;
    let (key, secret) = (h.api.app_key.clone(), h.api.app_secret.clone());

    // The configuration now gives the development app a webhook: no app event says so, and the
    // worker reads messages from its start on (none for the one before).
    let (url, log) = providers::webhook(&key, &secret).await;
    let (nats, dir) = h.stop().await;
    let h = Harness::start_on(nats, dir, |config| {
        config.dev_app.push.webhook_url = Some(url.clone());
    })
    .await;
    until_reads(&js, PUSH_WORKER, &MESSAGES_AND_APPS).await;
    send(&h.api, "alice", json!({"user": "bob"}), "k2", "after", &[]).await;
    job_for(&log, "phone", "d~alice~bob", 2).await;
    handled(&h).await;
    let seqs: Vec<u64> = of(&jobs(&log), "phone", "d~alice~bob")
        .iter()
        .map(|j| j["conv_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2]);

    // And back: without it, app events only again.
    let (nats, dir) = h.stop().await;
    let _h = Harness::start_on(nats, dir, |_| {}).await;
    until_reads(&js, PUSH_WORKER, &[subjects::ALL_APPS]).await;
}
