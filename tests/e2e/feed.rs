//! The public event feed (`TIDINGS_FEED`, `tid.feed.v1.<app>.<kind>`): a workload of every
//! kind yields records that match `schemas/feed/v1/`, in event order; an app server's durable
//! consumer, a consumer started in the middle (by sequence and by time) and one replaying from
//! the start see the same records; and resetting the feed projector (a replay of the whole
//! events stream) publishes nothing twice.

use crate::harness::{Harness, consumer_filters, eventually, until, until_reads};
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tidings_events::subjects;
use tidings_testkit::ServerApi;

/// One record as a consumer saw it: its feed stream sequence, publish time and JSON.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    seq: u64,
    time: time::OffsetDateTime,
    record: Value,
}

fn schemas() -> BTreeMap<String, jsonschema::Validator> {
    let dir = format!("{}/../../schemas/feed/v1", env!("CARGO_MANIFEST_DIR"));
    let mut by_kind = BTreeMap::new();
    for kind in tidings_feed::record::KINDS {
        let text = std::fs::read_to_string(format!("{dir}/{kind}.schema.json")).unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        by_kind.insert(kind.to_owned(), jsonschema::validator_for(&schema).unwrap());
    }
    by_kind
}

/// Checks a record against its kind's schema.
pub(crate) fn check_schema(record: &Value) {
    let schemas = schemas();
    let kind = record["kind"].as_str().expect("a kind");
    let errors: Vec<String> = schemas[kind]
        .iter_errors(record)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{record} against {kind}: {errors:?}");
}

/// Reads `count` records through `consumer`, in order (acknowledging them when it is `durable`).
async fn read(consumer: consumer::PullConsumer, count: usize, durable: bool) -> Vec<Seen> {
    let mut messages = consumer.messages().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < count {
        let message = tokio::time::timeout(std::time::Duration::from_secs(20), messages.next())
            .await
            .expect("a record within 20 s")
            .unwrap()
            .unwrap();
        let info = message.info().unwrap();
        seen.push(Seen {
            seq: info.stream_sequence,
            time: info.published,
            record: serde_json::from_slice(&message.payload).unwrap(),
        });
        if durable {
            message.ack().await.unwrap();
        }
    }
    seen
}

/// An ordered (server-stateless) consumer of `app`'s records from `policy`.
async fn ordered(
    js: &jetstream::Context,
    app: &str,
    policy: consumer::DeliverPolicy,
) -> consumer::PullConsumer {
    let app = tidings_domain::AppId::parse(app).unwrap();
    js.get_stream(subjects::FEED_STREAM)
        .await
        .unwrap()
        .create_consumer(consumer::pull::Config {
            filter_subject: subjects::feed_of(&app),
            deliver_policy: policy,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// How many records the feed stream holds (every app's).
pub(crate) async fn feed_records(js: &jetstream::Context) -> u64 {
    let mut stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    stream.info().await.unwrap().state.messages
}

/// The type of the newest record of `kind` for `app`, if any.
pub(crate) async fn newest_type(js: &jetstream::Context, app: &str, kind: &str) -> Option<String> {
    let app = tidings_domain::AppId::parse(app).unwrap();
    let stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    let message = stream
        .direct_get_last_for_subject(subjects::feed(&app, kind))
        .await
        .ok()?;
    let record: Value = serde_json::from_slice(&message.payload).unwrap();
    record["type"].as_str().map(str::to_owned)
}

/// Something of every feed kind, through the server API, ending with carol's deactivation.
pub(crate) async fn workload(api: &ServerApi) {
    for user in ["alice", "bob", "carol"] {
        assert_eq!(api.register(user).await.status, 200);
    }
    let ok = |r: tidings_testkit::server_api::Reply| {
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    };
    let sent = ok(api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "f1",
                    "body": {"type": "text", "text": "first"}}),
        )
        .await);
    let (conv, msg) = (
        sent["conv"].as_str().unwrap(),
        sent["msg_id"].as_str().unwrap(),
    );
    ok(api
        .post(
            &format!("/v1/server/conversations/{conv}/messages/{msg}/edit"),
            &json!({"actor": "alice", "body": {"type": "text", "text": "first, edited"}}),
        )
        .await);
    ok(api
        .post(
            &format!("/v1/server/conversations/{conv}/messages/{msg}/recall"),
            &json!({}),
        )
        .await);
    ok(api
        .post(
            "/v1/relations/friend",
            &json!({"user": "alice", "other": "carol"}),
        )
        .await);
    ok(api
        .post(
            "/v1/server/groups/team/ops",
            &json!({"actor": "alice", "op": "create", "name": "Team", "members": ["bob"]}),
        )
        .await);
    ok(api
        .post(
            "/v1/server/groups/team/ops",
            &json!({"actor": "alice", "op": "add", "users": ["carol"]}),
        )
        .await);
    ok(api
        .post(
            "/v1/messages",
            &json!({"from": "bob", "to": {"group": "team"}, "client_msg_id": "f2",
                    "body": {"type": "custom", "data": {"n": 2}}}),
        )
        .await);
    ok(api
        .post(
            "/v1/system/messages",
            &json!({"to": ["bob"], "body": {"type": "text", "text": "maintenance"}}),
        )
        .await);
    ok(api.post("/v1/users/carol/deactivate", &json!({})).await);
}

/// Waits for the workload's last record, then says how many records the feed holds.
pub(crate) async fn workload_recorded(js: &jetstream::Context, app: &str) -> usize {
    eventually("the workload's last record is in the feed", || async {
        newest_type(js, app, "user").await.as_deref() == Some("user_deactivated")
    })
    .await;
    feed_records(js).await as usize
}

#[tokio::test]
async fn the_feed_is_consumed_from_the_middle_and_replayed_with_the_same_records() {
    let h = Harness::start().await;
    let app = h.api.app_key.clone();
    let js = jetstream::new(h.nats.client().await);
    workload(&h.api).await;
    let expected = workload_recorded(&js, &app).await;

    // An app server's durable consumer, from the start.
    let stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    let durable = consumer::pull::Config {
        durable_name: Some("my-app-server".into()),
        filter_subject: subjects::feed_of(&tidings_domain::AppId::parse(app.as_str()).unwrap()),
        ..Default::default()
    };
    let consumer = stream
        .get_or_create_consumer("my-app-server", durable.clone())
        .await
        .unwrap();
    let all = read(consumer, expected, true).await;
    for seen in &all {
        check_schema(&seen.record);
        assert_eq!(seen.record["app"], app.as_str());
    }
    let event_seqs: Vec<u64> = all
        .iter()
        .map(|s| s.record["event_seq"].as_u64().unwrap())
        .collect();
    assert!(
        event_seqs.windows(2).all(|w| w[0] < w[1]),
        "records follow event order: {event_seqs:?}"
    );
    let kinds: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|s| s.record["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), tidings_feed::record::KINDS.len(), "{kinds:?}");
    let types: Vec<&str> = all
        .iter()
        .map(|s| s.record["type"].as_str().unwrap())
        .collect();
    for t in [
        "user_registered",
        "message_sent",
        "message_edited",
        "message_recalled",
        "friend_added",
        "group_created",
        "group_members_added",
        "system_message_sent",
        "user_deactivated",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let recalled = all
        .iter()
        .find(|s| s.record["type"] == "message_recalled")
        .unwrap();
    assert_eq!(
        recalled.record["data"]["by"],
        Value::Null,
        "the app server recalled it"
    );

    // The durable consumer resumes where it stopped: nothing more until something happens.
    assert_eq!(
        api_consumer_pending(&js, "my-app-server").await,
        0,
        "the durable consumer acknowledged everything"
    );

    // From the middle, by sequence and by time: the tail of the same records.
    let mid = expected / 2;
    let by_seq = read(
        ordered(
            &js,
            &app,
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: all[mid].seq,
            },
        )
        .await,
        expected - mid,
        false,
    )
    .await;
    assert_eq!(by_seq, all[mid..]);
    let start_time = all[mid].time;
    let by_time = read(
        ordered(
            &js,
            &app,
            consumer::DeliverPolicy::ByStartTime { start_time },
        )
        .await,
        expected - mid,
        false,
    )
    .await;
    assert_eq!(by_time.last(), all.last());
    assert!(
        all.ends_with(&by_time),
        "by time: a tail of the same records"
    );

    // Replayed from the start: the same records.
    let replayed = read(
        ordered(&js, &app, consumer::DeliverPolicy::All).await,
        expected,
        false,
    )
    .await;
    assert_eq!(replayed, all);

    // An operator resets the feed projector (stop, delete its consumer, start): it replays
    // the whole events stream, and publishes nothing twice.
    let (nats, dir) = h.stop().await;
    let js = jetstream::new(nats.client().await);
    let before = feed_records(&js).await;
    let events = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    events.delete_consumer("feed-projector").await.unwrap();
    let last_event = crate::harness::last_seq(&js).await;
    let h = Harness::start_on(nats, dir, |_| {}).await;
    until(
        "the reset feed projector has replayed every event",
        || async {
            let mut c: consumer::PullConsumer = events.get_consumer("feed-projector").await.ok()?;
            let info = c.info().await.ok()?;
            (info.ack_floor.stream_sequence >= last_event).then_some(())
        },
    )
    .await;
    assert_eq!(
        feed_records(&js).await,
        before,
        "a replay publishes nothing twice"
    );

    // And the feed goes on after it.
    let r = h
        .api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "f3",
                    "body": {"type": "text", "text": "after the replay"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let consumer = stream
        .get_or_create_consumer("my-app-server", durable)
        .await
        .unwrap();
    let next = read(consumer, 1, true).await;
    assert_eq!(next[0].record["data"]["body"]["text"], "after the replay");
    assert!(next[0].seq > all.last().unwrap().seq);
}

async fn api_consumer_pending(js: &jetstream::Context, name: &str) -> u64 {
    let stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    let mut c: consumer::PullConsumer = stream.get_consumer(name).await.unwrap();
    c.info().await.unwrap().num_pending
}

/// A child process stopped with SIGTERM at the end of the test, or on a failure half-way.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    fn terminate(mut self) {
        crate::process::signal(self.0.id(), "TERM");
        let exit = self.0.wait().unwrap();
        assert!(exit.success(), "clean exit on SIGTERM, got {exit}");
    }
}

/// A split deployment: `tidings api` records events, `tidings feed` (its own process) turns
/// them into records, and stops cleanly.
#[tokio::test]
async fn tidings_feed_runs_as_its_own_process() {
    let nats = tidings_testkit::TestNats::start();
    let dir = tempfile::tempdir().unwrap();
    let app = tidings::dev_app::load_or_create(dir.path()).unwrap().key;
    // Both processes read the development app's settings from the same file: its feed is on.
    let config = dir.path().join("tidings.toml");
    std::fs::write(&config, "[dev_app]\nfeed = true\n").unwrap();
    let envs = [
        ("NATS_URL", nats.url()),
        ("TIDINGS_DATA_DIR", dir.path().to_str().unwrap()),
        ("TIDINGS_CONFIG", config.to_str().unwrap()),
    ];
    let (api, line) = crate::process::launch(&["api", "--listen", "127.0.0.1:0"], &envs);
    let api = Running(api);
    assert!(line.starts_with("tidings api ready"), "{line}");
    let (feed, line) = crate::process::launch(&["feed"], &envs);
    let feed = Running(feed);
    assert_eq!(line.trim(), "tidings feed ready");

    let client = nats.client().await;
    let answer = client
        .request(
            format!("tid.in.{app}.users.upsert"),
            json!({"user_id": "alice", "name": "Alice"})
                .to_string()
                .into(),
        )
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(answer["version"], 1, "{answer}");
    let js = jetstream::new(client);
    eventually("the feed process records the registration", || async {
        newest_type(&js, &app, "user").await.as_deref() == Some("user_registered")
    })
    .await;
    feed.terminate();
    api.terminate();
}

/// The feed is per app: an app without the `feed` setting has no records (its events are
/// passed over), and turning the setting on publishes the app's events from then on.
#[tokio::test]
async fn only_apps_that_ask_for_the_feed_have_records() {
    let h = Harness::start().await;
    let admin = crate::apps::admin_of(&h.base, &crate::apps::credential(&h));
    let quiet_secret = crate::apps::create(&admin, json!({"key": "quiet"})).await;
    let loud_secret =
        crate::apps::create(&admin, json!({"key": "loud", "settings": {"feed": true}})).await;
    let quiet = ServerApi::new(&h.base, "quiet", &quiet_secret);
    let loud = ServerApi::new(&h.base, "loud", &loud_secret);
    let js = jetstream::new(h.nats.client().await);

    assert_eq!(quiet.register("before").await.status, 200);
    assert_eq!(loud.register("marker").await.status, 200);
    // The projector goes in event order: once loud's later record is out, quiet's earlier
    // event has been passed over.
    eventually("loud's registration is in the feed", || async {
        newest_type(&js, "loud", "user").await.as_deref() == Some("user_registered")
    })
    .await;
    assert_eq!(newest_type(&js, "quiet", "user").await, None);

    let on = admin
        .post("/v1/admin/apps/quiet/settings", &json!({"feed": true}))
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["app"]["settings"]["feed"], true, "{:?}", on.body);
    assert_eq!(quiet.register("after").await.status, 200);
    eventually(
        "quiet's registration after the change is in the feed",
        || async { newest_type(&js, "quiet", "user").await.as_deref() == Some("user_registered") },
    )
    .await;
    let stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    let record = stream
        .direct_get_last_for_subject(subjects::feed(
            &tidings_domain::AppId::parse("quiet").unwrap(),
            "user",
        ))
        .await
        .unwrap();
    let record: Value = serde_json::from_slice(&record.payload).unwrap();
    assert_eq!(record["data"]["user"], "after", "{record}");
}

const FEED_PROJECTOR: &str = "feed-projector";

/// No app asks for the feed: the development app's configuration does not.
fn unfed(config: &mut tidings::config::Config) {
    config.dev_app.feed = false;
}

/// A server where no app asks for the feed, once its feed projector reads app events only.
async fn start_unfed() -> (Harness, jetstream::Context) {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        unfed,
    )
    .await;
    let js = jetstream::new(h.nats.client().await);
    until_reads(&js, FEED_PROJECTOR, &[subjects::ALL_APPS]).await;
    (h, js)
}

#[tokio::test]
async fn with_no_app_asking_the_projector_reads_only_app_events_until_one_does() {
    let (h, js) = start_unfed().await;
    assert_eq!(h.api.register("unfed").await.status, 200);

    // An app created with the feed on: the projector reads every event from the app's next.
    let admin = crate::apps::admin_of(&h.base, &crate::apps::credential(&h));
    let secret =
        crate::apps::create(&admin, json!({"key": "loud", "settings": {"feed": true}})).await;
    let loud = ServerApi::new(&h.base, "loud", &secret);
    assert_eq!(loud.register("first").await.status, 200);
    eventually("loud's registration is in the feed", || async {
        newest_type(&js, "loud", "user").await.as_deref() == Some("user_registered")
    })
    .await;
    assert_eq!(
        consumer_filters(&js, FEED_PROJECTOR).await,
        Some(vec![subjects::ALL_EVENTS.to_owned()])
    );

    // The last app asking stops: back to app events, and loud's later events have no records.
    let off = admin
        .post("/v1/admin/apps/loud/settings", &json!({"feed": false}))
        .await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    until_reads(&js, FEED_PROJECTOR, &[subjects::ALL_APPS]).await;
    assert_eq!(loud.register("second").await.status, 200);
    // On again: records resume from the change, and the one registration in between has none.
    let on = admin
        .post("/v1/admin/apps/loud/settings", &json!({"feed": true}))
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(loud.register("third").await.status, 200);
    let stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    let loud_users = subjects::feed(&tidings_domain::AppId::parse("loud").unwrap(), "user");
    eventually("loud's third registration is in the feed", || async {
        let Ok(last) = stream.direct_get_last_for_subject(&loud_users).await else {
            return false;
        };
        serde_json::from_slice::<Value>(&last.payload).unwrap()["data"]["user"] == "third"
    })
    .await;
    let users = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: loud_users.clone(),
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let users: Vec<Value> = read(users, 2, false)
        .await
        .into_iter()
        .map(|seen| seen.record["data"]["user"].clone())
        .collect();
    assert_eq!(users, [json!("first"), json!("third")]);
    assert_eq!(
        subject_count(&js, &loud_users).await,
        2,
        "none for the second"
    );
    assert_eq!(
        subject_count(&js, "tid.feed.v1.loud.>").await,
        feed_records(&js).await,
        "every record is loud's: nothing of the app that does not ask"
    );
}

/// How many records the feed stream holds on subjects matching `filter`.
async fn subject_count(js: &jetstream::Context, filter: &str) -> u64 {
    let stream = js.get_stream(subjects::FEED_STREAM).await.unwrap();
    let mut subjects = stream.info_with_subjects(filter).await.unwrap();
    let mut count = 0;
    while let Some(entry) = subjects.next().await {
        count += entry.unwrap().1 as u64;
    }
    count
}

#[tokio::test]
async fn a_restart_with_a_configured_app_asking_moves_the_projector_to_every_event_from_then() {
    let (h, js) = start_unfed().await;
    assert_eq!(h.api.register("before").await.status, 200);
    let app = h.api.app_key.clone();

    // The dev app's configuration now asks for the feed: records from the restart on.
    let (nats, dir) = h.stop().await;
    let h = Harness::start_on(nats, dir, |_| {}).await;
    until_reads(&js, FEED_PROJECTOR, &[subjects::ALL_EVENTS]).await;
    assert_eq!(h.api.register("after").await.status, 200);
    eventually(
        "the registration after the restart is in the feed",
        || async { newest_type(&js, &app, "user").await.as_deref() == Some("user_registered") },
    )
    .await;
    let users = subjects::feed(&tidings_domain::AppId::parse(app.clone()).unwrap(), "user");
    assert_eq!(
        subject_count(&js, &users).await,
        1,
        "none for the one before"
    );

    // And back: no app asks, the consumer goes on from its ack floor reading app events only.
    let (nats, dir) = h.stop().await;
    let _h = Harness::start_on(nats, dir, unfed).await;
    until_reads(&js, FEED_PROJECTOR, &[subjects::ALL_APPS]).await;
}

#[tokio::test]
async fn app_events_left_from_before_a_start_that_asks_move_the_projector_at_the_first() {
    let (h, js) = start_unfed().await;
    let app = h.api.app_key.clone();

    // While the feed projector is off, another app's event is recorded.
    let (nats, dir) = h.stop().await;
    let off = |config: &mut tidings::config::Config| {
        unfed(config);
        config.feed.enabled = false;
    };
    let h = Harness::start_on(nats, dir, off).await;
    let admin = crate::apps::admin_of(&h.base, &crate::apps::credential(&h));
    crate::apps::create(&admin, json!({"key": "other"})).await;

    // The configuration now asks for the development app's feed: the projector reads that
    // event first (it is left from before), and moves to every event there.
    let (nats, dir) = h.stop().await;
    let h = Harness::start_on(nats, dir, |_| {}).await;
    until_reads(&js, FEED_PROJECTOR, &[subjects::ALL_EVENTS]).await;
    assert_eq!(h.api.register("fed").await.status, 200);
    eventually("the registration is in the feed", || async {
        newest_type(&js, &app, "user").await.as_deref() == Some("user_registered")
    })
    .await;
}
