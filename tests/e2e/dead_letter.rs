//! An event no projector can read is parked on the dead-letter stream with the reason, and
//! the projector keeps going.

use crate::harness::{Harness, eventually, last_seq};
use async_nats::HeaderMap;
use futures_util::StreamExt;
use tidings_events::{headers, subjects};
use tidings_store::ProjectionStore;

#[tokio::test]
async fn unknown_event_versions_are_dead_lettered_and_projection_continues() {
    let h = Harness::start().await;
    let client = h.nats.client().await;
    let js = async_nats::jetstream::new(client);

    for (event_type, version) in [("message_sent", "99"), ("no_such_event", "1")] {
        let mut h2 = HeaderMap::new();
        h2.insert(headers::EVENT_TYPE, event_type);
        h2.insert(headers::EVENT_VERSION, version);
        js.publish_with_headers(
            format!("tid.evt.{}.conv.d~x~y", h.api.app_key),
            h2,
            "future payload".into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }

    // Messages after the bad events are still projected.
    let (mut alice, _) = h.online("alice", 0).await;
    h.api.register("bob").await;
    alice.send_text("1", "bob", "after", "still flowing").await;
    let own = alice.expect("entry").await;
    assert_eq!(own["seq"], 1);

    let last = last_seq(&js).await;
    eventually("the projection passes the bad events", || async {
        h.store.checkpoint("inbox").await.unwrap() == last
    })
    .await;

    let dlq = js.get_stream(subjects::DEAD_LETTER_STREAM).await.unwrap();
    let consumer = dlq
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let message = messages.next().await.unwrap().unwrap();
        assert_eq!(
            message.subject.as_str(),
            subjects::dead_letter_event("inbox")
        );
        let h = message.headers.clone().unwrap();
        assert!(h.get(headers::DEAD_LETTER_SEQ).is_some());
        assert_eq!(&message.payload[..], b"future payload");
        reasons.push(h.get(headers::DEAD_LETTER_REASON).unwrap().to_string());
    }
    assert!(reasons[0].contains("unknown version 99"), "{reasons:?}");
    assert!(reasons[1].contains("unknown event type"), "{reasons:?}");
}
