//! Gaps in stream sequence: events purged from the stream (the events stream denies deleting
//! single messages, but an operator may purge a subject) are a real gap the projector steps over;
//! only an event that exists but was never delivered makes it restart.

use crate::harness::{CMD_APP, Harness, api_instances, eventually, last_seq, text_to};
use tidings_domain::{AppId, UserId};
use tidings_store::{InboxStore, ProjectionStore};

#[tokio::test]
async fn events_purged_from_the_stream_are_stepped_over() {
    let h = Harness::start().await;
    let (nats, dir) = h.stop().await;

    // While no projector runs: messages to bob, carol, bob; then carol's conversation is
    // purged, leaving a gap in the middle of the stream.
    let api = api_instances(&nats, 1, &["alice", "bob", "carol"])
        .await
        .remove(0);
    let app = AppId::parse(CMD_APP).unwrap();
    let alice = UserId::parse("alice").unwrap();
    for (i, to) in ["bob", "carol", "bob"].into_iter().enumerate() {
        let request = text_to(to, &format!("g{i}"), &format!("gap {i}"));
        api.commands.send(&app, &alice, request).await.unwrap();
    }
    let client = tidings::up::connect_nats(nats.url(), 1).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let last = last_seq(&js).await;
    let stream = js
        .get_stream(tidings_events::subjects::EVENTS_STREAM)
        .await
        .unwrap();
    let carol = tidings_domain::ConvId::direct(&alice, &UserId::parse("carol").unwrap());
    let purged = stream
        .purge()
        .filter(tidings_events::subjects::event(
            &app,
            tidings_events::subjects::aggregate::CONV,
            carol.as_str(),
        ))
        .await
        .unwrap();
    assert_eq!(purged.purged, 1);

    let h = Harness::start_on(nats, dir, |_| {}).await;
    eventually("the projection passes the purged event", || async {
        h.store.checkpoint("inbox").await.unwrap() == last
    })
    .await;
    let bob = UserId::parse("bob").unwrap();
    let texts: Vec<String> = h
        .store
        .inbox_after(&app, &bob, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.item {
            tidings_store::EntryItem::Message(m) => match &m.body {
                Some(tidings_domain::Body::Text { text }) => Some(text.clone()),
                other => panic!("only text was sent, got {other:?}"),
            },
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["gap 0", "gap 2"], "both of bob's messages arrive");
    h.stop().await;
}
