//! The projector is a separate `tidings projector` process, SIGKILLed mid-stream and restarted.

use crate::harness::{CMD_APP, api_instances, eventually, last_seq, text_to};
use async_nats::jetstream;
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tidings_domain::{AppId, UserId};
use tidings_events::subjects;
use tidings_store::{EntryItem, FjallStore, InboxStore, ProjectionStore};
use tidings_testkit::TestNats;

/// Sends each sender makes at least, so the projector has work before the kill.
const MIN_PER_SENDER: usize = 50;

/// A `tidings projector` child process, killed when dropped (also when the test fails).
struct ProjectorProcess(Child);

impl ProjectorProcess {
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for ProjectorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_projector(nats: &TestNats, dir: &std::path::Path) -> ProjectorProcess {
    ProjectorProcess(
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["projector", "--data-dir"])
            .arg(dir)
            .env("NATS_URL", nats.url())
            .env("TIDINGS_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("tidings binary runs"),
    )
}

async fn acked_through(js: &jetstream::Context) -> u64 {
    let Ok(stream) = js.get_stream(subjects::EVENTS_STREAM).await else {
        return 0;
    };
    match stream.consumer_info("projector-inbox").await {
        Ok(info) => info.ack_floor.stream_sequence,
        Err(_) => 0,
    }
}

#[tokio::test]
async fn a_killed_projector_restarts_losing_and_duplicating_nothing() {
    let nats = TestNats::start();
    let dir = tempfile::tempdir().unwrap();
    let client = tidings::up::connect_nats(nats.url(), 1).await.unwrap();
    let js = jetstream::new(client.clone());
    let api = api_instances(&nats, 1, &["alice", "bob", "carol"])
        .await
        .remove(0);
    let app = AppId::parse(CMD_APP).unwrap();

    let mut projector = spawn_projector(&nats, dir.path());
    // Senders run until the projector has been killed and restarted, so the kill is always
    // mid-stream however slowly the process starts.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = ["alice", "carol"]
        .into_iter()
        .map(|from| {
            let (commands, app, stop) = (api.commands.clone(), app.clone(), stop.clone());
            tokio::spawn(async move {
                let from = UserId::parse(from).unwrap();
                let mut ids = Vec::new();
                for i in 0.. {
                    if i >= MIN_PER_SENDER && stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let request = text_to("bob", &format!("c{i}"), &format!("{from} {i}"));
                    ids.push(commands.send(&app, &from, request).await.unwrap().msg_id);
                }
                ids
            })
        })
        .collect();

    eventually("the projector makes progress", || async {
        acked_through(&js).await > 20
    })
    .await;
    projector.kill();
    let killed_at = acked_through(&js).await;
    let mut projector = spawn_projector(&nats, dir.path());
    stop.store(true, Ordering::Relaxed);

    let mut sent = HashSet::new();
    let mut per_sender = Vec::new();
    for sender in senders {
        let ids = sender.await.unwrap();
        per_sender.push(ids.len());
        sent.extend(ids);
    }
    let last = last_seq(&js).await;
    assert!(
        killed_at < last,
        "the kill happened mid-stream ({killed_at} < {last})"
    );
    eventually("the restarted projector catches up", || async {
        acked_through(&js).await == last
    })
    .await;
    projector.kill();

    let store = FjallStore::open(&dir.path().join("store")).unwrap();
    assert_eq!(store.checkpoint("inbox").await.unwrap(), last);
    let bob = UserId::parse("bob").unwrap();
    let entries = store.inbox_after(&app, &bob, 0, 1_000_000).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=sent.len() as u64).collect::<Vec<_>>(),
        "bob's inbox is gapless"
    );
    let received: HashSet<_> = entries
        .iter()
        .map(|e| match &e.item {
            EntryItem::Message(m) => m.msg_id.clone(),
            other => panic!("only messages were sent, got {other:?}"),
        })
        .collect();
    assert_eq!(
        received, sent,
        "every acknowledged send reached bob exactly once"
    );
    for (from, count) in ["alice", "carol"].into_iter().zip(per_sender) {
        let user = UserId::parse(from).unwrap();
        let own = store.inbox_after(&app, &user, 0, 1_000_000).await.unwrap();
        assert_eq!(own.len(), count, "{from}'s own inbox");
    }
}
