//! WebSocket frames against their JSON Schemas (`schemas/frames/`): a session that sends every
//! client frame type and receives every server frame type, with each frame sent and received
//! checked against its direction's schema. The client schema names exactly the frame types the
//! gateway accepts (`CLIENT_FRAME_TYPES`).

use crate::apps::{admin_of, create, credential};
use crate::harness::Harness;
use jsonschema::Validator;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tidings_gateway::frames::CLIENT_FRAME_TYPES;
use tidings_testkit::WsClient;

fn schema(name: &str) -> (Validator, BTreeSet<String>) {
    let path = format!(
        "{}/../../schemas/frames/{name}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap();
    let types = schema["properties"]["t"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no enum of frame types"))
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let validator =
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{path}: not a schema: {e}"));
    (validator, types)
}

fn check(validator: &Validator, direction: &str, frame: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(frame)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{direction} frame {frame} does not match schemas/frames/{direction}.schema.json: {}",
        errors.join("; ")
    );
}

/// A WebSocket whose every frame, both ways, is checked against the schemas.
struct Checked<'a> {
    ws: WsClient,
    client: &'a Validator,
    server: &'a Validator,
    sent: &'a mut BTreeSet<String>,
    received: &'a mut BTreeSet<String>,
    /// The `kind` of every entry received, in `entry` and `page` frames.
    kinds: &'a mut BTreeSet<String>,
}

impl Checked<'_> {
    async fn send(&mut self, frame: Value) {
        check(self.client, "client", &frame);
        self.sent.insert(frame["t"].as_str().unwrap().to_owned());
        self.ws.send(frame).await;
    }

    /// Reads frames (each checked) up to the first of type `t`.
    async fn until(&mut self, t: &str) -> Value {
        loop {
            let frame = self.until_any().await;
            if frame["t"] == t {
                return frame;
            }
        }
    }

    /// Reads frames (each checked) until entries of every kind in `kinds` have arrived.
    async fn until_kinds(&mut self, kinds: &[&str]) {
        while !kinds.iter().all(|k| self.kinds.contains(*k)) {
            self.until_any().await;
        }
    }

    /// Sends a request and reads up to its answer (the frame echoing `id`).
    async fn ask(&mut self, frame: Value) -> Value {
        let id = frame["id"].clone();
        self.send(frame).await;
        loop {
            let answer = self.until_any().await;
            if answer["id"] == id {
                return answer;
            }
        }
    }

    async fn until_any(&mut self) -> Value {
        let frame = self
            .ws
            .next()
            .await
            .unwrap_or_else(|code| panic!("closed ({code:?}) waiting for a frame"));
        check(self.server, "server", &frame);
        self.received
            .insert(frame["t"].as_str().unwrap_or_default().to_owned());
        let entries = match frame["t"].as_str() {
            Some("entry") => vec![&frame],
            Some("page") => frame["entries"].as_array().unwrap().iter().collect(),
            _ => Vec::new(),
        };
        for entry in entries {
            self.kinds
                .insert(entry["kind"].as_str().unwrap_or_default().to_owned());
        }
        frame
    }
}

/// A frame type the gateway accepts but the schema does not name fails here, and the other way
/// round; the session below then sends every one the schema names.
#[test]
fn the_client_schema_names_every_frame_type_the_gateway_accepts() {
    let (_, schema_types) = schema("client");
    let accepted: BTreeSet<String> = CLIENT_FRAME_TYPES.iter().map(|t| t.to_string()).collect();
    assert!(
        schema_types.is_superset(&accepted),
        "client frame types the gateway accepts but schemas/frames/client.schema.json lacks: {:?}",
        accepted.difference(&schema_types).collect::<Vec<_>>()
    );
    assert!(
        accepted.is_superset(&schema_types),
        "client frame types in schemas/frames/client.schema.json the gateway refuses: {:?}",
        schema_types.difference(&accepted).collect::<Vec<_>>()
    );
}

#[test]
fn the_schemas_refuse_frames_that_break_them() {
    let (client, _) = schema("client");
    let (server, _) = schema("server");
    for frame in [
        json!({ "t": "send", "id": "x" }),
        json!({ "t": "nope" }),
        json!({ "since": 0 }),
        json!({ "t": "ack", "seq": -1 }),
        json!({ "t": "group", "group": "team", "op": "kick" }),
        json!({ "t": "recall", "id": "x", "conv": "d~a~b", "msg_id": "not-a-uuid" }),
        json!({ "t": "clear", "conv": "nope" }),
        json!({ "t": "react", "conv": "d~a~b", "msg_id": "01900000-0000-7000-8000-0000000000ed" }),
    ] {
        assert!(!client.is_valid(&frame), "client schema took {frame}");
    }
    for frame in [
        json!({ "t": "sent", "msg_id": "m" }),
        json!({ "t": "entry", "seq": 1, "ts": 1, "kind": "message" }),
        json!({ "t": "error", "code": "nope", "message": "" }),
        json!({ "t": "entry", "seq": 1, "ts": 1, "kind": "removed", "conv": "d~a~b" }),
        json!({ "t": "hidden", "conv": "d~a~b", "conv_seq": 1 }),
    ] {
        assert!(!server.is_valid(&frame), "server schema took {frame}");
    }
}

#[tokio::test]
async fn every_frame_of_a_session_matches_its_schema() {
    let h = Harness::start().await;
    for user in ["bob", "dave"] {
        assert_eq!(h.api.register(user).await.status, 200);
    }
    let (client, client_types) = schema("client");
    let (server, server_types) = schema("server");
    let (mut sent, mut received, mut kinds) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());

    let mut carol = Checked {
        ws: h.connect("carol").await,
        client: &client,
        server: &server,
        sent: &mut BTreeSet::new(),
        received: &mut BTreeSet::new(),
        kinds: &mut BTreeSet::new(),
    };
    carol.send(json!({ "t": "hello", "since": 0 })).await;
    carol.until("synced").await;

    let mut alice = Checked {
        ws: h.connect("alice").await,
        client: &client,
        server: &server,
        sent: &mut sent,
        received: &mut received,
        kinds: &mut kinds,
    };
    alice
        .send(json!({ "t": "hello", "since": 0, "device": "phone" }))
        .await;
    alice.until("welcome").await;
    alice.until("synced").await;
    alice.send(json!({ "t": "ping" })).await;
    alice.until("pong").await;

    // Presence and typing: carol is online; her typing reaches alice, alice's reaches nobody
    // online (bob has no session).
    alice
        .send(json!({ "t": "presence_subscribe", "users": ["carol"] }))
        .await;
    assert_eq!(alice.until("presence").await["online"], true);
    alice
        .send(json!({ "t": "typing", "conv": "d~alice~bob", "state": "typing" }))
        .await;
    carol
        .send(json!({ "t": "typing", "conv": "d~alice~carol", "state": "paused" }))
        .await;
    assert_eq!(alice.until("typing").await["user"], "carol");

    let sent_frame = alice
        .ask(
            json!({ "t": "send", "id": "s1", "to": { "user": "bob" }, "client_msg_id": "c1",
                     "body": { "type": "text", "text": "hi" } }),
        )
        .await;
    assert_eq!(sent_frame["t"], "sent", "{sent_frame}");
    let entry = alice.until("entry").await;
    alice.send(json!({ "t": "ack", "seq": entry["seq"] })).await;
    alice
        .send(json!({ "t": "read", "conv": "d~alice~bob", "conv_seq": 1 }))
        .await;
    let page = alice
        .ask(json!({ "t": "sync", "id": "p1", "after": 0, "limit": 10 }))
        .await;
    assert_eq!(page["t"], "page", "{page}");

    // Relationships: a request and its cancel, one accepted, one rejected, a friend removed,
    // a block and its undoing.
    for (frame, t) in [
        (
            json!({ "t": "friend_request", "id": "r1", "to": "bob", "note": "hi" }),
            "relation",
        ),
        (
            json!({ "t": "friend_cancel", "id": "r2", "user": "bob" }),
            "relation",
        ),
    ] {
        assert_eq!(alice.ask(frame).await["t"], t);
    }
    let asked = carol
        .ask(json!({ "t": "friend_request", "id": "c1", "to": "alice" }))
        .await;
    assert_eq!(asked["t"], "relation", "{asked}");
    let dave = h.api.user_token("dave").await;
    let r = h
        .api
        .post_as(&dave, "/v1/friends/requests", &json!({ "to": "alice" }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for frame in [
        json!({ "t": "friend_accept", "id": "r3", "user": "carol" }),
        json!({ "t": "friend_reject", "id": "r4", "user": "dave" }),
        json!({ "t": "friend_remove", "id": "r5", "user": "carol" }),
        json!({ "t": "block", "id": "r6", "user": "bob" }),
        json!({ "t": "unblock", "id": "r7", "user": "bob" }),
    ] {
        let answer = alice.ask(frame.clone()).await;
        assert_eq!(answer["t"], "relation", "{frame}: {answer}");
    }

    // Groups, and a refusal.
    for frame in [
        json!({ "t": "group", "id": "g1", "group": "team", "op": "create", "name": "Team",
                "members": ["bob"] }),
        json!({ "t": "group", "id": "g2", "group": "team", "op": "announce", "text": "hello" }),
    ] {
        let answer = alice.ask(frame.clone()).await;
        assert_eq!(answer["t"], "group", "{frame}: {answer}");
    }
    let refused = alice
        .ask(json!({ "t": "friend_accept", "id": "e1", "user": "nobody" }))
        .await;
    assert_eq!(refused["t"], "error", "{refused}");

    // A message edited, reacted to, pinned, answered and forwarded, another recalled, then all
    // removed from alice's own view: one hidden, then the conversation cleared. The live
    // entries of each reach alice's device.
    let conv = "d~alice~bob";
    let first = sent_frame["msg_id"].clone();
    let second = alice
        .ask(
            json!({ "t": "send", "id": "s2", "to": { "user": "bob" }, "client_msg_id": "c2",
                     "body": { "type": "text", "text": "oops" } }),
        )
        .await;
    assert_eq!(second["t"], "sent", "{second}");
    let edited = alice
        .ask(
            json!({ "t": "edit", "id": "m1", "conv": conv, "msg_id": first,
                     "body": { "type": "text", "text": "hi!" }, "expected_edit_seq": 0 }),
        )
        .await;
    assert_eq!(edited["t"], "edited", "{edited}");

    // Reactions and pins on the first message, a reply to it and a forward of it.
    for (frame, t) in [
        (
            json!({ "t": "react", "id": "a1", "conv": conv, "msg_id": first, "key": "+1" }),
            "reacted",
        ),
        (
            json!({ "t": "unreact", "id": "a2", "conv": conv, "msg_id": first, "key": "+1" }),
            "reacted",
        ),
        (
            json!({ "t": "pin", "id": "a3", "conv": conv, "msg_id": first }),
            "pin_set",
        ),
        (
            json!({ "t": "unpin", "id": "a4", "conv": conv, "msg_id": first }),
            "pin_set",
        ),
        (
            json!({ "t": "send", "id": "s3", "to": { "user": "bob" }, "client_msg_id": "c3",
                    "body": { "type": "text", "text": "yes" }, "reply_to": first }),
            "sent",
        ),
        (
            json!({ "t": "send", "id": "s4", "to": { "user": "bob" }, "client_msg_id": "c4",
                    "forward_of": { "conv": conv, "msg_id": first } }),
            "sent",
        ),
    ] {
        let answer = alice.ask(frame.clone()).await;
        assert_eq!(answer["t"], t, "{frame}: {answer}");
    }
    let recalled = alice
        .ask(json!({ "t": "recall", "id": "m2", "conv": conv, "msg_id": second["msg_id"] }))
        .await;
    assert_eq!(recalled["t"], "recalled", "{recalled}");
    let hidden = alice
        .ask(json!({ "t": "hide", "id": "m3", "conv": conv, "conv_seq": 1 }))
        .await;
    assert_eq!(hidden["t"], "hidden", "{hidden}");
    let cleared = alice
        .ask(json!({ "t": "clear", "id": "m4", "conv": conv }))
        .await;
    assert_eq!(cleared["t"], "cleared", "{cleared}");
    assert_eq!(cleared["up_to"], 4, "{cleared}");
    let settings = alice
        .ask(json!({ "t": "settings", "id": "m5", "conv": conv, "pinned": true, "draft": "x" }))
        .await;
    assert_eq!(settings["t"], "settings_set", "{settings}");
    assert_eq!(
        (&settings["pinned"], &settings["draft"]),
        (&json!(true), &json!("x"))
    );
    alice
        .until_kinds(&[
            "edited", "reaction", "pinned", "unpinned", "recalled", "hidden", "cleared", "settings",
        ])
        .await;

    // A catch-up from the start, once the read models hold the clear: the entries about the
    // removed messages read back as `removed` placeholders.
    let mut again = Checked {
        ws: h.connect("alice").await,
        client: &client,
        server: &server,
        sent: &mut sent,
        received: &mut received,
        kinds: &mut kinds,
    };
    again
        .send(json!({ "t": "hello", "since": 0, "min_pos": settings["pos"] }))
        .await;
    again.until("synced").await;
    for kind in [
        "edited", "reaction", "pinned", "unpinned", "recalled", "hidden", "cleared", "removed",
        "settings",
    ] {
        assert!(kinds.contains(kind), "no {kind} entry received: {kinds:?}");
    }

    // A broadcast, at the catch-up of a session that asks for broadcasts.
    let r = h
        .api
        .post(
            "/v1/broadcasts",
            &json!({"body": {"type": "text", "text": "to all"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut listener = Checked {
        ws: h.connect("alice").await,
        client: &client,
        server: &server,
        sent: &mut sent,
        received: &mut received,
        kinds: &mut kinds,
    };
    listener
        .send(json!({ "t": "hello", "since": 0, "broadcasts_since": 0, "min_pos": r.body["pos"] }))
        .await;
    let broadcast = listener.until("broadcast").await;
    assert_eq!(broadcast["body"]["text"], "to all", "{broadcast}");
    assert_eq!(listener.until("synced").await["bseq"], 1);

    // A login replaced under the `single` login policy is told so with `kicked`.
    let admin = admin_of(&h.base, &credential(&h));
    let secret = create(
        &admin,
        json!({"key": "solo", "settings": {"login_policy": "single"}}),
    )
    .await;
    let solo = tidings_testkit::ServerApi::new(&h.base, "solo", &secret);
    let token = solo.user_token("alice").await;
    let mut sessions = Vec::new();
    for device in ["phone", "tablet"] {
        let mut session = Checked {
            ws: WsClient::connect(&h.base, &token, false).await.unwrap(),
            client: &client,
            server: &server,
            sent: &mut BTreeSet::new(),
            received: &mut received,
            kinds: &mut BTreeSet::new(),
        };
        session
            .send(json!({ "t": "hello", "since": 0, "device": device, "platform": "ios" }))
            .await;
        session.until("synced").await;
        sessions.push(session.ws);
    }
    let mut phone = Checked {
        ws: sessions.remove(0),
        client: &client,
        server: &server,
        sent: &mut BTreeSet::new(),
        received: &mut received,
        kinds: &mut BTreeSet::new(),
    };
    let kicked = phone.until("kicked").await;
    assert_eq!(kicked["reason"], "replaced by a newer login", "{kicked}");

    assert_eq!(
        sent, client_types,
        "the session must send every client frame type the schema names, and only those"
    );
    assert!(
        received.is_superset(&server_types),
        "server frame types never received: {:?}",
        server_types.difference(&received).collect::<Vec<_>>()
    );
    assert!(
        server_types.is_superset(&received),
        "server frame types the schema does not name: {:?}",
        received.difference(&server_types).collect::<Vec<_>>()
    );
}

/// MessagePack frames (`?format=msgpack`) carry the same objects, so the same schemas hold.
#[tokio::test]
async fn msgpack_frames_match_the_same_schemas() {
    let h = Harness::start().await;
    assert_eq!(h.api.register("bob").await.status, 200);
    let (client, _) = schema("client");
    let (server, _) = schema("server");
    let token = h.api.user_token("alice").await;
    let (mut sent, mut received) = (BTreeSet::new(), BTreeSet::new());
    let mut alice = Checked {
        ws: WsClient::connect(&h.base, &token, true)
            .await
            .expect("upgrade accepted"),
        client: &client,
        server: &server,
        sent: &mut sent,
        received: &mut received,
        kinds: &mut BTreeSet::new(),
    };
    alice.send(json!({ "t": "hello", "since": 0 })).await;
    alice.until("synced").await;
    alice.send(json!({ "t": "ping" })).await;
    alice.until("pong").await;
    let answer = alice
        .ask(
            json!({ "t": "send", "id": "m1", "to": { "user": "bob" }, "client_msg_id": "m1",
                     "body": { "type": "custom", "data": { "n": [1, 2.5, null] } } }),
        )
        .await;
    assert_eq!(answer["t"], "sent", "{answer}");
    alice.until("entry").await;
    assert!(
        ["welcome", "synced", "pong", "sent", "entry"]
            .iter()
            .all(|t| received.contains(*t)),
        "{received:?}"
    );
}
