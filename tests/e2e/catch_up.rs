//! Offline catch-up and the switch to live delivery.

use crate::harness::{Harness, conv_seqs, seqs};

#[tokio::test]
async fn offline_bob_catches_up_then_goes_live_without_gap_or_duplicate() {
    let h = Harness::start().await;
    h.api.register("bob").await;
    let (mut alice, _) = h.online("alice", 0).await;
    for i in 1..=50 {
        let sent = alice
            .send_text(&format!("r{i}"), "bob", &format!("c{i}"), &format!("m{i}"))
            .await;
        assert_eq!(sent["conv_seq"], i, "{sent}");
    }

    // alice keeps sending while bob connects and catches up.
    let sender = tokio::spawn(async move {
        for i in 51..=100 {
            let sent = alice
                .send_text(&format!("r{i}"), "bob", &format!("c{i}"), &format!("m{i}"))
                .await;
            assert_eq!(sent["t"], "sent", "{sent}");
        }
        alice
    });

    let mut bob = h.connect("bob").await;
    bob.hello(0).await;
    let mut entries = Vec::new();
    let mut synced = 0;
    while entries.len() < 100 {
        let frame = bob.next().await.expect("open");
        match frame["t"].as_str().unwrap() {
            "entry" => entries.push(frame),
            "synced" => {
                synced += 1;
                assert_eq!(frame["seq"], entries.len() as u64, "synced covers what was sent");
                assert!(entries.len() >= 50, "the 50 offline messages precede synced");
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    sender.await.unwrap();
    assert_eq!(synced, 1);
    assert_eq!(seqs(&entries), (1..=100).collect::<Vec<_>>());
    assert_eq!(conv_seqs(&entries), (1..=100).collect::<Vec<_>>());

    // A later session resumes where the client left off.
    bob.close().await;
    let (mut bob, missed) = h.online("bob", 60).await;
    assert_eq!(seqs(&missed), (61..=100).collect::<Vec<_>>());
    let (mut carol, _) = h.online("carol", 0).await;
    carol.send_text("x", "bob", "c-x", "live").await;
    let live = bob.expect("entry").await;
    assert_eq!(live["seq"], 101);
    assert_eq!(live["from"], "carol");
}
