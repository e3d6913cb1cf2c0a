//! Starts an all-in-one server on a test nats-server and a temporary data dir.

use std::future::Future;
use std::time::Duration;
use tidings::config::Config;
use tidings::up::Server;
use tidings_store::FjallStore;
use tidings_testkit::{ServerApi, TestNats, WsClient};
use tokio_util::sync::CancellationToken;

/// How often `eventually` re-checks its condition.
const POLL: Duration = Duration::from_millis(20);

/// A running server and what a test needs to talk to it.
pub struct Harness {
    pub nats: TestNats,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub api: ServerApi,
    pub store: FjallStore,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Harness {
    /// A fresh server on a fresh nats-server.
    pub async fn start() -> Self {
        Self::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |_| {}).await
    }

    /// A server on the given nats-server and data dir, with `tweak` applied to its config.
    pub async fn start_on(
        nats: TestNats,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            nats_url: Some(nats.url().to_owned()),
            ..Config::default()
        };
        // The feed tests read the test app's records.
        config.dev_app.feed = true;
        tweak(&mut config);
        let server = Server::build(config).await.expect("server builds");
        let base = format!("http://{}", server.local_addr());
        let api = ServerApi::new(&base, &server.app().key, &server.app().secret);
        let store = server.store().clone();
        let stop = CancellationToken::new();
        let task = tokio::spawn(server.run(stop.clone().cancelled_owned()));
        Self {
            nats,
            dir,
            base,
            api,
            store,
            stop,
            task,
        }
    }

    /// Stops the server cleanly; returns the nats-server and data dir for a restart.
    pub async fn stop(self) -> (TestNats, tempfile::TempDir) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        drop(self.store);
        (self.nats, self.dir)
    }

    /// Registers `user`, mints a token and opens a JSON WebSocket (before `hello`).
    pub async fn connect(&self, user: &str) -> WsClient {
        let token = self.api.user_token(user).await;
        WsClient::connect(&self.base, &token, false)
            .await
            .expect("upgrade accepted")
    }

    /// Connects and says `hello{since}`, reading up to `synced`; returns the client and the
    /// catch-up entries.
    pub async fn online(&self, user: &str, since: u64) -> (WsClient, Vec<serde_json::Value>) {
        let mut ws = self.connect(user).await;
        ws.hello(since).await;
        let entries = ws.until_synced().await;
        (ws, entries)
    }
}

/// How long `eventually` and `until` wait before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `probe` until it yields a value, for at most `limit`; `None` when it never did.
/// Polling a condition, never a fixed sleep, is how tests wait.
pub async fn within<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `probe` until it yields a value, failing after 30 s.
pub async fn until<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(PATIENCE, probe)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Polls `condition` until it holds, failing after 30 s.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let condition = &mut condition;
    until(what, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// The inbox `seq`s of entries, in the order given.
pub fn seqs(entries: &[serde_json::Value]) -> Vec<u64> {
    entries
        .iter()
        .map(|e| e["seq"].as_u64().expect("entry has seq"))
        .collect()
}

/// The app key the command-level tests use.
pub const CMD_APP: &str = "cmd";

/// `n` api instances, each with its own aggregate cache (as `n` gateways would have), over one
/// nats-server, serving the app `CMD_APP`, with `users` registered.
pub async fn api_instances(nats: &TestNats, n: usize, users: &[&str]) -> Vec<tidings_api::Api> {
    let config = tidings_api::Config {
        apps: vec![tidings_api::apps::AppConfig::new(
            CMD_APP,
            "0123456789abcdef0123",
        )],
        ..Default::default()
    };
    let mut apis = Vec::new();
    for _ in 0..n {
        let client = tidings::up::connect_nats(nats.url(), 1).await.unwrap();
        let js = async_nats::jetstream::new(client);
        apis.push(tidings_api::Api::build(&config, js).await.unwrap());
    }
    let app = tidings_domain::AppId::parse(CMD_APP).unwrap();
    for user in users {
        let request = tidings_api::commands::UpsertUserRequest {
            user_id: tidings_domain::UserId::parse(*user).unwrap(),
            name: (*user).into(),
            avatar_url: None,
            extra: None,
        };
        apis[0].commands.upsert_user(&app, request).await.unwrap();
    }
    apis
}

/// A direct text message request.
pub fn text_to(to: &str, client_msg_id: &str, text: &str) -> tidings_api::commands::SendRequest {
    tidings_api::commands::SendRequest {
        to: tidings_domain::Recipient::User(tidings_domain::UserId::parse(to).unwrap()),
        client_msg_id: tidings_domain::ClientMsgId::parse(client_msg_id).unwrap(),
        body: Some(tidings_domain::Body::Text { text: text.into() }),
        mentions: Vec::new(),
        mention_all: false,
        reply_to: None,
        forward_of: None,
    }
}

/// The events stream's last sequence.
pub async fn last_seq(js: &async_nats::jetstream::Context) -> u64 {
    js.get_stream(tidings_events::subjects::EVENTS_STREAM)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .last_sequence
}

/// What the events stream's durable consumer `name` reads: its filter subjects (sorted) and
/// the last stream sequence delivered to it.
pub async fn consumer_reads(
    js: &async_nats::jetstream::Context,
    name: &str,
) -> Option<(Vec<String>, u64)> {
    let events = js
        .get_stream(tidings_events::subjects::EVENTS_STREAM)
        .await
        .ok()?;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        events.get_consumer(name).await.ok()?;
    let info = consumer.info().await.ok()?;
    let mut filters = match info.config.filter_subject.as_str() {
        "" => info.config.filter_subjects.clone(),
        one => vec![one.to_owned()],
    };
    filters.sort();
    Some((filters, info.delivered.stream_sequence))
}

/// The filter subjects consumer `name` reads now (sorted).
pub async fn consumer_filters(
    js: &async_nats::jetstream::Context,
    name: &str,
) -> Option<Vec<String>> {
    consumer_reads(js, name).await.map(|(filters, _)| filters)
}

/// Waits until consumer `name` reads exactly `filters` (in any order).
pub async fn until_reads(js: &async_nats::jetstream::Context, name: &str, filters: &[&str]) {
    let mut wanted: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
    wanted.sort();
    eventually(&format!("{name} reads {wanted:?}"), || async {
        consumer_filters(js, name).await.as_ref() == Some(&wanted)
    })
    .await;
}
