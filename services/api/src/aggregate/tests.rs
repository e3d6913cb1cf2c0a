//! The repository against a real nats-server: loads, conflicts, re-checked refusals,
//! idempotent retries and snapshots.

use super::*;
use std::time::Duration;
use tidings_domain::UserId;
use tidings_domain::conv::{ConvCommand, ConvState, MessagingPolicy, Receipt, SendMessage};
use tidings_domain::pair::{ChangePair, PairCommand};
use tidings_domain::{Body, BodyLimits, ClientMsgId, ConvId, DomainError, MessageId, Recipient};
use tidings_testkit::TestNats;

struct Nats {
    _server: TestNats,
    js: async_nats::jetstream::Context,
    stream: Stream,
    kv: kv::Store,
}

impl Nats {
    async fn start() -> Self {
        let server = TestNats::start();
        let js = async_nats::jetstream::new(server.client().await);
        tidings_events::definitions::provision(&js, 1)
            .await
            .unwrap();
        let stream = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
        let kv = snapshot::provision(&js, 1).await.unwrap();
        Self {
            _server: server,
            js,
            stream,
            kv,
        }
    }

    /// A repository with an empty cache, as another instance or a restarted one has.
    fn repository(&self) -> Repository<ConvState> {
        Repository::new(self.js.clone(), self.stream.clone(), 100)
    }

    /// A repository writing snapshots at exact intervals (the spread is tested on its own).
    fn snapshotting(&self, every: u64) -> Repository<ConvState> {
        self.repository()
            .with_snapshots(self.kv.clone(), every)
            .without_spread()
    }

    /// The stream sequence of the subject's last event.
    async fn last_seq(&self) -> u64 {
        let subject = subjects::event(&app(), subjects::aggregate::CONV, conv_id().as_str());
        self.stream
            .direct_get_last_for_subject(subject)
            .await
            .unwrap()
            .sequence
    }
}

fn app() -> AppId {
    AppId::parse("app").unwrap()
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn conv_id() -> ConvId {
    ConvId::direct(&user("alice"), &user("bob"))
}

fn send(from: &str, client_msg_id: &str) -> ConvCommand {
    let to = if from == "alice" { "bob" } else { "alice" };
    ConvCommand::Send(SendMessage {
        app: app(),
        from: user(from),
        to: Recipient::User(user(to)),
        client_msg_id: ClientMsgId::parse(client_msg_id).unwrap(),
        body: Body::Text {
            text: format!("{client_msg_id} from {from}"),
        },
        mentions: Vec::new(),
        mention_all: false,
        reply_to: None,
        forward_of: None,
        msg_id: MessageId::parse(uuid::Uuid::now_v7().to_string()).unwrap(),
        ts: chrono::Utc::now().timestamp_millis(),
        limits: BodyLimits::default(),
        policy: MessagingPolicy::Open,
    })
}

fn pair(actor: &str, other: &str, command: PairCommand) -> ConvCommand {
    ConvCommand::Pair(ChangePair {
        app: app(),
        actor: user(actor),
        other: user(other),
        command,
        ts: chrono::Utc::now().timestamp_millis(),
    })
}

/// Sends and answers with the receipt, as `Commands::send` does.
async fn sent(repository: &Repository<ConvState>, from: &str, client_msg_id: &str) -> Receipt {
    let (sender, cmid) = (user(from), ClientMsgId::parse(client_msg_id).unwrap());
    repository
        .execute_then(
            &app(),
            conv_id().as_str(),
            &send(from, client_msg_id),
            |state| state.receipt(&sender, &cmid),
        )
        .await
        .unwrap()
        .value
        .expect("a send leaves its receipt")
}

async fn last_conv_seq(repository: &Repository<ConvState>, fresh: bool) -> u64 {
    repository
        .read(&app(), conv_id().as_str(), fresh, |s| s.last_conv_seq)
        .await
        .unwrap()
}

#[test]
fn aggregate_kinds_are_the_subject_tokens() {
    use tidings_domain::{reads::ReadState, system::SystemState, user::UserState};
    assert_eq!(UserState::KIND, subjects::aggregate::USER);
    assert_eq!(ConvState::KIND, subjects::aggregate::CONV);
    assert_eq!(ReadState::KIND, subjects::aggregate::READS);
    assert_eq!(SystemState::KIND, subjects::aggregate::SYSTEM);
}

#[test]
fn the_idempotency_record_outlasts_the_streams_duplicate_window() {
    // Within the window JetStream drops a re-sent message as a duplicate; were the aggregate to
    // have forgotten it, the retry could neither be recorded nor answered.
    let window = tidings_events::definitions::streams(1)[0].duplicate_window;
    let min = Duration::from_millis(tidings_domain::conv::IDEMPOTENCY_MIN_MS as u64);
    assert!(window * 2 <= min, "{window:?} against {min:?}");
}

#[tokio::test]
async fn a_cold_load_folds_the_subject() {
    let nats = Nats::start().await;
    let writer = nats.repository();
    for i in 0..30 {
        sent(&writer, ["alice", "bob"][i % 2], &format!("m{i}")).await;
    }
    assert_eq!(
        writer.events_folded(),
        0,
        "its own writes are applied, not read back"
    );

    let cold = nats.repository();
    assert_eq!(last_conv_seq(&cold, false).await, 30);
    assert_eq!(cold.events_folded(), 30);
    assert_eq!(last_conv_seq(&cold, false).await, 30);
    assert_eq!(
        cold.events_folded(),
        30,
        "a cached aggregate is not loaded again"
    );
}

#[tokio::test]
async fn a_conflict_between_two_repositories_is_resolved_by_reloading() {
    let nats = Nats::start().await;
    let (one, two) = (nats.repository(), nats.repository());
    assert_eq!(sent(&one, "alice", "a").await.conv_seq, 1);
    assert_eq!(sent(&two, "bob", "b").await.conv_seq, 2);
    // `one` decides on its cached state (conv_seq 1), is refused by JetStream's expected
    // sequence, catches up with `two`'s event and decides again.
    assert_eq!(sent(&one, "alice", "c").await.conv_seq, 3);
    assert_eq!(one.events_folded(), 1, "only the event it missed");
    assert_eq!(last_conv_seq(&two, true).await, 3);
}

#[tokio::test]
async fn a_refusal_on_a_cached_state_is_checked_against_the_subject() {
    let nats = Nats::start().await;
    let (one, two) = (nats.repository(), nats.repository());
    let id = conv_id();
    one.execute(
        &app(),
        id.as_str(),
        &pair("bob", "alice", PairCommand::Block),
    )
    .await
    .unwrap();
    let refused = one
        .execute(&app(), id.as_str(), &send("alice", "x"))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::Blocked);

    two.execute(
        &app(),
        id.as_str(),
        &pair("bob", "alice", PairCommand::Unblock),
    )
    .await
    .unwrap();
    // `one` still caches the block: its refusal is not trusted until it has caught up.
    assert_eq!(sent(&one, "alice", "x").await.conv_seq, 1);

    // And a refusal that holds on the subject's current state stands.
    two.execute(
        &app(),
        id.as_str(),
        &pair("bob", "alice", PairCommand::Block),
    )
    .await
    .unwrap();
    let refused = one
        .execute(&app(), id.as_str(), &send("alice", "y"))
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        ApiError::from(DomainError::Blocked(
            "bob does not accept messages from you".into()
        ))
    );
}

#[tokio::test]
async fn a_retry_of_a_client_msg_id_is_answered_with_the_original_receipt() {
    let nats = Nats::start().await;
    let (one, two) = (nats.repository(), nats.repository());
    assert_eq!(
        last_conv_seq(&two, false).await,
        0,
        "two caches the empty conversation"
    );
    let first = sent(&one, "alice", "same").await;
    assert_eq!(sent(&one, "alice", "same").await, first, "from the cache");
    // `two` decides a new message on its stale state; JetStream drops the copy as a duplicate
    // (same Nats-Msg-Id) and `two` answers from the subject.
    assert_eq!(sent(&two, "alice", "same").await, first);
    assert_eq!(
        sent(&nats.repository(), "alice", "same").await,
        first,
        "cold"
    );
    assert_eq!(
        sent(&one, "bob", "same").await.conv_seq,
        2,
        "another sender's id"
    );
    assert_eq!(nats.last_seq().await, 2, "one event per message");
}

/// Waits (watching its KV key) until the conversation's snapshot covers at least stream
/// sequence `seq`, and returns the sequence it covers.
async fn snapshot_covering(nats: &Nats, seq: u64) -> u64 {
    let key = snapshot::key(ConvState::KIND, &app(), conv_id().as_str());
    let codec = snapshot::Codec::new(nats.stream.cached_info().created.to_string());
    let mut updates = nats.kv.watch_with_history(&key).await.unwrap();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(entry) = updates.next().await {
            let entry = entry.unwrap();
            if let Ok((_, covered)) = codec.decode::<ConvState>(&entry.value)
                && covered >= seq
            {
                return covered;
            }
        }
        panic!("the snapshot watch ended");
    })
    .await;
    found.unwrap_or_else(|_| panic!("no snapshot covering {seq}"))
}

#[tokio::test]
async fn a_cold_load_reads_the_snapshot_and_only_the_events_after_it() {
    let nats = Nats::start().await;
    let writer = nats.snapshotting(100);
    let mut receipts = Vec::new();
    // A snapshot of W ids is written every max(100, W / 2) events: about 100, 200, 400 and
    // 800. The last, written about the 800th message, is the only one past 600, and none is
    // due in the 30 after it.
    for i in 0..800 {
        receipts.push(sent(&writer, ["alice", "bob"][i % 2], &format!("m{i}")).await);
    }
    let covered = snapshot_covering(&nats, 600).await;
    for i in 800..830 {
        receipts.push(sent(&writer, ["alice", "bob"][i % 2], &format!("m{i}")).await);
    }

    let cold = nats.snapshotting(100);
    assert_eq!(last_conv_seq(&cold, false).await, 830);
    assert_eq!(
        cold.events_folded(),
        830 - covered,
        "the snapshot covers the first {covered}"
    );
    // Retries within the horizon stay idempotent across the cold load: the newest messages
    // of each sender, some from the snapshot and some from the events after it.
    for i in [700, 799, 800, 829] {
        let retry = sent(&cold, ["alice", "bob"][i % 2], &format!("m{i}")).await;
        assert_eq!(retry, receipts[i], "retry of m{i}");
    }
    assert_eq!(nats.last_seq().await, 830, "no retry recorded anything");

    // All 830 are within the last ten minutes: every one is still recognised, even those
    // older than the sender's last 128 messages (the domain's tests cover the horizon).
    assert_eq!(sent(&cold, "alice", "m0").await, receipts[0]);
    assert_eq!(nats.last_seq().await, 830, "no retry recorded anything");

    // Without snapshots the same conversation folds every event into the same answers.
    let full = nats.repository();
    assert_eq!(sent(&full, "bob", "m829").await, receipts[829]);
    assert_eq!(full.events_folded(), 830);
}

#[tokio::test]
async fn unusable_snapshots_only_make_the_load_longer() {
    let nats = Nats::start().await;
    let writer = nats.repository();
    for i in 0..20 {
        sent(&writer, "alice", &format!("m{i}")).await;
    }
    let key = snapshot::key(ConvState::KIND, &app(), conv_id().as_str());
    let codec = snapshot::Codec::new(nats.stream.cached_info().created.to_string());

    nats.kv.put(&key, "not a snapshot".into()).await.unwrap();
    let cold = nats.snapshotting(1_000);
    assert_eq!(last_conv_seq(&cold, false).await, 20);
    assert_eq!(cold.events_folded(), 20, "a corrupt snapshot is ignored");

    // A snapshot claiming more than the subject holds (a recreated stream) is ignored too.
    let mut ahead = ConvState::default();
    for i in 0..50 {
        for event in ahead.decide(&send("alice", &format!("x{i}"))).unwrap() {
            ahead.apply(&event);
        }
    }
    let bytes = codec.encode(&ahead, 10_000).unwrap();
    nats.kv.put(&key, bytes.into()).await.unwrap();
    let cold = nats.snapshotting(1_000);
    assert_eq!(last_conv_seq(&cold, false).await, 20);
    assert_eq!(cold.events_folded(), 20);

    // A snapshot of another stream incarnation is ignored.
    let other = snapshot::Codec::new("another stream".into())
        .encode(&ahead, 5)
        .unwrap();
    nats.kv.put(&key, other.into()).await.unwrap();
    let cold = nats.snapshotting(1_000);
    assert_eq!(last_conv_seq(&cold, false).await, 20);
}

#[tokio::test]
async fn a_retry_past_the_horizon_within_the_duplicate_window_is_refused_at_once() {
    let nats = Nats::start().await;
    let writer = nats.repository();
    sent(&writer, "alice", "m0").await;
    let burst = tidings_domain::conv::IDEMPOTENCY_MAX_PER_SENDER;
    for i in 1..=burst {
        sent(&writer, "alice", &format!("m{i}")).await;
    }
    // The aggregate no longer knows m0, but JetStream still drops a second copy as a duplicate:
    // the send can be neither answered nor recorded, and deciding again would change nothing.
    let refused = writer
        .execute(&app(), conv_id().as_str(), &send("alice", "m0"))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::Conflict);
    assert!(
        refused.message.contains("idempotency horizon"),
        "{refused:?}"
    );
    assert_eq!(nats.last_seq().await, burst + 1);
    assert_eq!(
        sent(&writer, "alice", "m1").await.conv_seq,
        2,
        "still remembered"
    );
}

#[tokio::test]
async fn old_messages_are_found_in_the_subject_from_the_mark_below_them() {
    let nats = Nats::start().await;
    let writer = nats.repository();
    let total = tidings_domain::conv::RECENT_FACTS as u64 + 100;
    let mut receipts = Vec::new();
    for i in 0..total {
        receipts.push(sent(&writer, ["alice", "bob"][i as usize % 2], &format!("m{i}")).await);
    }
    // Another instance, cold: the oldest messages are not among its recent facts.
    let reader = nats.repository();
    let (app, conv) = (app(), conv_id());
    for receipt in [&receipts[0], &receipts[300], &receipts[total as usize - 1]] {
        let by_id = crate::facts::by_msg_id(&reader, &app, &conv, &receipt.msg_id)
            .await
            .unwrap()
            .expect("found by msg_id");
        assert_eq!((by_id.conv_seq, by_id.ts), (receipt.conv_seq, receipt.ts));
        let by_seq = crate::facts::by_conv_seq(&reader, &app, &conv, receipt.conv_seq)
            .await
            .unwrap()
            .expect("found by conv_seq");
        assert_eq!(by_seq, by_id);
    }
    let stranger = MessageId::parse(uuid::Uuid::now_v7().to_string()).unwrap();
    let none = crate::facts::by_msg_id(&reader, &app, &conv, &stranger);
    assert_eq!(none.await.unwrap(), None);
    let none = crate::facts::by_conv_seq(&reader, &app, &conv, total + 1);
    assert_eq!(none.await.unwrap(), None);
    let folded = reader.events_folded();
    assert_eq!(
        folded, total,
        "one cold load; the scans read outside the state"
    );
}

#[test]
fn snapshot_intervals_are_spread_per_key_within_half_again() {
    use super::snapshot_interval;
    assert_eq!(snapshot_interval(256, 100, "k", false), 256);
    assert_eq!(snapshot_interval(256, 2_660, "k", false), 1_330);
    let intervals: Vec<u64> = (0..1_000)
        .map(|i| snapshot_interval(256, 2_660, &format!("conv.dev.d=u{i}=v{i}"), true))
        .collect();
    assert!(intervals.iter().all(|&n| (1_330..1_995).contains(&n)));
    let key = "conv.dev.d=u1=v1";
    assert_eq!(
        snapshot_interval(256, 2_660, key, true),
        snapshot_interval(256, 2_660, key, true),
        "fixed per key"
    );
    let low = intervals.iter().filter(|&&n| n < 1_330 + 1_330 / 4).count();
    assert!(
        (350..650).contains(&low),
        "half the keys in each half of the range: {low} of 1,000 low"
    );
}

#[tokio::test]
async fn the_cache_weighs_a_conversation_by_the_entries_it_holds() {
    let nats = Nats::start().await;
    // Snapshots off: the weight comes from the state's entries all the same.
    let writer = nats.repository().with_snapshots(nats.kv.clone(), 0);
    for i in 0..100 {
        sent(&writer, "alice", &format!("m{i}")).await;
    }
    let entries = writer
        .read(&app(), conv_id().as_str(), false, |s| s.snapshot_weight())
        .await
        .unwrap();
    let full = u64::from(slots::units(entries));
    assert!(full >= 8, "100 sends hold ~200 entries: {entries}");
    // Weighed again each time the state doubled: between half and all of its weight now.
    let weighed = writer.cache.weighted_size().await;
    assert!(
        full / 2 <= weighed && weighed <= full,
        "{weighed} of {full}"
    );

    // A cold load is weighed at once for all it loaded.
    let cold = nats.repository().with_snapshots(nats.kv.clone(), 0);
    assert_eq!(last_conv_seq(&cold, true).await, 100);
    assert_eq!(cold.cache.weighted_size().await, full);

    // A cache smaller than the conversation's weight does not keep it.
    let small = Repository::new(nats.js.clone(), nats.stream.clone(), full - 1)
        .with_snapshots(nats.kv.clone(), 0);
    assert_eq!(last_conv_seq(&small, true).await, 100);
    assert_eq!(small.cache.weighted_size().await, 0);
}
