//! Customer-service accounts (issue 15): a customer writes to a service; the service's agents
//! are assigned by its strategy (sticky, least busy), customers queue when every agent is full
//! and the service account takes one itself; sessions are transferred with their history and
//! closed; a detached agent's customers are requeued; the customer never learns an agent's id;
//! the service queries a customer's messages across agents and by agent; delete-for-me is per
//! side; and a replay rebuilds the same read models. Real sockets, a real nats-server.

use crate::harness::{Harness, eventually, last_seq};
use serde_json::{Value, json};
use std::collections::HashMap;
use tidings_store::ProjectionStore;
use tidings_store::plan::cache::DEFAULT_CAPACITY as CACHE;
use tidings_testkit::WsClient;

/// A service `acme` with its agents, and a token for each user the test acts as.
struct Desk {
    tokens: HashMap<String, String>,
}

impl Desk {
    /// Registers `acme` as a service with `strategy` and attaches `agents` (id, capacity).
    async fn open(h: &Harness, strategy: &str, agents: &[(&str, u32)]) -> Self {
        let mut tokens = HashMap::new();
        tokens.insert("acme".to_owned(), h.api.user_token("acme").await);
        let r = h
            .api
            .post("/v1/server/services/acme", &json!({"strategy": strategy}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["service"]["strategy"], strategy);
        for (agent, capacity) in agents {
            tokens.insert((*agent).to_owned(), h.api.user_token(agent).await);
            let path = format!("/v1/server/services/acme/agents/{agent}");
            let r = h.api.post(&path, &json!({"capacity": capacity})).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        Desk { tokens }
    }

    fn token(&self, user: &str) -> &str {
        &self.tokens[user]
    }

    /// Registers a customer and keeps its token.
    async fn customer(&mut self, h: &Harness, user: &str) {
        self.tokens
            .insert(user.to_owned(), h.api.user_token(user).await);
    }

    /// The service as its account sees it now (agents with loads, the queue).
    async fn view(&self, h: &Harness) -> Value {
        let r = h.api.get_as(self.token("acme"), "/v1/services/acme").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["service"].clone()
    }

    /// Each agent's load, by id.
    async fn loads(&self, h: &Harness) -> HashMap<String, u64> {
        let view = self.view(h).await;
        view["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let id = a["agent"].as_str().unwrap().to_owned();
                (id, a["load"].as_u64().unwrap())
            })
            .collect()
    }

    /// The business side (`by`) writes to `customer`; returns the `sent` answer.
    async fn answer(&self, h: &Harness, by: &str, customer: &str, cmid: &str) -> Value {
        let path = format!("/v1/services/acme/customers/{customer}/messages");
        let body = json!({"client_msg_id": cmid, "body": {"type": "text", "text": cmid}});
        let r = h.api.post_as(self.token(by), &path, &body).await;
        assert_eq!(r.status, 200, "{by} answering {customer}: {:?}", r.body);
        r.body
    }

    /// `by` acts on `customer`'s session (`take`, `transfer`, `close`); returns the reply.
    async fn act(&self, h: &Harness, by: &str, customer: &str, action: &str, body: Value) -> Value {
        let path = format!("/v1/services/acme/customers/{customer}/{action}");
        let r = h.api.post_as(self.token(by), &path, &body).await;
        assert_eq!(r.status, 200, "{by} {action} {customer}: {:?}", r.body);
        r.body
    }

    /// The service account's history of `customer` (optionally one agent's), once the read
    /// models cover `pos`: every page followed, `limit` a page.
    async fn history(
        &self,
        h: &Harness,
        customer: &str,
        agent: Option<&str>,
        pos: u64,
    ) -> Vec<Value> {
        let mut messages = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut path =
                format!("/v1/services/acme/customers/{customer}/messages?limit=2&min_pos={pos}");
            if let Some(agent) = agent {
                path.push_str(&format!("&agent={agent}"));
            }
            if let Some(before) = before {
                path.push_str(&format!("&before={before}"));
            }
            let r = h.api.get_as(self.token("acme"), &path).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            messages.extend(r.body["messages"].as_array().unwrap().iter().cloned());
            match r.body["next_before"].as_u64() {
                Some(next) => before = Some(next),
                None => return messages,
            }
        }
    }
}

/// A customer writes to the service over its WebSocket; returns the `sent` frame.
async fn write(ws: &mut WsClient, id: &str) -> Value {
    ws.send(json!({
        "t": "send", "id": id, "to": {"service": "acme"}, "client_msg_id": id,
        "body": {"type": "text", "text": id}
    }))
    .await;
    let sent = ws.expect_answer(id).await;
    assert_eq!(sent["t"], "sent", "{sent}");
    sent
}

/// `user`'s history of `conv` (newest first) once the read models cover `pos`.
async fn history_of(h: &Harness, token: &str, conv: &str, pos: u64) -> Vec<Value> {
    let path = format!("/v1/conversations/{conv}/messages?limit=100&min_pos={pos}");
    let r = h.api.get_as(token, &path).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["messages"].as_array().unwrap().clone()
}

/// Every agent id (or `agent` key) anywhere in `value`.
fn agents_named(value: &Value, named: &mut Vec<String>) {
    match value {
        Value::String(s) if ["a1", "a2", "a3"].contains(&s.as_str()) => named.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| agents_named(v, named)),
        Value::Object(fields) => {
            for (key, v) in fields {
                if key == "agent" {
                    named.push(key.clone());
                }
                agents_named(v, named);
            }
        }
        _ => {}
    }
}

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["conv_seq"].as_u64().unwrap())
        .collect()
}

/// The service-session notices among `user`'s inbox entries, as (customer, change, agent).
async fn notices(h: &Harness, token: &str, pos: u64) -> Vec<(String, String, Value)> {
    let r = h
        .api
        .get_as(token, &format!("/v1/inbox?limit=100&min_pos={pos}"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "service_session")
        .map(|e| {
            let customer = e["customer"].as_str().unwrap().to_owned();
            (
                customer,
                e["change"].as_str().unwrap().to_owned(),
                e.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn least_busy_spreads_customers_a_full_service_queues_and_the_service_takes_one() {
    let h = Harness::start().await;
    let mut desk = Desk::open(&h, "least_busy", &[("a1", 1), ("a2", 1), ("a3", 1)]).await;
    let mut customers = Vec::new();
    for c in ["c1", "c2", "c3", "c4"] {
        desk.customer(&h, c).await;
        let (ws, _) = h.online(c, 0).await;
        customers.push(ws);
    }
    for (i, ws) in customers.iter_mut().enumerate().take(3) {
        let sent = write(ws, &format!("hello{i}")).await;
        assert_eq!(sent["conv"], format!("s~acme~c{}", i + 1));
    }
    let loads = desk.loads(&h).await;
    assert_eq!(
        (loads["a1"], loads["a2"], loads["a3"]),
        (1, 1, 1),
        "one customer each"
    );

    // Everyone is full: the fourth customer waits, and the business side sees where.
    let sent = write(&mut customers[3], "waiting").await;
    let pos = sent["pos"].as_u64().unwrap();
    assert_eq!(desk.view(&h).await["queue"], json!(["c4"]));
    let queued = notices(&h, desk.token("acme"), pos).await;
    let (_, _, notice) = queued
        .iter()
        .find(|(c, change, _)| c == "c4" && change == "queued")
        .expect("the service hears of the queued customer");
    assert_eq!(notice["position"], 1);

    // The service account takes the customer itself and answers.
    let taken = desk.act(&h, "acme", "c4", "take", json!({})).await;
    assert_eq!(taken["session"]["agent"], "acme");
    assert_eq!(desk.view(&h).await["queue"], json!([]));
    let answered = desk.answer(&h, "acme", "c4", "how-can-we-help").await;
    // The live entry: frames come in order, with a timeout each.
    let entry = loop {
        let frame = customers[3].next().await.expect("open connection");
        if frame["kind"] == "message" && frame["conv_seq"] == answered["conv_seq"] {
            break frame;
        }
    };
    assert_eq!(entry["from"], "acme");
    assert!(entry.get("agent").is_none(), "{entry}");
    // An agent of another customer may not answer this one.
    let path = "/v1/services/acme/customers/c4/messages";
    let body = json!({"client_msg_id": "x", "body": {"type": "text", "text": "x"}});
    let r = h.api.post_as(desk.token("a1"), path, &body).await;
    assert_eq!((r.status, &r.body["code"]), (403, &json!("forbidden")));
}

#[tokio::test]
async fn sticky_returns_a_customer_to_their_agent_and_a_transfer_keeps_the_history_private() {
    let h = Harness::start().await;
    let mut desk = Desk::open(&h, "sticky", &[("a1", 2), ("a2", 2), ("a3", 2)]).await;
    for c in ["c1", "c2"] {
        desk.customer(&h, c).await;
    }
    let (mut c1, _) = h.online("c1", 0).await;
    let (mut c2, _) = h.online("c2", 0).await;
    write(&mut c1, "q1").await;
    assert_eq!(desk.loads(&h).await["a1"], 1, "least busy first: a1");
    desk.answer(&h, "a1", "c1", "r1").await;
    desk.act(&h, "a1", "c1", "close", json!({})).await;
    write(&mut c2, "other").await;
    let loads = desk.loads(&h).await;
    assert_eq!(loads["a1"], 1, "c2 went to a1 (all free: the smallest id)");
    // c1 comes back: a new session, and sticky sends them to a1 although a2 is less busy.
    let sent = write(&mut c1, "q2").await;
    let path = "/v1/services/acme";
    let r = h.api.get_as(desk.token("a1"), path).await;
    assert_eq!(r.body["service"]["agents"][0]["load"], 2, "{:?}", r.body);
    let history = desk
        .history(&h, "c1", None, sent["pos"].as_u64().unwrap())
        .await;
    assert_eq!(history[0]["session"], 2);
    assert_eq!(history[0]["agent"], "a1");

    // a1 hands the session to a2 with a note; a2 hears of it and reads the whole history.
    let moved = desk
        .act(
            &h,
            "a1",
            "c1",
            "transfer",
            json!({"to": "a2", "note": "billing"}),
        )
        .await;
    assert_eq!(moved["session"]["agent"], "a2");
    let pos = moved["pos"].as_u64().unwrap();
    let heard = notices(&h, desk.token("a2"), pos).await;
    let (_, _, notice) = heard
        .iter()
        .find(|(c, change, _)| c == "c1" && change == "transferred")
        .expect("a2 hears of the transfer");
    assert_eq!(
        (&notice["from"], &notice["note"]),
        (&json!("a1"), &json!("billing"))
    );
    let seen_by_a2 = history_of(&h, desk.token("a2"), "s~acme~c1", pos).await;
    assert_eq!(
        seqs(&seen_by_a2),
        [3, 2, 1],
        "earlier agents' messages included"
    );
    assert_eq!(seen_by_a2[1]["from"], "a1");
    let last = desk.answer(&h, "a2", "c1", "r2").await;
    let pos = last["pos"].as_u64().unwrap();
    let r = h
        .api
        .get_as(
            desk.token("a2"),
            &format!("/v1/conversations?min_pos={pos}"),
        )
        .await;
    let row = r.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["conv"] == "s~acme~c1")
        .cloned()
        .expect("a2 has the conversation");
    assert_eq!(row["peer"], "c1", "the agent's contact is the customer");

    // The customer: every read and push shows the service, never an agent.
    let c1_token = h.api.user_token("c1").await;
    let mine = history_of(&h, &c1_token, "s~acme~c1", pos).await;
    assert_eq!(seqs(&mine), [4, 3, 2, 1]);
    let r = h
        .api
        .get_as(&c1_token, &format!("/v1/conversations?min_pos={pos}"))
        .await;
    let rows = r.body["conversations"].clone();
    assert_eq!(rows[0]["peer"], "acme");
    let (_, caught_up) = h.online("c1", 0).await;
    let inbox = h
        .api
        .get_as(&c1_token, &format!("/v1/inbox?min_pos={pos}"))
        .await
        .body;
    for (what, seen) in [
        ("history", json!(mine)),
        ("conversations", rows),
        ("catch-up", json!(caught_up)),
        ("inbox", inbox),
    ] {
        let mut named = Vec::new();
        agents_named(&seen, &mut named);
        assert!(named.is_empty(), "{what} names {named:?}: {seen}");
    }
    assert!(
        mine.iter()
            .all(|m| m["from"] == "c1" || m["from"] == "acme")
    );
}

#[tokio::test]
async fn the_service_queries_by_customer_and_by_agent_and_removals_stay_on_one_side() {
    let h = Harness::start().await;
    let mut desk = Desk::open(&h, "least_busy", &[("a1", 3), ("a2", 3)]).await;
    desk.customer(&h, "c1").await;
    let (mut c1, _) = h.online("c1", 0).await;
    write(&mut c1, "q1").await; // 1, a1
    desk.answer(&h, "a1", "c1", "r1").await; // 2
    desk.act(&h, "a1", "c1", "transfer", json!({"to": "a2"}))
        .await;
    write(&mut c1, "q2").await; // 3, a2
    let sent = desk.answer(&h, "a2", "c1", "r2").await; // 4
    let pos = sent["pos"].as_u64().unwrap();

    let all = desk.history(&h, "c1", None, pos).await;
    assert_eq!(
        seqs(&all),
        [4, 3, 2, 1],
        "across agents, paged two at a time"
    );
    let agents: Vec<&str> = all.iter().map(|m| m["agent"].as_str().unwrap()).collect();
    assert_eq!(agents, ["a2", "a2", "a1", "a1"]);
    assert_eq!(seqs(&desk.history(&h, "c1", Some("a1"), pos).await), [2, 1]);
    assert_eq!(seqs(&desk.history(&h, "c1", Some("a2"), pos).await), [4, 3]);
    // Only the business side may query.
    let c1_token = desk.token("c1").to_owned();
    let r = h
        .api
        .get_as(&c1_token, "/v1/services/acme/customers/c1/messages")
        .await;
    assert_eq!((r.status, &r.body["code"]), (403, &json!("forbidden")));

    // Delete for me, on each side: the other side keeps the message.
    let r = h
        .api
        .post_as(
            &c1_token,
            "/v1/conversations/s~acme~c1/hide",
            &json!({"conv_seq": 2}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = h
        .api
        .post_as(
            desk.token("a2"),
            "/v1/conversations/s~acme~c1/hide",
            &json!({"conv_seq": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pos = r.body["pos"].as_u64().unwrap();
    assert_eq!(
        seqs(&history_of(&h, &c1_token, "s~acme~c1", pos).await),
        [4, 3, 1]
    );
    assert_eq!(
        seqs(&history_of(&h, desk.token("a2"), "s~acme~c1", pos).await),
        [4, 2, 1]
    );
    assert_eq!(
        seqs(&history_of(&h, desk.token("acme"), "s~acme~c1", pos).await),
        [4, 3, 2, 1]
    );
    // Someone outside the conversation cannot read or hide in it.
    let stranger = h.api.user_token("mallory").await;
    let r = h
        .api
        .post_as(
            &stranger,
            "/v1/conversations/s~acme~c1/hide",
            &json!({"conv_seq": 1}),
        )
        .await;
    assert_eq!((r.status, &r.body["code"]), (403, &json!("forbidden")));
    let r = h
        .api
        .get_as(&stranger, "/v1/conversations/s~acme~c1/messages")
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
}

#[tokio::test]
async fn detaching_an_agent_requeues_its_customers() {
    let h = Harness::start().await;
    let mut desk = Desk::open(&h, "round_robin", &[("a1", 1), ("a2", 1)]).await;
    let mut sockets = Vec::new();
    for c in ["c1", "c2", "c3"] {
        desk.customer(&h, c).await;
        let (mut ws, _) = h.online(c, 0).await;
        write(&mut ws, "hi").await;
        sockets.push(ws);
    }
    let view = desk.view(&h).await;
    assert_eq!(view["queue"], json!(["c3"]));

    // a1 leaves mid-session: its customer waits behind c3.
    let r = h
        .api
        .post("/v1/server/services/acme/agents/a1/detach", &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["service"]["queue"], json!(["c3", "c1"]));
    let pos = r.body["pos"].as_u64().unwrap();
    let heard = notices(&h, desk.token("acme"), pos).await;
    assert!(
        heard
            .iter()
            .any(|(c, change, _)| c == "c1" && change == "requeued")
    );
    let path = "/v1/services/acme/customers/c1/messages";
    let body = json!({"client_msg_id": "late", "body": {"type": "text", "text": "late"}});
    let r = h.api.post_as(desk.token("a1"), path, &body).await;
    assert_eq!(
        r.status, 403,
        "a detached agent no longer answers: {:?}",
        r.body
    );

    // a2 closes its session: the first in line (c3) is assigned, then a new agent takes c1.
    let closed = desk.act(&h, "a2", "c2", "close", json!({})).await;
    assert!(closed["session"]["session"].is_null());
    assert_eq!(desk.view(&h).await["queue"], json!(["c1"]));
    let r = h
        .api
        .post(
            "/v1/server/services/acme/agents/a3/availability",
            &json!({"available": true}),
        )
        .await;
    assert_eq!(r.status, 404, "a3 is not attached yet: {:?}", r.body);
    h.api.register("a3").await;
    let r = h
        .api
        .post(
            "/v1/server/services/acme/agents/a3",
            &json!({"capacity": 2}),
        )
        .await;
    assert_eq!(r.body["service"]["queue"], json!([]), "{:?}", r.body);
    let loads = desk.loads(&h).await;
    assert_eq!((loads["a2"], loads["a3"]), (1, 1));
    // An agent going away takes no new customers.
    let a3 = h.api.user_token("a3").await;
    let r = h
        .api
        .post_as(
            &a3,
            "/v1/services/acme/availability",
            &json!({"available": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    desk.customer(&h, "c4").await;
    let (mut c4, _) = h.online("c4", 0).await;
    write(&mut c4, "hi").await;
    assert_eq!(desk.view(&h).await["queue"], json!(["c4"]));
}

#[tokio::test]
async fn bad_service_requests_are_refused_clearly() {
    let h = Harness::start().await;
    let mut desk = Desk::open(&h, "sticky", &[("a1", 1)]).await;
    desk.customer(&h, "c1").await;
    let (mut c1, _) = h.online("c1", 0).await;
    for (frame, code) in [
        (
            json!({"t": "send", "id": "1", "to": {"service": "nobody"}, "client_msg_id": "1",
                   "body": {"type": "text", "text": "x"}}),
            "not_found",
        ),
        (
            json!({"t": "send", "id": "2", "to": {"service": "acme"}, "client_msg_id": "2",
                   "body": {"type": "text", "text": "x"}, "mentions": ["a1"]}),
            "invalid_request",
        ),
    ] {
        c1.send(frame.clone()).await;
        let answer = c1.expect_answer(frame["id"].as_str().unwrap()).await;
        assert_eq!(answer["code"], code, "{answer}");
    }
    for (path, body, status) in [
        (
            "/v1/server/services/acme",
            json!({"strategy": "fastest"}),
            400,
        ),
        (
            "/v1/server/services/acme/agents/a1",
            json!({"capacity": 0}),
            400,
        ),
        (
            "/v1/server/services/acme/agents/acme",
            json!({"capacity": 1}),
            400,
        ),
        (
            "/v1/server/services/acme/agents/ghost",
            json!({"capacity": 1}),
            404,
        ),
    ] {
        let r = h.api.post(path, &body).await;
        assert_eq!(r.status, status, "{path}: {:?}", r.body);
        assert!(r.body["message"].is_string(), "{:?}", r.body);
    }
    let r = h
        .api
        .post_as(
            desk.token("a1"),
            "/v1/services/acme/customers/c1/take",
            &json!({}),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "only the service account takes: {:?}",
        r.body
    );
    let r = h
        .api
        .post_as(
            desk.token("acme"),
            "/v1/services/acme/customers/c1/close",
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "closing nothing is a no-op: {:?}", r.body);
}

#[tokio::test]
async fn a_replay_rebuilds_the_service_read_models() {
    let h = Harness::start().await;
    let mut desk = Desk::open(&h, "sticky", &[("a1", 1), ("a2", 1)]).await;
    for c in ["c1", "c2", "c3"] {
        desk.customer(&h, c).await;
        let (mut ws, _) = h.online(c, 0).await;
        write(&mut ws, "hi").await;
    }
    desk.answer(&h, "a1", "c1", "r1").await;
    desk.act(&h, "acme", "c3", "take", json!({})).await;
    desk.act(
        &h,
        "a1",
        "c1",
        "transfer",
        json!({"to": "acme", "note": "vip"}),
    )
    .await;
    desk.act(&h, "a2", "c2", "close", json!({})).await;
    let r = h
        .api
        .post_as(
            desk.token("c1"),
            "/v1/conversations/s~acme~c1/hide",
            &json!({"conv_seq": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = h
        .api
        .post("/v1/server/services/acme/agents/a2/detach", &json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let client = async_nats::connect(h.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let last = last_seq(&js).await;
    eventually("the live projection catches up", || async {
        h.store.checkpoint("inbox").await.unwrap() == last
    })
    .await;
    let live = h.store.digest().await.unwrap();
    let into = tempfile::tempdir().unwrap();
    let store = tidings_store::FjallStore::open(&into.path().join("store")).unwrap();
    let large_group = tidings_projector::fold::DEFAULT_LARGE_GROUP;
    let report = tidings::replay::replay(&client, store, large_group, CACHE, false)
        .await
        .unwrap();
    assert_eq!(report.through_seq, last);
    assert_eq!(report.digest, live);
}
