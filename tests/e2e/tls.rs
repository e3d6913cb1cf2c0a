//! Outbound HTTPS: a before-send hook and a feed webhook on `https://` URLs are called over
//! TLS, the receiver's certificate checked against the server's `[http] extra_ca_file` (a test
//! CA; the OS store does not know it); a receiver whose certificate does not name the host is
//! refused. The CA and the `localhost`/`127.0.0.1` certificate are under `fixtures/tls/`
//! (`gen.sh` regenerates them).

use crate::apps::{admin_of, create, credential};
use crate::harness::{Harness, until};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tidings_testkit::ServerApi;
use tidings_testkit::server_api::signature;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

const CA_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/e2e/fixtures/tls/ca.pem"
);
const SERVER_CERT: &[u8] = include_bytes!("fixtures/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("fixtures/tls/server.key");
const FEED_SECRET: &str = "tls-feed-secret-0123456789";

/// Accepts TCP connections and completes a TLS handshake on each; connections whose handshake
/// fails (a client refusing the certificate) are dropped.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Call {
    path: &'static str,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    fn on(&self, path: &str) -> Vec<Call> {
        let all = self.0.lock().unwrap();
        all.iter().filter(|c| c.path == path).cloned().collect()
    }
}

/// The before-send hook: rewrites every text so the test sees the hook ran.
async fn hook(State(calls): State<Calls>, headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
    let asked: Value = serde_json::from_slice(&body).unwrap();
    let text = asked["body"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    calls.0.lock().unwrap().push(Call {
        path: "/hook",
        headers,
        body,
    });
    axum::Json(
        json!({"action": "rewrite", "body": {"type": "text", "text": format!("{text} (via tls)")}}),
    )
}

async fn feed(State(calls): State<Calls>, headers: HeaderMap, body: Bytes) -> StatusCode {
    calls.0.lock().unwrap().push(Call {
        path: "/feed",
        headers,
        body,
    });
    StatusCode::NO_CONTENT
}

/// A listener on `ip` that speaks TLS with the test certificate, offering HTTP/2 and HTTP/1.1
/// by ALPN.
async fn https_listener(ip: &str) -> TlsListener {
    tidings_runtime::outbound::install_crypto_provider();
    let certs = CertificateDer::pem_slice_iter(SERVER_CERT)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    TlsListener {
        tcp: TcpListener::bind((ip, 0)).await.unwrap(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

/// Where a local test server listens: plain HTTP (HTTP/1.1 and HTTP/2 prior knowledge), or
/// HTTPS with the test certificate (the server's config must trust [`CA_FILE`]).
pub enum TestListener {
    Plain(TcpListener),
    Tls(TlsListener),
}

impl TestListener {
    pub async fn bind(tls: bool) -> Self {
        if tls {
            Self::Tls(https_listener("127.0.0.1").await)
        } else {
            Self::Plain(TcpListener::bind("127.0.0.1:0").await.unwrap())
        }
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` (a name the certificate carries).
    pub fn base(&self) -> String {
        match self {
            Self::Plain(tcp) => format!("http://{}", tcp.local_addr().unwrap()),
            Self::Tls(tls) => format!("https://localhost:{}", tls.tcp.local_addr().unwrap().port()),
        }
    }

    /// Serves `router` on a task of its own.
    pub fn serve(self, router: Router) {
        match self {
            Self::Plain(tcp) => tokio::spawn(async move { axum::serve(tcp, router).await }),
            Self::Tls(tls) => tokio::spawn(async move { axum::serve(tls, router).await }),
        };
    }
}

/// The server config of a test that calls [`TestListener`]s over TLS.
pub fn trusting_the_test_ca(config: &mut tidings::config::Config) {
    config.http.extra_ca_file = Some(CA_FILE.into());
}

/// An HTTPS receiver on `ip` with the test certificate: `/hook` and `/feed`. Returns its port.
async fn https_receiver(ip: &str, calls: Calls) -> u16 {
    let listener = https_listener(ip).await;
    let port = listener.tcp.local_addr().unwrap().port();
    let router = Router::new()
        .route("/hook", post(hook))
        .route("/feed", post(feed))
        .with_state(calls);
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

fn header<'a>(call: &'a Call, name: &str) -> &'a str {
    call.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn hooks_and_webhooks_are_delivered_over_https() {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        trusting_the_test_ca,
    )
    .await;
    let calls = Calls::default();
    let port = https_receiver("127.0.0.1", calls.clone()).await;
    let admin = admin_of(&h.base, &credential(&h));
    let secret = create(
        &admin,
        json!({"key": "secure", "settings": {
            "before_send": {"url": format!("https://localhost:{port}/hook"), "failure": "closed"},
            "feed_webhook": {"url": format!("https://127.0.0.1:{port}/feed?v=1"),
                             "secret": FEED_SECRET}}}),
    )
    .await;
    let api = ServerApi::new(&h.base, "secure", &secret);
    assert_eq!(api.register("alice").await.status, 200);
    assert_eq!(api.register("bob").await.status, 200);

    // The hook is called over TLS (a failure would refuse the send: `failure: closed`) and
    // its rewrite is what gets recorded.
    let sent = api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "t1",
                    "body": {"type": "text", "text": "hello"}}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let hooked = calls.on("/hook");
    assert_eq!(hooked.len(), 1);
    assert_eq!(header(&hooked[0], "x-app-key"), "secure");
    let timestamp: i64 = header(&hooked[0], "x-timestamp").parse().unwrap();
    assert_eq!(
        header(&hooked[0], "x-signature"),
        signature(
            &secret,
            "POST",
            "/hook",
            timestamp,
            header(&hooked[0], "x-nonce"),
            &hooked[0].body
        ),
        "signed with the app's secret"
    );

    // The feed webhook gets the message's record, signed, over TLS.
    let record = until("the message's feed record over https", || async {
        calls.on("/feed").into_iter().find_map(|call| {
            let record: Value = serde_json::from_slice(&call.body).unwrap();
            (record["type"] == "message_sent").then_some((call, record))
        })
    })
    .await;
    let (call, record) = record;
    let timestamp: i64 = header(&call, "x-timestamp").parse().unwrap();
    assert_eq!(
        header(&call, "x-signature"),
        signature(
            FEED_SECRET,
            "POST",
            "/feed?v=1",
            timestamp,
            header(&call, "x-nonce"),
            &call.body
        )
    );
    assert_eq!(record["app"], "secure");
    assert_eq!(
        record["data"]["body"]["text"], "hello (via tls)",
        "the hook's rewrite was recorded: {record}"
    );

    // A receiver whose certificate does not name the address called (127.0.0.2) is refused:
    // the closed hook fails, and the send with it.
    let stranger = Calls::default();
    let port = https_receiver("127.0.0.2", stranger.clone()).await;
    let secret = create(
        &admin,
        json!({"key": "mismatch", "settings": {
            "before_send": {"url": format!("https://127.0.0.2:{port}/hook"), "failure": "closed"}}}),
    )
    .await;
    let api = ServerApi::new(&h.base, "mismatch", &secret);
    assert_eq!(api.register("alice").await.status, 200);
    assert_eq!(api.register("bob").await.status, 200);
    let refused = api
        .post(
            "/v1/messages",
            &json!({"from": "alice", "to": {"user": "bob"}, "client_msg_id": "t2",
                    "body": {"type": "text", "text": "hello"}}),
        )
        .await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "unavailable");
    assert!(
        stranger.on("/hook").is_empty(),
        "no request went past the handshake"
    );
}
