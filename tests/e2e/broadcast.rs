//! Broadcasts (issue 16 item 6): a system message to every user of an app, or to the users
//! holding a tag, stored once and read-diffused: online users get it live, others at
//! catch-up, and users outside its audience never.

use crate::harness::{Harness, until};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tidings_store::ProjectionStore;
use tidings_store::digest::Table;
use tidings_testkit::WsClient;

/// Says `hello` naming `broadcasts_since`; returns the broadcast frames sent before `synced`
/// and `synced` itself.
async fn hello_with_broadcasts(ws: &mut WsClient, since: u64) -> (Vec<Value>, Value) {
    hello_at(ws, since, 0).await
}

/// Like `hello_with_broadcasts`, once the read models cover `min_pos`.
async fn hello_at(ws: &mut WsClient, since: u64, min_pos: u64) -> (Vec<Value>, Value) {
    ws.send(json!({"t": "hello", "since": 0, "broadcasts_since": since, "min_pos": min_pos}))
        .await;
    ws.expect("welcome").await;
    let mut broadcasts = Vec::new();
    loop {
        let frame = ws.next().await.expect("open connection");
        match frame["t"].as_str() {
            Some("entry") => {}
            Some("broadcast") => broadcasts.push(frame),
            Some("synced") => return (broadcasts, frame),
            _ => panic!("unexpected frame during catch-up: {frame}"),
        }
    }
}

/// The next `broadcast` frame, skipping inbox entries.
async fn next_broadcast(ws: &mut WsClient) -> Value {
    loop {
        let frame = ws.next().await.expect("open connection");
        if frame["t"] == "broadcast" {
            return frame;
        }
        assert_eq!(frame["t"], "entry", "unexpected frame {frame}");
    }
}

async fn broadcast(h: &Harness, tag: Option<&str>, text: &str) -> Value {
    let mut body = json!({"body": {"type": "text", "text": text}});
    if let Some(tag) = tag {
        body["tag"] = json!(tag);
    }
    let r = h.api.post("/v1/broadcasts", &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The rows of one table of the store.
async fn rows(h: &Harness, table: Table) -> usize {
    let mut n = 0;
    h.store.scan(table, &mut |_| n += 1).await.unwrap();
    n
}

#[tokio::test]
async fn a_broadcast_to_everyone_reaches_online_users_live_and_offline_ones_at_catch_up() {
    let h = Harness::start().await;
    let mut alice = h.connect("alice").await;
    let (caught_up, synced) = hello_with_broadcasts(&mut alice, 0).await;
    assert!(caught_up.is_empty());
    assert_eq!(synced["bseq"], 0);
    let bob = h.api.user_token("bob").await;

    let sent = broadcast(&h, None, "maintenance at midnight").await;
    assert_eq!(sent["bseq"], 1);
    assert!(sent["msg_id"].is_string() && sent["pos"].is_u64(), "{sent}");
    assert!(sent.get("tag").is_none());

    // Online: live, as the answer described it.
    let live = next_broadcast(&mut alice).await;
    assert_eq!(
        (&live["bseq"], &live["msg_id"], &live["body"]["text"]),
        (
            &json!(1),
            &sent["msg_id"],
            &json!("maintenance at midnight")
        )
    );

    // Offline: at catch-up, from the broadcast cursor it kept (0 here), then `synced` names
    // the cursor to keep; from that cursor, nothing again.
    let pos = sent["pos"].as_u64().unwrap();
    let mut phone = WsClient::connect(&h.base, &bob, false).await.unwrap();
    let (caught_up, synced) = hello_at(&mut phone, 0, pos).await;
    assert_eq!(caught_up.len(), 1, "{caught_up:?}");
    assert_eq!(caught_up[0]["msg_id"], sent["msg_id"]);
    assert_eq!(synced["bseq"], 1);
    let mut again = WsClient::connect(&h.base, &bob, false).await.unwrap();
    let (caught_up, _) = hello_with_broadcasts(&mut again, 1).await;
    assert!(caught_up.is_empty());

    // REST: the list and the unread count after a cursor.
    let r = h.api.get_as(&bob, "/v1/broadcasts?after=0").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["unread"], 1);
    assert_eq!(r.body["last_bseq"], 1);
    assert_eq!(r.body["broadcasts"][0]["msg_id"], sent["msg_id"]);
    let r = h.api.get_as(&bob, "/v1/broadcasts?after=1").await;
    assert_eq!(
        (&r.body["unread"], &r.body["next_after"]),
        (&json!(0), &json!(1))
    );

    // A user registered after it was sent is not its audience.
    let carol = h.api.user_token("carol").await;
    let registered = h.api.register("carol").await.body["pos"].as_u64().unwrap();
    let r = h
        .api
        .get_as(
            &carol,
            &format!("/v1/broadcasts?after=0&min_pos={registered}"),
        )
        .await;
    assert_eq!(r.body["unread"], 0, "{:?}", r.body);

    // Nothing reached any inbox: the broadcast is one row.
    assert_eq!(rows(&h, Table::Broadcasts).await, 1);
    assert_eq!(rows(&h, Table::Inbox).await, 0);

    // Bad input.
    let r = h
        .api
        .post(
            "/v1/broadcasts",
            &json!({"body": {"type": "text", "text": ""}}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["code"]),
        (400, &json!("invalid_request"))
    );
    let r = h
        .api
        .post(
            "/v1/broadcasts",
            &json!({"tag": "no tags!", "body": {"type": "text", "text": "x"}}),
        )
        .await;
    assert_eq!((r.status, &r.body["code"]), (400, &json!("invalid_id")));
    let r = h.api.get_as(&bob, "/v1/broadcasts?limit=0").await;
    assert_eq!(
        (r.status, &r.body["code"]),
        (400, &json!("invalid_request"))
    );
}

#[tokio::test]
async fn a_tag_broadcast_reaches_only_the_users_holding_the_tag() {
    let h = Harness::start().await;
    let mut alice = h.connect("alice").await;
    hello_with_broadcasts(&mut alice, 0).await;
    let mut bob = h.connect("bob").await;
    hello_with_broadcasts(&mut bob, 0).await;

    // Tags through the server API: set, read back, listed by tag.
    let r = h
        .api
        .post("/v1/users/alice/tags", &json!({"add": ["vip", "beta"]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["tags"], json!(["beta", "vip"]));
    let r = h.api.get("/v1/users/alice/tags").await;
    assert_eq!(r.body, json!({"user_id": "alice", "tags": ["beta", "vip"]}));
    let r = h
        .api
        .post("/v1/users/bob/tags", &json!({"add": ["beta"]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    until("the tag index lists both", || async {
        let r = h.api.get("/v1/tags/beta/users").await;
        (r.body["users"] == json!(["alice", "bob"])).then_some(())
    })
    .await;
    let r = h.api.get("/v1/tags/beta/users?limit=1").await;
    assert_eq!(
        (&r.body["users"], &r.body["next_after"]),
        (&json!(["alice"]), &json!("alice"))
    );
    let r = h.api.get("/v1/tags/beta/users?limit=1&after=alice").await;
    assert_eq!(r.body["users"], json!(["bob"]));
    let r = h.api.get("/v1/tags/vip/users").await;
    assert_eq!(r.body["users"], json!(["alice"]), "{:?}", r.body);

    // To `vip`, then to everyone: bob's first broadcast is the second one.
    let vip = broadcast(&h, Some("vip"), "for our VIPs").await;
    assert_eq!(vip["tag"], "vip");
    let all = broadcast(&h, None, "for everyone").await;
    let first = next_broadcast(&mut alice).await;
    assert_eq!(
        (&first["msg_id"], &first["tag"]),
        (&vip["msg_id"], &json!("vip"))
    );
    assert_eq!(next_broadcast(&mut alice).await["msg_id"], all["msg_id"]);
    assert_eq!(next_broadcast(&mut bob).await["msg_id"], all["msg_id"]);

    // At catch-up likewise.
    let mut phone = h.connect("bob").await;
    let (caught_up, synced) = hello_with_broadcasts(&mut phone, 0).await;
    let ids: Vec<&Value> = caught_up.iter().map(|b| &b["msg_id"]).collect();
    assert_eq!(ids, [&all["msg_id"]]);
    assert_eq!(synced["bseq"], 2);
    let mut tablet = h.connect("alice").await;
    let (caught_up, _) = hello_with_broadcasts(&mut tablet, 0).await;
    assert_eq!(caught_up.len(), 2);

    // A user who loses the tag no longer sees its broadcasts.
    let r = h
        .api
        .post("/v1/users/alice/tags", &json!({"remove": ["vip"]}))
        .await;
    assert_eq!(r.body["tags"], json!(["beta"]));
    let pos = r.body["pos"].as_u64().unwrap();
    let token = h.api.user_token("alice").await;
    let r = h
        .api
        .get_as(&token, &format!("/v1/broadcasts?min_pos={pos}"))
        .await;
    assert_eq!(r.body["unread"], 1, "{:?}", r.body);

    // Bad input.
    for (path, body, status, code) in [
        (
            "/v1/users/alice/tags",
            json!({"add": ["bad tag"]}),
            400,
            "invalid_id",
        ),
        (
            "/v1/users/alice/tags",
            json!({"add": ["x"], "remove": ["x"]}),
            400,
            "invalid_request",
        ),
        (
            "/v1/users/nobody/tags",
            json!({"add": ["x"]}),
            404,
            "not_found",
        ),
        (
            "/v1/users/bad!id/tags",
            json!({"add": ["x"]}),
            400,
            "invalid_id",
        ),
    ] {
        let r = h.api.post(path, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }
    let r = h.api.get("/v1/users/nobody/tags").await;
    assert_eq!((r.status, &r.body["code"]), (404, &json!("not_found")));
    let r = h.api.get("/v1/tags/bad!tag/users").await;
    assert_eq!((r.status, &r.body["code"]), (400, &json!("invalid_id")));
}

#[tokio::test]
async fn a_broadcast_to_ten_thousand_users_is_stored_once() {
    const USERS: usize = 10_000;
    let h = Harness::start().await;
    futures_util::stream::iter(0..USERS)
        .map(|i| {
            let api = &h.api;
            async move {
                let r = api.register(&format!("u{i:05}")).await;
                assert_eq!(r.status, 200, "{:?}", r.body);
                r.body["pos"].as_u64().unwrap()
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<u64>>()
        .await;
    let sent = broadcast(&h, None, "to all ten thousand").await;
    let pos = sent["pos"].as_u64().unwrap();

    // Read back as two of them see it, once the read models cover it.
    for user in ["u00000", "u09999"] {
        let token = h.api.user_token(user).await;
        let r = h
            .api
            .get_as(&token, &format!("/v1/broadcasts?min_pos={pos}"))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["broadcasts"][0]["msg_id"], sent["msg_id"]);
    }

    // One stored copy: one broadcast row, no inbox row, and per user only the registration
    // (its audience row), written before the broadcast.
    assert_eq!(rows(&h, Table::Broadcasts).await, 1);
    assert_eq!(rows(&h, Table::Inbox).await, 0);
    assert_eq!(rows(&h, Table::UserTags).await, USERS);
}
