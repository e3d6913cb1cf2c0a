//! Two api instances (two caches) write one conversation at once: optimistic concurrency on
//! the conversation's subject keeps `conv_seq` gapless and every send recorded once.

use crate::harness::{CMD_APP, api_instances, text_to};
use std::collections::HashSet;
use tidings_api::commands::Sent;
use tidings_domain::{AppId, UserId};
use tidings_testkit::TestNats;

const EACH: u64 = 150;

#[tokio::test]
async fn concurrent_writers_keep_conv_seq_gapless() {
    let nats = TestNats::start();
    let instances = api_instances(&nats, 2, &["alice", "bob"]).await;
    let app = AppId::parse(CMD_APP).unwrap();

    // Both instances send as alice and bob, interleaved, and each retries one earlier
    // client_msg_id of the other instance to exercise idempotency across caches.
    let tasks: Vec<_> = instances
        .iter()
        .enumerate()
        .flat_map(|(n, api)| {
            ["alice", "bob"].map(|from| {
                let (commands, app) = (api.commands.clone(), app.clone());
                tokio::spawn(async move {
                    let from = UserId::parse(from).unwrap();
                    let to = if from.as_str() == "alice" {
                        "bob"
                    } else {
                        "alice"
                    };
                    let mut results = Vec::new();
                    for i in 0..EACH {
                        let request = text_to(to, &format!("i{n}-{i}"), &format!("{i}"));
                        let sent = commands.send(&app, &from, request).await.unwrap();
                        results.push((from.to_string(), format!("i{n}-{i}"), sent));
                    }
                    results
                })
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }

    let seqs: HashSet<u64> = all.iter().map(|(_, _, s)| s.conv_seq).collect();
    assert_eq!(all.len() as u64, 4 * EACH);
    assert_eq!(
        seqs,
        (1..=4 * EACH).collect(),
        "every send got its own conv_seq, no gaps"
    );

    // A retry through the other instance returns the original receipt (its `pos` is the
    // conversation's position now, which covers the original).
    let (from, cmid, original) = &all[7];
    let retry = instances[1]
        .commands
        .send(
            &app,
            &UserId::parse(from.clone()).unwrap(),
            text_to(if from == "alice" { "bob" } else { "alice" }, cmid, "again"),
        )
        .await
        .unwrap();
    assert!(retry.pos >= original.pos);
    assert_eq!(
        Sent {
            pos: original.pos,
            ..retry
        },
        *original
    );
}

#[tokio::test]
async fn a_cold_instance_loads_a_long_conversation() {
    const LONG: u64 = 2000;
    let nats = TestNats::start();
    let warm = api_instances(&nats, 1, &["alice", "bob"]).await.remove(0);
    let app = AppId::parse(CMD_APP).unwrap();
    let alice = UserId::parse("alice").unwrap();
    let mut early = None;
    for i in 1..=LONG {
        let sent = warm
            .commands
            .send(&app, &alice, text_to("bob", &format!("m{i}"), "x"))
            .await
            .unwrap();
        if i == 5 {
            early = Some(sent);
        }
    }
    // A new instance has nothing cached: its first command loads the whole subject.
    let cold = api_instances(&nats, 1, &[]).await.remove(0);
    let started = std::time::Instant::now();
    let next = cold
        .commands
        .send(&app, &alice, text_to("bob", "next", "y"))
        .await
        .unwrap();
    println!(
        "cold load of {LONG} events and one send: {:?}",
        started.elapsed()
    );
    assert_eq!(next.conv_seq, LONG + 1);
    let retry = cold
        .commands
        .send(&app, &alice, text_to("bob", "m5", "again"))
        .await
        .unwrap();
    let early = early.unwrap();
    assert_eq!(
        Sent {
            pos: early.pos,
            ..retry
        },
        early,
        "an early client_msg_id still gets its receipt"
    );
}
