//! The device registry (issue 14): a device is registered at its first hello, a sign-out is
//! recorded on the user's subject so the token a device held stops opening sessions as it (a
//! token minted after the sign-out works), a gateway that missed the sign-out notice still
//! ends the device on the projector's user-change notice, and `GET /v1/devices` lists every
//! device with its platform, presence, delivered and read positions.

use crate::access::{ACCESS_ENDED, closed};
use crate::harness::{Harness, eventually, until};
use serde_json::{Value, json};
use std::time::Instant;
use tidings_testkit::{ServerApi, WsClient};

/// Opens a session that says hello as `device` on `platform`, caught up.
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

/// Says hello as `device` and returns the close code the server answers with.
async fn refused_hello(base: &str, token: &str, device: &str) -> Option<u16> {
    let mut ws = WsClient::connect(base, token, false)
        .await
        .expect("upgrade accepted: the token itself is valid");
    ws.send(json!({ "t": "hello", "since": 0, "device": device }))
        .await;
    match ws.next().await {
        Ok(frame) => panic!("hello as a signed-out device answered {frame}"),
        Err(code) => code,
    }
}

async fn devices(base: &str, token: &str) -> Value {
    let listed = ServerApi::new(base, "unused", "unused")
        .get_as(token, "/v1/devices")
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    listed.body["devices"].clone()
}

fn device<'a>(listed: &'a Value, id: &str) -> Option<&'a Value> {
    listed.as_array()?.iter().find(|d| d["device"] == id)
}

#[tokio::test]
async fn a_signed_out_device_s_token_is_refused_at_hello_and_a_fresh_one_works() {
    let harness = Harness::start().await;
    let old = harness.api.user_token("alice").await;
    let mut phone = online_as(&harness.base, &old, "phone", "ios").await;

    let asked = Instant::now();
    let sign_out = harness
        .api
        .post("/v1/users/alice/devices/phone/sign-out", &json!({}))
        .await;
    assert_eq!(sign_out.status, 200, "{:?}", sign_out.body);
    let (code, _) = closed(&mut phone, asked).await;
    assert_eq!(code, Some(ACCESS_ENDED));

    // The token the phone held no longer says hello as the phone (it is recorded, not only
    // announced), but it still works for the user's other devices: tokens are per user.
    assert_eq!(
        refused_hello(&harness.base, &old, "phone").await,
        Some(ACCESS_ENDED)
    );
    let mut laptop = online_as(&harness.base, &old, "laptop", "desktop").await;
    laptop.send(json!({ "t": "ping" })).await;
    laptop.expect("pong").await;

    // A token minted after the sign-out signs the phone in again.
    let fresh = harness.api.user_token("alice").await;
    let mut phone = online_as(&harness.base, &fresh, "phone", "ios").await;
    phone.send(json!({ "t": "ping" })).await;
    phone.expect("pong").await;
    eventually("the phone listed as registered again", || async {
        let listed = devices(&harness.base, &fresh).await;
        device(&listed, "phone")
            .is_some_and(|p| p["signed_out"] == false && p["registered_at"].is_i64())
    })
    .await;

    // Signing out a device that never said hello is `not_found`.
    let unknown = harness
        .api
        .post("/v1/users/alice/devices/tablet/sign-out", &json!({}))
        .await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    assert_eq!(unknown.body["code"], "not_found");
    harness.stop().await;
}

/// The safety net: a sign-out recorded without its notice (an api that stopped between the
/// two, or a gateway that missed it) still ends the device's sessions, through the projector's
/// user-change notice and the gateway's recheck of the user's subject.
#[tokio::test]
async fn a_sign_out_recorded_without_its_notice_still_ends_the_device() {
    use tidings_domain::event::{DeviceChange, Event};
    use tidings_domain::login::Platform;
    use tidings_domain::{AppId, DeviceId, UserId};
    use tidings_events::envelope::{dedupe_id, publish_headers};

    let harness = Harness::start().await;
    let token = harness.api.user_token("alice").await;
    let mut phone = online_as(&harness.base, &token, "phone", "android").await;
    let mut laptop = online_as(&harness.base, &token, "laptop", "desktop").await;

    let app = AppId::parse(harness.api.app_key.clone()).unwrap();
    let alice = UserId::parse("alice").unwrap();
    let event = Event::DeviceSignedOut(DeviceChange {
        app: app.clone(),
        user: alice.clone(),
        device: DeviceId::parse("phone").unwrap(),
        platform: Platform::Android,
        ts: tidings_testkit::server_api::now_secs() * 1000 + 999,
    });
    let encoded = tidings_events::encode(&event);
    let js = async_nats::jetstream::new(harness.nats.client().await);
    let subject = tidings_events::subjects::event(&app, "user", alice.as_str());
    let started = Instant::now();
    js.publish_with_headers(
        subject,
        publish_headers(&encoded, &dedupe_id(&event, u64::MAX)),
        encoded.payload.clone().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let (code, took) = closed(&mut phone, started).await;
    assert_eq!(code, Some(ACCESS_ENDED));
    println!("signed-out device closed {took:?} after the bare sign-out was recorded");
    laptop.send(json!({ "t": "ping" })).await;
    laptop.expect("pong").await;
    assert_eq!(
        refused_hello(&harness.base, &token, "phone").await,
        Some(ACCESS_ENDED)
    );
    harness.stop().await;
}

#[tokio::test]
async fn the_device_list_joins_registry_presence_and_positions() {
    let harness = Harness::start().await;
    harness.api.register("bob").await;
    let token = harness.api.user_token("alice").await;
    let mut phone = online_as(&harness.base, &token, "phone", "ios").await;
    let mut laptop = online_as(&harness.base, &token, "laptop", "desktop").await;
    let bob = harness.api.user_token("bob").await;
    let mut bob_ws = online_as(&harness.base, &bob, "bob-phone", "android").await;
    let mut sent = Value::Null;
    for n in ["1", "2"] {
        sent = bob_ws.send_text(n, "alice", &format!("c{n}"), "hi").await;
        assert_eq!(sent["t"], "sent", "{sent}");
    }
    // The phone holds both entries and reads the conversation; the laptop acknowledges one.
    for _ in 0..2 {
        phone.expect("entry").await;
        laptop.expect("entry").await;
    }
    phone
        .send(json!({ "t": "read", "conv": sent["conv"], "conv_seq": 2 }))
        .await;
    phone.send(json!({ "t": "ack", "seq": 2 })).await;
    laptop.send(json!({ "t": "ack", "seq": 1 })).await;
    // Frames are answered in order: the pong means the read and the ack are recorded (the
    // read's own entry may come first).
    for ws in [&mut phone, &mut laptop] {
        ws.send(json!({ "t": "ping" })).await;
        loop {
            let frame = ws.next().await.expect("open");
            if frame["t"] == "pong" {
                break;
            }
            assert_eq!(frame["kind"], "read", "{frame}");
        }
    }

    let listed = until("both devices listed with the phone's read", || async {
        let listed = devices(&harness.base, &token).await;
        let phone = device(&listed, "phone")?;
        (phone["read"]["conv_seq"] == 2).then_some(listed)
    })
    .await;
    let (phone_row, laptop_row) = (
        device(&listed, "phone").unwrap(),
        device(&listed, "laptop").unwrap(),
    );
    assert_eq!(phone_row["platform"], "ios");
    assert_eq!(phone_row["delivered"], 2);
    assert_eq!(phone_row["read"]["conv"], sent["conv"]);
    assert_eq!(phone_row["online"], true);
    assert_eq!(phone_row["signed_out"], false);
    assert_eq!(laptop_row["platform"], "desktop");
    assert_eq!(laptop_row["delivered"], 1);
    assert_eq!(laptop_row["read"], Value::Null);
    assert_eq!(laptop_row["online"], true);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["laptop", "phone"], "ordered by device id");

    // The laptop goes away: it is listed offline, with when it was last seen.
    drop(laptop);
    let laptop_row = until("the laptop offline", || async {
        let listed = devices(&harness.base, &token).await;
        let laptop = device(&listed, "laptop")?.clone();
        (laptop["online"] == false).then_some(laptop)
    })
    .await;
    assert!(laptop_row["last_seen"].is_i64(), "{laptop_row}");
    harness.stop().await;
}
