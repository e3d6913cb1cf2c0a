//! The session driven through channels (axum's `testing-websockets` example): frames go in
//! through an mpsc receiver seen as a `Stream`, and come out through an mpsc sender seen as a
//! `Sink`. The store is the embedded one on a temp dir; live entries travel through a real
//! nats-server, published the way the projector publishes them.

use super::*;
use crate::coverage::Coverage;
use crate::hub::Hub;
use serde_json::{Value, json};
use tidings_api::apps::AppConfig;
use tidings_domain::{AppId, ConvId};
use tidings_events::{definitions, headers, subjects};
use tidings_store::{EntryItem, FjallStore, ProjectionStore, ReadReceipt, Write};
use tidings_testkit::TestNats;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

/// The checkpoint key the fixture writes under, as the projector would.
const PROJECTION: &str = "test";
/// The idle timeout of every test session.
const IDLE: Duration = Duration::from_secs(30);
/// Frames a test may send before the session reads them.
const FRAMES_IN_FLIGHT: usize = 64;
/// How long a test waits for the next frame before it fails. Longer than `IDLE`, so a
/// paused-clock test sees the idle close first.
const PATIENCE: Duration = Duration::from_secs(60);

fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn app() -> AppId {
    AppId::parse("demo").unwrap()
}

fn principal() -> Principal {
    Principal {
        app: app(),
        user: user("alice"),
        epoch: 0,
        issued_ms: 0,
    }
}

fn per_sec(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// A nats-server, a store, and what a session shares, for the user `alice`.
struct Fixture {
    _nats: TestNats,
    _dir: tempfile::TempDir,
    client: async_nats::Client,
    store: FjallStore,
    shared: Arc<Shared<FjallStore>>,
    /// Stream sequence of the last event written to the store.
    cursor: u64,
}

impl Fixture {
    async fn start() -> Self {
        Self::with(16, 100, 200).await
    }

    /// A fixture whose connections may fall `push_buffer` live entries behind, and answer
    /// `frames_per_sec` frames per second after a `burst`.
    async fn with(push_buffer: usize, frames_per_sec: u32, burst: u32) -> Self {
        let nats = TestNats::start();
        let client = nats.client().await;
        let js = async_nats::jetstream::new(client.clone());
        definitions::provision(&js, 1).await.unwrap();
        let config = tidings_api::Config {
            apps: vec![AppConfig::new("demo", "0123456789abcdef0123")],
            ..Default::default()
        };
        let api = tidings_api::Api::build(&config, js.clone()).await.unwrap();
        // Sessions are alice's: a token is only minted for a registered user, and her hello
        // registers its device on her subject.
        let alice = tidings_api::commands::UpsertUserRequest {
            user_id: user("alice"),
            name: "alice".into(),
            avatar_url: None,
            extra: None,
        };
        api.commands.upsert_user(&app(), alice).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = FjallStore::open(dir.path()).unwrap();
        let shared = Arc::new(Shared {
            presence: crate::presence::Presence::open(js.clone()).await.unwrap(),
            store: store.clone(),
            commands: api.commands.clone(),
            hub: Hub::new(client.clone(), push_buffer),
            sessions: Default::default(),
            broadcasts: crate::broadcasts::BroadcastHub::new(client.clone()),
            coverage: Arc::new(Coverage::new(
                store.clone(),
                async_nats::jetstream::new(client.clone()),
                vec![PROJECTION.to_owned()],
                Duration::from_millis(100),
            )),
            limits: Limits {
                idle_timeout: IDLE,
                frames_per_sec: per_sec(frames_per_sec),
                burst: per_sec(burst),
            },
            shutdown: CancellationToken::new(),
        });
        Self {
            _nats: nats,
            _dir: dir,
            client,
            store,
            shared,
            cursor: 0,
        }
    }

    /// Writes `n` entries to alice's inbox, as the projector would; returns them with their
    /// `seq`s.
    async fn stored(&mut self, n: usize) -> Vec<Entry> {
        let mut entries = Vec::new();
        for _ in 0..n {
            self.cursor += 1;
            let write = Write::Deliver {
                app: app(),
                user: user("alice"),
                ts: 1_000 + self.cursor as i64,
                item: EntryItem::Read(ReadReceipt {
                    conv: ConvId::direct(&user("alice"), &user("bob")),
                    user: user("bob"),
                    conv_seq: self.cursor,
                }),
                cursor: self.cursor,
            };
            let deliveries = self
                .store
                .apply(PROJECTION, self.cursor, vec![write])
                .await
                .unwrap();
            entries.extend(deliveries.into_iter().map(|d| d.entry));
        }
        entries
    }

    /// Publishes `entries` on alice's live subject, as the projector does after writing them.
    async fn push(&self, entries: &[Entry]) {
        let subject = subjects::push(&app(), &user("alice"));
        for entry in entries {
            let payload = rmp_serde::to_vec_named(entry).unwrap();
            self.client
                .publish(subject.clone(), payload.into())
                .await
                .unwrap();
        }
        self.client.flush().await.unwrap();
    }

    /// Publishes `entries` on alice's live subject in one message, as the projector does
    /// with what one batch delivered to her.
    async fn push_together(&self, entries: &[Entry]) {
        let subject = subjects::push(&app(), &user("alice"));
        let mut kind = async_nats::HeaderMap::new();
        kind.insert(headers::PUSH_KIND, headers::PUSH_KIND_ENTRIES);
        let payload = rmp_serde::to_vec_named(entries).unwrap();
        self.client
            .publish_with_headers(subject, kind, payload.into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
    }

    /// Opens a JSON connection as alice, whose outgoing side holds `out_buffer` frames
    /// before the session waits for the client to read.
    fn connect(&self, out_buffer: usize) -> Conn {
        let (frames, mut incoming) = mpsc::channel::<Incoming>(FRAMES_IN_FLIGHT);
        let (sink, out) = mpsc::channel::<Outgoing>(out_buffer);
        let incoming = futures_util::stream::poll_fn(move |cx| incoming.poll_recv(cx));
        // Admitted without the access check (that needs the user's subject; the end-to-end
        // tests cover it), so a paused clock meets no NATS round trip.
        let registration = self.shared.sessions.register(&principal());
        let task = tokio::spawn(run(
            self.shared.clone(),
            principal(),
            registration,
            Format::Json,
            incoming,
            PollSender::new(sink),
        ));
        Conn {
            frames: Some(frames),
            out,
            task,
        }
    }
}

/// The client's end of a session.
struct Conn {
    frames: Option<mpsc::Sender<Incoming>>,
    out: mpsc::Receiver<Outgoing>,
    task: tokio::task::JoinHandle<()>,
}

impl Conn {
    fn send_raw(&self, incoming: Incoming) {
        let frames = self.frames.as_ref().expect("client still connected");
        frames.try_send(incoming).expect("session still reading");
    }

    /// Returns once the session has taken every frame sent so far.
    async fn all_taken(&self) {
        let frames = self.frames.as_ref().expect("client still connected");
        drop(frames.reserve_many(FRAMES_IN_FLIGHT).await.unwrap());
    }

    fn send(&self, frame: Value) {
        self.send_raw(Incoming::Text(frame.to_string()));
    }

    async fn next(&mut self) -> Outgoing {
        tokio::time::timeout(PATIENCE, self.out.recv())
            .await
            .expect("a frame in time")
            .expect("session still writing")
    }

    /// The next frame, which must be a JSON one.
    async fn frame(&mut self) -> Value {
        match self.next().await {
            Outgoing::Frame(Encoded::Text(text)) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next frame, which must be of type `t`.
    async fn expect(&mut self, t: &str) -> Value {
        let frame = self.frame().await;
        assert_eq!(frame["t"], t, "{frame}");
        frame
    }

    /// The `seq`s of the next `n` frames, which must all be entries.
    async fn entries(&mut self, n: usize) -> Vec<u64> {
        let mut seqs = Vec::new();
        for _ in 0..n {
            let frame = self.expect("entry").await;
            seqs.push(frame["seq"].as_u64().unwrap());
        }
        seqs
    }

    /// Says `hello{since}`; returns the welcome, the catch-up `seq`s and the synced `seq`.
    async fn hello(&mut self, since: u64) -> (Value, Vec<u64>, u64) {
        self.send(json!({"t": "hello", "since": since}));
        let welcome = self.expect("welcome").await;
        let mut seqs = Vec::new();
        loop {
            let frame = self.frame().await;
            match frame["t"].as_str() {
                Some("entry") => seqs.push(frame["seq"].as_u64().unwrap()),
                Some("synced") => return (welcome, seqs, frame["seq"].as_u64().unwrap()),
                _ => panic!("expected entries then synced, got {frame}"),
            }
        }
    }

    /// Pings and expects the pong as the very next frame: nothing else was pending.
    async fn nothing_pending(&mut self) {
        self.send(json!({"t": "ping"}));
        self.expect("pong").await;
    }

    /// The close the session sent, after which it ends.
    async fn closed(mut self) -> (u16, String) {
        let close = match self.next().await {
            Outgoing::Close { code, reason } => (code, reason),
            other => panic!("expected a close, got {other:?}"),
        };
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("session ends after closing")
            .unwrap();
        close
    }
}

#[tokio::test]
async fn hello_catches_up_then_goes_live_without_gap_or_repeat() {
    let mut fx = Fixture::start().await;
    let first = fx.stored(3).await;
    let mut conn = fx.connect(64);

    let (welcome, caught_up, synced) = conn.hello(1).await;
    assert_eq!(welcome["user_id"], "alice");
    assert_eq!(welcome["last_seq"], 3);
    assert_eq!((caught_up, synced), (vec![2, 3], 3));

    // A push of an entry the catch-up already sent is not repeated; the next one goes out.
    let fourth = fx.stored(1).await.remove(0);
    fx.push(&[first[2].clone(), fourth]).await;
    assert_eq!(conn.entries(1).await, [4]);

    // A push past a gap (5 was never pushed) is preceded by the gap, read from the store.
    let later = fx.stored(2).await;
    fx.push(&later[1..]).await;
    assert_eq!(conn.entries(2).await, [5, 6]);
    conn.nothing_pending().await;
}

#[tokio::test]
async fn entries_pushed_together_go_out_in_order_without_repeat_or_gap() {
    let mut fx = Fixture::start().await;
    let first = fx.stored(1).await;
    let mut conn = fx.connect(64);
    let (_, caught_up, _) = conn.hello(0).await;
    assert_eq!(caught_up, [1]);

    let more = fx.stored(2).await;
    fx.push_together(&[first[0].clone(), more[0].clone(), more[1].clone()])
        .await;
    assert_eq!(conn.entries(2).await, [2, 3]);
    // 4 never pushed: read from the store before 5 and 6.
    let later = fx.stored(3).await;
    fx.push_together(&later[1..]).await;
    assert_eq!(conn.entries(3).await, [4, 5, 6]);
    conn.nothing_pending().await;
}

#[tokio::test]
async fn a_connection_that_falls_behind_refills_from_the_store() {
    // One live entry of slack, and a client that reads one frame at a time: the pushes
    // outrun the connection, which must then read what it missed from the store.
    let mut fx = Fixture::with(1, 100, 200).await;
    let mut conn = fx.connect(1);
    let (_, caught_up, synced) = conn.hello(0).await;
    assert_eq!((caught_up, synced), (vec![], 0));

    let entries = fx.stored(40).await;
    fx.push(&entries).await;
    assert_eq!(conn.entries(40).await, (1..=40).collect::<Vec<u64>>());
    conn.nothing_pending().await;
}

#[tokio::test]
async fn a_malformed_frame_is_answered_and_the_session_stays_up() {
    let mut fx = Fixture::start().await;
    fx.stored(2).await;
    let mut conn = fx.connect(64);

    conn.send_raw(Incoming::Text("{nope".into()));
    let error = conn.expect("error").await;
    assert_eq!(error["code"], "invalid_request");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    conn.send(json!({"t": "teleport", "id": "7"}));
    let error = conn.expect("error").await;
    assert_eq!(
        (&error["id"], &error["code"]),
        (&json!("7"), &json!("invalid_request"))
    );

    conn.send_raw(Incoming::Binary(vec![0xc1]));
    let error = conn.expect("error").await;
    assert!(error["message"].as_str().unwrap().contains("MessagePack"));

    // Still up, and still able to say hello afterwards.
    conn.nothing_pending().await;
    let (_, caught_up, synced) = conn.hello(0).await;
    assert_eq!((caught_up, synced), (vec![1, 2], 2));

    conn.send(json!({"t": "sync", "id": "s", "limit": 0}));
    let error = conn.expect("error").await;
    assert_eq!(
        (&error["id"], &error["code"]),
        (&json!("s"), &json!("invalid_request"))
    );
    conn.nothing_pending().await;
}

#[tokio::test]
async fn hello_comes_first_and_only_once() {
    let mut fx = Fixture::start().await;
    fx.stored(3).await;
    let mut conn = fx.connect(64);

    conn.send(json!({"t": "sync", "id": "early"}));
    let error = conn.expect("error").await;
    assert_eq!(error["id"], "early");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("hello must be the first")
    );

    conn.hello(3).await;
    conn.send(json!({"t": "hello", "since": 0}));
    let error = conn.expect("error").await;
    assert!(error["message"].as_str().unwrap().contains("already"));

    conn.send(json!({"t": "sync", "id": "p", "after": 1, "limit": 1}));
    let page = conn.expect("page").await;
    assert_eq!(page["id"], "p");
    assert_eq!(page["last_seq"], 3);
    let paged: Vec<_> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].clone())
        .collect();
    assert_eq!(paged, [json!(2)]);
}

#[tokio::test]
async fn a_send_frame_is_answered_with_its_receipt() {
    let fx = Fixture::start().await;
    for name in ["alice", "bob"] {
        let request = tidings_api::commands::UpsertUserRequest {
            user_id: user(name),
            name: name.into(),
            avatar_url: None,
            extra: None,
        };
        fx.shared
            .commands
            .upsert_user(&app(), request)
            .await
            .unwrap();
    }
    let mut conn = fx.connect(64);
    conn.hello(0).await;
    conn.send(json!({
        "t": "send", "id": "m1", "to": {"user": "bob"}, "client_msg_id": "c1",
        "body": {"type": "text", "text": "hi"},
    }));
    let sent = conn.expect("sent").await;
    assert_eq!(sent["id"], "m1");
    assert_eq!(sent["conv"], "d~alice~bob");
    assert_eq!(sent["conv_seq"], 1);
}

#[tokio::test]
async fn frames_beyond_the_rate_are_refused_but_pings_are_not() {
    let fx = Fixture::with(16, 1, 3).await;
    let mut conn = fx.connect(64);
    // Queued together, so the session reads them within far less than the one second that
    // would earn another frame.
    for i in 0..4 {
        conn.send(json!({"t": "sync", "id": i.to_string()}));
    }
    conn.send(json!({"t": "ping"}));
    for i in 0..3 {
        let error = conn.expect("error").await;
        assert_eq!(
            (&error["id"], &error["code"]),
            (&json!(i.to_string()), &json!("invalid_request"))
        );
    }
    let limited = conn.expect("error").await;
    assert_eq!(
        (&limited["id"], &limited["code"]),
        (&json!("3"), &json!("rate_limited"))
    );
    conn.expect("pong").await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_any_frame_keeps_it_open() {
    let fx = Fixture::start().await;
    // The clock is paused: `advance` moves it, and each frame is taken (and so counted as
    // life) before it moves again.
    tokio::time::pause();
    let mut conn = fx.connect(64);
    for _ in 0..3 {
        tokio::time::advance(IDLE - Duration::from_secs(1)).await;
        // A ping or pong from the socket counts as life, with nothing to answer.
        conn.send_raw(Incoming::Control);
        conn.all_taken().await;
    }
    tokio::time::advance(IDLE - Duration::from_secs(1)).await;
    conn.nothing_pending().await;

    let started = tokio::time::Instant::now();
    let (code, reason) = conn.closed().await;
    assert_eq!((code, reason.as_str()), (1000, "idle timeout"));
    let waited = started.elapsed();
    assert!(
        waited >= IDLE && waited < IDLE + Duration::from_secs(1),
        "{waited:?}"
    );
}

#[tokio::test]
async fn shutdown_closes_every_session_as_going_away() {
    let fx = Fixture::start().await;
    let mut conn = fx.connect(64);
    conn.hello(0).await;
    fx.shared.shutdown.cancel();
    assert_eq!(conn.closed().await, (1001, "server shutting down".into()));
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let fx = Fixture::start().await;
    let conn = fx.connect(64);
    conn.send_raw(Incoming::TooLarge);
    assert_eq!(conn.closed().await, (1009, "frame too large".into()));
}

#[tokio::test]
async fn the_session_ends_when_the_client_leaves() {
    let fx = Fixture::start().await;
    let mut conn = fx.connect(64);
    conn.hello(0).await;
    conn.frames.take();
    tokio::time::timeout(PATIENCE, conn.task)
        .await
        .expect("session ends")
        .unwrap();
}
