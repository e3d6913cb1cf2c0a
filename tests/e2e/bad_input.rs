//! Bad input gets the documented error, and the server keeps serving everyone.

use crate::harness::Harness;
use serde_json::json;
use tidings_api::apps::{AppConfig, Apps};
use tidings_api::tokens::Tokens;
use tidings_domain::{AppId, UserId};
use tidings_testkit::WsClient;
use tidings_testkit::server_api::now_secs;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_keeps_working() {
    let h = Harness::start().await;
    h.api.register("bob").await;
    let mut alice = h.connect("alice").await;

    // Missing hello: anything else first is refused, with the request id echoed.
    alice
        .send(
            json!({"t": "send", "id": "early", "to": {"user": "bob"}, "client_msg_id": "e",
                     "body": {"type": "text", "text": "too soon"}}),
        )
        .await;
    let e = alice.expect("error").await;
    assert_eq!(
        (e["id"].as_str(), e["code"].as_str()),
        (Some("early"), Some("invalid_request"))
    );

    alice.hello(0).await;
    alice.until_synced().await;

    alice.send_raw("{not json".into()).await;
    assert_eq!(alice.expect("error").await["code"], "invalid_request");

    alice.send(json!({"t": "teleport", "id": "t1"})).await;
    let e = alice.expect("error").await;
    assert_eq!(
        (e["id"].as_str(), e["code"].as_str()),
        (Some("t1"), Some("invalid_request"))
    );
    assert!(e["message"].as_str().unwrap().contains("teleport"));

    alice
        .send(
            json!({"t": "send", "id": "i1", "to": {"user": "no such user!"}, "client_msg_id": "x",
                     "body": {"type": "text", "text": "hi"}}),
        )
        .await;
    assert_eq!(alice.expect("error").await["code"], "invalid_id");

    let r = alice.send_text("u1", "nobody", "x1", "hi").await;
    assert_eq!(r["code"], "not_found", "{r}");

    let r = alice.send_text("big", "bob", "x2", &"x".repeat(5000)).await;
    assert_eq!(r["code"], "too_large", "{r}");

    // A body is an object: the sequence form serde would also take is refused.
    alice
        .send(
            json!({"t": "send", "id": "arr", "to": {"user": "bob"}, "client_msg_id": "x3",
                     "body": ["custom", {"card": 1}]}),
        )
        .await;
    let e = alice.expect("error").await;
    assert_eq!(
        (e["id"].as_str(), e["code"].as_str()),
        (Some("arr"), Some("invalid_request")),
        "{e}"
    );

    alice.send(json!({"t": "hello", "since": 0})).await;
    assert_eq!(alice.expect("error").await["code"], "invalid_request");

    // Still serving this connection and others.
    let ok = alice.send_text("ok", "bob", "fine", "still here").await;
    assert_eq!(ok["t"], "sent", "{ok}");

    // Oversize frames close the connection with 1009.
    alice.send_raw("x".repeat(70 * 1024)).await;
    let close = loop {
        match alice.next().await {
            // alice's own copy of "still here" may arrive first.
            Ok(frame) => assert_eq!(frame["t"], "entry", "{frame}"),
            Err(code) => break code,
        }
    };
    assert_eq!(close, Some(1009));

    let (mut bob, backlog) = h.online("bob", 0).await;
    assert_eq!(backlog.len(), 1);
    let (mut carol, _) = h.online("carol", 0).await;
    carol.send_text("c", "bob", "c1", "hello").await;
    assert_eq!(bob.expect("entry").await["from"], "carol");
}

#[tokio::test]
async fn bad_signatures_are_refused_with_their_codes() {
    let h = Harness::start().await;
    let body = json!({"user_id": "dave", "name": "Dave"});

    let mut signing = h.api.signing();
    signing.secret = "the wrong secret, clearly".into();
    let r = h.api.post_signed("/v1/users", &body, &signing).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("bad_signature"))
    );

    let mut signing = h.api.signing();
    signing.timestamp = now_secs() - 301;
    let r = h.api.post_signed("/v1/users", &body, &signing).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("stale_timestamp"))
    );

    let mut signing = h.api.signing();
    signing.app_key = "nosuchapp".into();
    let r = h.api.post_signed("/v1/users", &body, &signing).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unknown_app"))
    );

    let signing = h.api.signing();
    let r = h.api.post_signed("/v1/users", &body, &signing).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = h.api.post_signed("/v1/users", &body, &signing).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("replayed_nonce"))
    );

    let r = h
        .api
        .post("/v1/users", &json!({"user_id": "bad id!", "name": "x"}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_id"))
    );
    let r = h.api.post("/v1/users", &json!({"name": "no id"})).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = h.api.post("/v1/users/ghost/token", &json!({})).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );

    // The server still serves correct requests.
    assert_eq!(h.api.register("erin").await.status, 200);
}

#[tokio::test]
async fn bad_tokens_are_refused_before_the_upgrade_and_users_read_only_their_own() {
    let h = Harness::start().await;
    h.api.register("alice").await;
    let tokens = Tokens::new(
        Apps::new(&[AppConfig {
            key: h.api.app_key.clone(),
            secret: h.api.app_secret.clone(),
            messaging: Default::default(),
            max_group_members: tidings_api::apps::DEFAULT_GROUP_CAP,
            max_file_bytes: tidings_api::apps::DEFAULT_FILE_CAP,
            max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
            reaction_keys: Vec::new(),
            recall_window_secs: tidings_api::apps::DEFAULT_RECALL_WINDOW_SECS,
            edit_window_secs: tidings_api::apps::DEFAULT_EDIT_WINDOW_SECS,
        }])
        .unwrap(),
    );
    let app = AppId::parse(h.api.app_key.clone()).unwrap();
    let alice = UserId::parse("alice").unwrap();
    let (expired, _) = tokens.mint(&app, &alice, 0, 60, now_secs() - 3600).unwrap();
    assert_eq!(
        WsClient::connect(&h.base, &expired, false)
            .await
            .err()
            .map(|r| r.0),
        Some(401)
    );
    let r = h.api.get_as(&expired, "/v1/inbox").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unauthorized"))
    );

    let good = h.api.user_token("alice").await;
    let forged = format!("{}x", &good[..good.len() - 1]);
    assert_eq!(
        WsClient::connect(&h.base, &forged, false)
            .await
            .err()
            .map(|r| r.0),
        Some(401)
    );
    assert_eq!(
        WsClient::connect(&h.base, "", false)
            .await
            .err()
            .map(|r| r.0),
        Some(401)
    );

    // bob and carol talk; alice can read neither their conversation nor their inboxes.
    let (mut bob, _) = h.online("bob", 0).await;
    h.api.register("carol").await;
    bob.send_text("1", "carol", "m1", "private").await;
    let r = h
        .api
        .get_as(&good, "/v1/conversations/d~bob~carol/messages")
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = h
        .api
        .get_as(&good, "/v1/conversations/not-a-conv/messages")
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_id"))
    );
    let inbox = h.api.get_as(&good, "/v1/inbox").await;
    assert_eq!(
        inbox.body["entries"],
        json!([]),
        "the inbox is always the caller's own"
    );
    let r = h.api.get_as(&good, "/v1/inbox?limit=501").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    // A query string that does not parse gets the same JSON error on every route.
    for path in [
        "/v1/groups?since=abc",
        "/v1/relations:changed?since=-1",
        "/v1/groups/team/members?limit=abc",
        "/v1/users:changed?since=x",
        "/v1/inbox?after=-5",
        "/v1/friends?since=abc",
    ] {
        let r = h.api.get_as(&good, path).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("invalid_request")),
            "{path}: {}",
            r.body
        );
    }

    // The Origin allowlist refuses foreign browsers.
    let h2 = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |c| c.gateway.allowed_origins = vec!["https://app.example".into()],
    )
    .await;
    let token = h2.api.user_token("alice").await;
    let ws_url = format!("{}/v1/ws?token={token}", h2.base.replacen("http", "ws", 1));
    let mut request = ws_url.clone().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    assert_eq!(
        WsClient::connect_request(request, false)
            .await
            .err()
            .map(|r| r.0),
        Some(403)
    );
    let mut request = ws_url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://app.example".parse().unwrap());
    assert!(WsClient::connect_request(request, false).await.is_ok());
}

#[tokio::test]
async fn a_flooding_connection_is_rate_limited_and_others_are_not() {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |c| {
            c.gateway.frames_per_sec = 1;
            c.gateway.frames_burst = 5;
        },
    )
    .await;
    h.api.register("bob").await;
    let mut alice = h.connect("alice").await;
    alice.hello(0).await;
    alice.until_synced().await;
    // Pipelined, so the eight frames reach the server well within the one-second refill.
    for i in 0..8 {
        alice
            .send(json!({"t": "sync", "id": format!("s{i}"), "after": 0, "limit": 1}))
            .await;
    }
    let mut codes = Vec::new();
    for i in 0..8 {
        let answer = alice.expect_answer(&format!("s{i}")).await;
        codes.push(
            answer["t"].as_str().unwrap().to_owned() + ":" + answer["code"].as_str().unwrap_or(""),
        );
    }
    assert_eq!(codes[..4], ["page:", "page:", "page:", "page:"]);
    assert!(
        codes[5..].iter().all(|c| c == "error:rate_limited"),
        "{codes:?}"
    );
    // Heartbeats are never limited, and other connections are unaffected.
    alice.send(json!({"t": "ping"})).await;
    alice.expect("pong").await;
    let (mut carol, _) = h.online("carol", 0).await;
    assert_eq!(carol.send_text("1", "bob", "m", "hi").await["t"], "sent");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |c| c.gateway.idle_timeout_secs = 1,
    )
    .await;
    let (mut quiet, _) = h.online("quiet", 0).await;
    assert_eq!(quiet.next().await.unwrap_err(), Some(1000));
}

/// A deactivated user is, to everyone else, not found: not messaged, befriended or added.
#[tokio::test]
async fn a_deactivated_user_is_not_found_by_others() {
    let h = Harness::start().await;
    let (mut alice, _) = h.online("alice", 0).await;
    h.api.register("gone").await;
    let r = h.api.post("/v1/users/gone/deactivate", &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let r = alice.send_text("m", "gone", "c1", "hi").await;
    assert_eq!(r["code"], "not_found", "{r}");
    for (id, frame) in [
        ("f", json!({"t": "friend_request", "to": "gone"})),
        (
            "g",
            json!({"t": "group", "group": "team", "op": "create", "name": "Team",
                   "members": ["gone"]}),
        ),
    ] {
        let mut frame = frame;
        frame["id"] = json!(id);
        alice.send(frame).await;
        let r = alice.expect_answer(id).await;
        assert_eq!(
            (r["t"].as_str(), r["code"].as_str()),
            (Some("error"), Some("not_found")),
            "{r}"
        );
    }
}

/// A client frame (masked with a zero key, which RFC 6455 allows) of `opcode` with `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend([0, 0, 0, 0]);
    frame.extend(payload);
    frame
}

/// The 1009 close reaches the client, and the connection then ends cleanly (no reset), even
/// when the client keeps sending after its oversize frame: the server reads and discards what
/// follows instead of dropping a socket with unread input, which resets it. Before, the reset
/// could destroy the close frame before a client read it (the client saw 1006).
#[tokio::test]
async fn the_1009_close_arrives_and_the_connection_ends_cleanly_when_frames_follow() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start().await;
    let token = h.api.user_token("flood").await;
    let addr = h.base.trim_start_matches("http://").to_owned();
    for attempt in 0..5 {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "GET /v1/ws?token={token} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            answer.push(tcp.read_u8().await.unwrap());
        }
        assert!(answer.starts_with(b"HTTP/1.1 101"), "{answer:?}");
        let mut burst = client_frame(1, br#"{"t":"hello","since":0}"#);
        burst.extend(client_frame(1, &vec![b'x'; 70 * 1024]));
        for _ in 0..3 {
            burst.extend(client_frame(1, br#"{"t":"ping"}"#));
        }
        tcp.write_all(&burst).await.unwrap();
        // Read up to the close frame: 0x88, a length under 126, then the code.
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let code = loop {
            let close = received.windows(2).position(|w| w[0] == 0x88 && w[1] < 126);
            if let Some(at) = close.filter(|at| received.len() >= at + 4) {
                break u16::from_be_bytes([received[at + 2], received[at + 3]]);
            }
            match tcp.read(&mut buf).await {
                Ok(0) => panic!("attempt {attempt}: closed without a close frame"),
                Ok(n) => received.extend(&buf[..n]),
                Err(e) => panic!("attempt {attempt}: {e} before the close frame"),
            }
        };
        assert_eq!(code, 1009, "attempt {attempt}");
        // Answer the close as a client does; the server then ends the connection with a FIN.
        tcp.write_all(&client_frame(8, &1009u16.to_be_bytes()))
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: answering the close: {e}"));
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => panic!("attempt {attempt}: {e} after the close frame"),
            }
        }
    }
}
