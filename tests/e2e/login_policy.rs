//! Login policy per app (issue 14): under `single` a new login closes the user's older
//! sessions of every other device, under `one_per_platform` those of other devices of the same
//! platform, on every gateway (an all-in-one server and a separate `tidings gateway` process on
//! the same NATS), within a second, with a `kicked{reason}` frame then close code 4409. The
//! default, `multi`, keeps every device (tests/e2e/devices.rs holds two at once).

use crate::access::GatewayProcess;
use crate::apps::{admin_of, create, credential};
use crate::harness::Harness;
use serde_json::json;
use std::time::{Duration, Instant};
use tidings_testkit::{ServerApi, WsClient};

/// The close code of a session a newer login replaced (docs/protocol.md).
const REPLACED: u16 = 4409;

/// Opens a session on `base` that says hello as `device` on `platform`, caught up.
async fn online_as(base: &str, token: &str, device: &str, platform: &str) -> WsClient {
    let mut ws = WsClient::connect(base, token, false)
        .await
        .expect("upgrade accepted");
    ws.send(json!({ "t": "hello", "since": 0, "device": device, "platform": platform }))
        .await;
    ws.expect("welcome").await;
    ws.until_synced().await;
    ws
}

/// Reads until the close: a `kicked` frame must come just before it. Returns the close code
/// and how long after `since` it came.
async fn kicked(ws: &mut WsClient, since: Instant) -> (Option<u16>, Duration) {
    let mut told = None;
    loop {
        match ws.next().await {
            Ok(frame) if frame["t"] == "kicked" => told = Some(frame),
            Ok(frame) => assert_eq!(frame["t"], "entry", "unexpected frame {frame}"),
            Err(code) => {
                let told = told.expect("a kicked frame before the close");
                assert_eq!(told["reason"], "replaced by a newer login", "{told}");
                return (code, since.elapsed());
            }
        }
    }
}

/// Creates an app with `policy` and registers alice and bob there; answers its server API.
async fn app_with(harness: &Harness, key: &str, policy: &str) -> ServerApi {
    let admin = admin_of(&harness.base, &credential(harness));
    let secret = create(
        &admin,
        json!({"key": key, "settings": {"login_policy": policy}}),
    )
    .await;
    let api = ServerApi::new(&harness.base, key, &secret);
    for user in ["alice", "bob"] {
        assert_eq!(api.register(user).await.status, 200);
    }
    api
}

/// The survivor still receives: bob's message reaches it.
async fn still_receives(harness: &Harness, api: &ServerApi, survivor: &mut WsClient) {
    let bob = api.user_token("bob").await;
    let mut bob_ws = online_as(&harness.base, &bob, "bob-phone", "ios").await;
    let sent = bob_ws.send_text("1", "alice", "c1", "still here?").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert_eq!(survivor.expect("entry").await["msg_id"], sent["msg_id"]);
}

#[tokio::test]
async fn under_single_a_new_login_closes_every_other_device_on_every_gateway() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    let api = app_with(&harness, "solo", "single").await;
    let token = api.user_token("alice").await;
    let mut phone = online_as(&harness.base, &token, "phone", "ios").await;
    let mut browser = online_as(&other.base, &token, "browser", "web").await;
    // The browser's login replaced the phone: closed on the other gateway.
    let logged_in_at = Instant::now();
    let (code, took) = kicked(&mut phone, logged_in_at).await;
    assert_eq!(code, Some(REPLACED));
    assert!(took < Duration::from_secs(1), "closed after {took:?}");

    // A tablet on the first gateway replaces the browser on the second in turn.
    let mut tablet = online_as(&harness.base, &token, "tablet", "android").await;
    let logged_in_at = Instant::now();
    let (code, took) = kicked(&mut browser, logged_in_at).await;
    assert_eq!(code, Some(REPLACED));
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    println!("single: the older device closed {took:?} after the newer login");
    still_receives(&harness, &api, &mut tablet).await;
}

#[tokio::test]
async fn under_one_per_platform_a_new_login_closes_only_its_platform() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    let api = app_with(&harness, "perplat", "one_per_platform").await;
    let token = api.user_token("alice").await;
    let mut old_phone = online_as(&harness.base, &token, "old-phone", "ios").await;
    let mut browser = online_as(&harness.base, &token, "browser", "web").await;
    let mut new_phone = online_as(&other.base, &token, "new-phone", "ios").await;
    let logged_in_at = Instant::now();
    let (code, took) = kicked(&mut old_phone, logged_in_at).await;
    assert_eq!(code, Some(REPLACED));
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    println!("one_per_platform: the older phone closed {took:?} after the newer login");
    // The browser (another platform) and the new phone both stay.
    still_receives(&harness, &api, &mut browser).await;
    assert_eq!(new_phone.expect("entry").await["t"], "entry");
}
