//! Devices (issue 14): a user's sessions are named by the device their `hello` gives, and the
//! app server or the user can sign one device out: that device's sessions close on every gateway (here an
//! all-in-one server and a separate `tidings gateway` process on the same NATS) within a
//! second with close code 4401, reason `device signed out`, while the user's other devices
//! stay open and keep receiving.

use crate::access::{ACCESS_ENDED, GatewayProcess, closed};
use crate::harness::Harness;
use serde_json::json;
use std::time::{Duration, Instant};
use tidings_testkit::{ServerApi, WsClient};

/// Opens a session on `base` that says hello as `device`, caught up.
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

#[tokio::test]
async fn signing_a_device_out_closes_its_sessions_on_every_gateway_only() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    harness.api.register("bob").await;
    let token = harness.api.user_token("alice").await;

    // The phone is open on both gateways, the laptop on the all-in-one server.
    let mut phone_here = online_as(&harness.base, &token, "phone").await;
    let mut phone_there = online_as(&other.base, &token, "phone").await;
    let mut laptop = online_as(&harness.base, &token, "laptop").await;

    let signed_out_at = Instant::now();
    let sign_out = harness
        .api
        .post("/v1/users/alice/devices/phone/sign-out", &json!({}))
        .await;
    assert_eq!(sign_out.status, 200, "{:?}", sign_out.body);
    assert_eq!(sign_out.body["device"], "phone");
    for ws in [&mut phone_here, &mut phone_there] {
        let (code, took) = closed(ws, signed_out_at).await;
        assert_eq!(code, Some(ACCESS_ENDED));
        assert!(took < Duration::from_secs(1), "closed after {took:?}");
        println!("signed-out device's session closed {took:?} after the sign-out was asked");
    }

    // The laptop was not signed out: it still receives what bob sends.
    let bob = harness.api.user_token("bob").await;
    let mut bob_ws = online_as(&harness.base, &bob, "bob-phone").await;
    let sent = bob_ws.send_text("1", "alice", "c1", "still yours").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    assert_eq!(laptop.expect("entry").await["msg_id"], sent["msg_id"]);
}

#[tokio::test]
async fn a_user_signs_out_their_own_device_from_another_gateway() {
    let harness = Harness::start().await;
    let other = GatewayProcess::start(&harness);
    let token = harness.api.user_token("alice").await;
    let mut phone = online_as(&harness.base, &token, "phone").await;
    let mut laptop = online_as(&other.base, &token, "laptop").await;

    // From the laptop's gateway, alice signs her phone out.
    let signed_out_at = Instant::now();
    let client = ServerApi::new(&other.base, "unused", "unused");
    let answer = client.delete_as(&token, "/v1/devices/phone").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["signed_out"], true);
    let (code, took) = closed(&mut phone, signed_out_at).await;
    assert_eq!(code, Some(ACCESS_ENDED));
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    laptop.send(json!({ "t": "ping" })).await;
    laptop.expect("pong").await;
}

#[tokio::test]
async fn a_device_id_is_checked_at_sign_out() {
    let harness = Harness::start().await;
    harness.api.register("alice").await;
    let long = "x".repeat(65);
    let refused = harness
        .api
        .post(
            &format!("/v1/users/alice/devices/{long}/sign-out"),
            &json!({}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "invalid_id");
}
