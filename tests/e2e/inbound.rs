//! Integrator requests over NATS (`tid.in.<app>.<command>`): answered when asked, and parked
//! on the dead-letter stream with the reason when they cannot be carried out.

use crate::harness::Harness;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tidings_events::{headers, subjects};

async fn request(client: &async_nats::Client, subject: String, body: Value) -> Value {
    let reply = client
        .request(subject, body.to_string().into())
        .await
        .expect("an answer");
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test]
async fn requests_are_answered_and_bad_ones_dead_lettered() {
    let h = Harness::start().await;
    let app = h.api.app_key.clone();
    let client = h.nats.client().await;
    let subject = |command: &str| format!("tid.in.{app}.{command}");

    let r = request(
        &client,
        subject("users.upsert"),
        json!({"user_id": "alice", "name": "Alice"}),
    )
    .await;
    assert_eq!((&r["user_id"], &r["version"]), (&json!("alice"), &json!(1)));
    assert!(r["pos"].as_u64().unwrap() > 0, "{r}");
    let (mut bob, _) = h.online("bob", 0).await;
    let r = request(
        &client,
        subject("messages.send"),
        json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "n1",
               "body": {"type": "text", "text": "over NATS"}}),
    )
    .await;
    assert_eq!(
        (r["t"].as_str(), r["conv_seq"].as_u64()),
        (Some("sent"), Some(1)),
        "{r}"
    );
    assert_eq!(bob.expect("entry").await["body"]["text"], "over NATS");
    let r = request(
        &client,
        subject("system.send"),
        json!({"to": ["bob"], "body": {"type": "text", "text": "sys"}}),
    )
    .await;
    assert_eq!(r["delivered_to"], 1);

    // Errors are answered; malformed requests and unanswerable failures are dead-lettered.
    let r = request(&client, subject("teleport"), json!({})).await;
    assert_eq!(r["code"], "not_found");
    let r = request(&client, "tid.in.nosuchapp.users.upsert".into(), json!({})).await;
    assert_eq!(r["code"], "unknown_app");
    client
        .publish(subject("messages.send"), "{broken".into())
        .await
        .unwrap();
    let refused = json!({"from": "alice", "to": {"user": "nobody"}, "client_msg_id": "n2",
                         "body": {"type": "text", "text": "lost?"}});
    client
        .publish(subject("messages.send"), refused.to_string().into())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let js = async_nats::jetstream::new(client.clone());
    let dlq = js.get_stream(subjects::DEAD_LETTER_STREAM).await.unwrap();
    let consumer = dlq
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: subjects::dead_letter_inbound(&app),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut parked = consumer.messages().await.unwrap();
    let mut reasons = Vec::new();
    for _ in 0..3 {
        let m = parked.next().await.unwrap().unwrap();
        let h = m.headers.clone().unwrap();
        assert!(
            h.get(headers::DEAD_LETTER_SUBJECT)
                .unwrap()
                .as_str()
                .starts_with("tid.in.")
        );
        reasons.push(h.get(headers::DEAD_LETTER_REASON).unwrap().to_string());
    }
    assert!(reasons[0].contains("unknown command"), "{reasons:?}");
    assert!(
        reasons[1].to_lowercase().contains("key must be a string")
            || reasons[1].contains("expected"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("nobody not found"), "{reasons:?}");
    // The server keeps serving.
    let r = request(
        &client,
        subject("users.upsert"),
        json!({"user_id": "carol", "name": "C"}),
    )
    .await;
    assert_eq!(r["version"], 1);
}
