//! Offline catch-up and the switch to live delivery.

use crate::harness::{Harness, last_seq, seqs};
use std::collections::HashMap;
use tidings_testkit::{TestNats, WsClient};

/// These tests send as fast as they can: lift the per-connection rate limit.
fn unlimited(config: &mut tidings::config::Config) {
    config.gateway.frames_per_sec = 1_000_000;
    config.gateway.frames_burst = 1_000_000;
}

/// Messages bob misses while offline: more than one catch-up page.
const OFFLINE: u64 = 600;
/// Messages each of two senders sends while bob catches up.
const DURING: u64 = 150;

async fn send_many(mut ws: WsClient, to: &str, range: std::ops::RangeInclusive<u64>) -> WsClient {
    for i in range {
        let sent = ws
            .send_text(&format!("r{i}"), to, &format!("c{i}"), &format!("m{i}"))
            .await;
        assert_eq!(sent["t"], "sent", "{sent}");
    }
    ws
}

#[tokio::test]
async fn offline_bob_catches_up_then_goes_live_without_gap_or_duplicate() {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), unlimited).await;
    h.api.register("bob").await;
    let (alice, _) = h.online("alice", 0).await;
    let (carol, _) = h.online("carol", 0).await;
    let alice = send_many(alice, "bob", 1..=OFFLINE).await;

    // alice and carol keep sending while bob connects and catches up, so live pushes
    // overlap the pages read from the store.
    let senders = [
        tokio::spawn(send_many(alice, "bob", OFFLINE + 1..=OFFLINE + DURING)),
        tokio::spawn(send_many(carol, "bob", 1..=DURING)),
    ];

    let total = OFFLINE + 2 * DURING;
    let mut bob = h.connect("bob").await;
    bob.hello(0).await;
    let mut entries = Vec::new();
    let mut synced = 0;
    while (entries.len() as u64) < total {
        let frame = bob.next().await.expect("open");
        match frame["t"].as_str().unwrap() {
            "entry" => entries.push(frame),
            "synced" => {
                synced += 1;
                assert_eq!(
                    frame["seq"],
                    entries.len() as u64,
                    "synced covers what was sent"
                );
                assert!(
                    entries.len() as u64 >= OFFLINE,
                    "the offline backlog precedes synced"
                );
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(synced, 1);
    assert_eq!(seqs(&entries), (1..=total).collect::<Vec<_>>());
    // Per conversation, conv_seq arrives gapless and in order.
    let mut per_conv: HashMap<String, Vec<u64>> = HashMap::new();
    for e in &entries {
        per_conv
            .entry(e["conv"].as_str().unwrap().to_owned())
            .or_default()
            .push(e["conv_seq"].as_u64().unwrap());
    }
    assert_eq!(
        per_conv["d~alice~bob"],
        (1..=OFFLINE + DURING).collect::<Vec<_>>()
    );
    assert_eq!(per_conv["d~bob~carol"], (1..=DURING).collect::<Vec<_>>());

    // Nothing more is pending: a ping is answered next, not a stray entry.
    bob.send(serde_json::json!({"t": "ping"})).await;
    bob.expect("pong").await;

    // A later session resumes where the client left off.
    bob.close().await;
    let (mut bob, missed) = h.online("bob", total - 40).await;
    assert_eq!(seqs(&missed), (total - 39..=total).collect::<Vec<_>>());
    let (mut dave, _) = h.online("dave", 0).await;
    dave.send_text("x", "bob", "c-x", "live").await;
    let live = bob.expect("entry").await;
    assert_eq!(live["seq"], total + 1);
    assert_eq!(live["from"], "dave");
}

#[tokio::test]
async fn stale_pushes_are_skipped_and_missed_ones_filled_from_the_store() {
    use tidings_domain::{AppId, UserId};
    use tidings_store::{InboxStore, ProjectionStore, Write};

    // The test writes bob's inbox beside the projector, which the projector's row cache rules
    // out (it is the only writer of its rows), so this projector reads every row back.
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |config| config.projector.row_cache = 0,
    )
    .await;
    let (mut bob, _) = h.online("bob", 0).await;
    let (mut alice, _) = h.online("alice", 0).await;
    for i in 1..=3 {
        alice
            .send_text(&format!("r{i}"), "bob", &format!("c{i}"), "hi")
            .await;
        assert_eq!(bob.expect("entry").await["seq"], i);
    }
    let app = AppId::parse(h.api.app_key.clone()).unwrap();
    let bob_id = UserId::parse("bob").unwrap();
    let stored = h.store.inbox_after(&app, &bob_id, 0, 10).await.unwrap();

    // Redelivered pushes of entries bob already has: never shown again.
    let nats = h.nats.client().await;
    let subject = tidings_events::subjects::push(&app, &bob_id);
    for entry in [&stored[1], &stored[2], &stored[0]] {
        let payload = rmp_serde::to_vec_named(entry).unwrap();
        nats.publish(subject.clone(), payload.into()).await.unwrap();
    }
    nats.flush().await.unwrap();

    // An entry stored without a push (as if the push were lost): the next push reveals the
    // gap, and the gateway fills it from the store before delivering. Its cursor is an event
    // bob's inbox never saw (carol's registration), so the store takes it as new.
    let (_carol, _) = h.online("carol", 0).await;
    let cursor = last_seq(&async_nats::jetstream::new(nats.clone())).await;
    let tidings_store::EntryItem::Message(mut lost) = stored[2].item.clone() else {
        panic!("a message entry")
    };
    std::sync::Arc::make_mut(&mut lost).conv_seq = 99;
    h.store
        .apply(
            "test-lost-push",
            1,
            vec![
                Write::Timeline {
                    app: app.clone(),
                    ts: 1,
                    message: lost.clone(),
                },
                Write::Deliver {
                    app,
                    user: bob_id,
                    ts: 1,
                    item: tidings_store::EntryItem::Message(lost),
                    cursor,
                },
            ],
        )
        .await
        .unwrap();
    alice.send_text("r5", "bob", "c5", "after the gap").await;
    let fourth = bob.expect("entry").await;
    assert_eq!(
        (fourth["seq"].as_u64(), fourth["conv_seq"].as_u64()),
        (Some(4), Some(99))
    );
    let fifth = bob.expect("entry").await;
    assert_eq!(
        (fifth["seq"].as_u64(), fifth["conv_seq"].as_u64()),
        (Some(5), Some(4))
    );
}
