//! History by time: `GET /v1/conversations/{conv}/messages` with `since_ts` / `until_ts`,
//! newest or oldest first, paged with `next_before` / `next_after`, on real sends.

use crate::harness::{Harness, eventually};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// A message as its `sent` answer told the sender.
struct Sent {
    conv_seq: u64,
    ts: i64,
    msg_id: String,
    pos: u64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Sends `n` messages between alice and bob over the server API, alternating senders. Before
/// each message whose index is in `later`, waits (polling the clock) until the clock is past
/// the previous message's `ts`, so that message starts a new millisecond.
async fn conversation(h: &Harness, n: usize, later: &[usize]) -> Vec<Sent> {
    let mut sent: Vec<Sent> = Vec::new();
    for i in 0..n {
        if let Some(previous) = sent.last()
            && later.contains(&i)
        {
            let previous = previous.ts;
            eventually("the clock to pass the previous message", || async {
                now_ms() > previous
            })
            .await;
        }
        let (from, to) = if i % 2 == 0 {
            ("alice", "bob")
        } else {
            ("bob", "alice")
        };
        let reply = h
            .api
            .post(
                "/v1/messages",
                &json!({
                    "from": from,
                    "to": {"user": to},
                    "client_msg_id": format!("h-{i}"),
                    "body": {"type": "text", "text": format!("message {i}")},
                }),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let b = &reply.body;
        sent.push(Sent {
            conv_seq: b["conv_seq"].as_u64().unwrap(),
            ts: b["ts"].as_i64().unwrap(),
            msg_id: b["msg_id"].as_str().unwrap().to_owned(),
            pos: b["pos"].as_u64().unwrap(),
        });
    }
    sent
}

/// Every page of a history query (`range` already in the query string), following the
/// cursor; checks that only the last page is short. Returns the messages in page order.
async fn every_page(
    h: &Harness,
    token: &str,
    range: &str,
    oldest: bool,
    limit: usize,
) -> Vec<Value> {
    let (order, cursor_key) = if oldest {
        ("&order=oldest", "after")
    } else {
        ("", "before")
    };
    let next_key = format!("next_{cursor_key}");
    let mut messages = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let path =
            format!("/v1/conversations/d~alice~bob/messages?limit={limit}{range}{order}{cursor}");
        let page = h.api.get_as(token, &path).await;
        assert_eq!(page.status, 200, "{path}: {:?}", page.body);
        let rows = page.body["messages"].as_array().unwrap().clone();
        assert!(rows.len() <= limit, "{path}");
        messages.extend(rows.iter().cloned());
        match page.body[&next_key].as_u64() {
            Some(next) => {
                assert_eq!(rows.len(), limit, "{path}: only the last page is short");
                assert_eq!(rows.last().unwrap()["conv_seq"], next, "{path}");
                cursor = format!("&{cursor_key}={next}");
            }
            None => {
                assert!(page.body[&next_key].is_null(), "{path}: {:?}", page.body);
                return messages;
            }
        }
    }
    panic!("paging {range} did not end");
}

fn conv_seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["conv_seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_time_range_pages_both_ways_without_gap_or_repeat() {
    let h = Harness::start().await;
    let alice = h.api.user_token("alice").await;
    h.api.register("bob").await;
    let sent = conversation(&h, 30, &[5, 15, 24]).await;
    assert_eq!(
        sent.iter().map(|s| s.conv_seq).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    assert!(
        sent.windows(2).all(|w| w[0].ts <= w[1].ts),
        "ts never decreases along conv_seq"
    );
    // The read waits until the read models hold the last send.
    let last_pos = sent.iter().map(|s| s.pos).max().unwrap();
    let all = h
        .api
        .get_as(
            &alice,
            &format!("/v1/conversations/d~alice~bob/messages?limit=500&min_pos={last_pos}"),
        )
        .await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(all.body["messages"].as_array().unwrap().len(), 30);
    assert!(all.body["next_before"].is_null());
    for m in all.body["messages"].as_array().unwrap() {
        let s = &sent[m["conv_seq"].as_u64().unwrap() as usize - 1];
        assert_eq!(
            (m["ts"].as_i64(), m["msg_id"].as_str()),
            (Some(s.ts), Some(&*s.msg_id))
        );
    }

    // From the 6th message's time to the 25th's: the 6th to the 24th message (each of the
    // two started a new millisecond), which are the messages whose ts is in [since, until).
    assert!(sent[4].ts < sent[5].ts && sent[14].ts < sent[15].ts && sent[23].ts < sent[24].ts);
    let (since, until) = (sent[5].ts, sent[24].ts);
    let expected: Vec<u64> = (6..=24).collect();
    assert_eq!(
        sent.iter()
            .filter(|s| since <= s.ts && s.ts < until)
            .map(|s| s.conv_seq)
            .collect::<Vec<_>>(),
        expected
    );
    let range = format!("&since_ts={since}&until_ts={until}");
    for limit in [1, 4, 7] {
        let oldest = every_page(&h, &alice, &range, true, limit).await;
        assert_eq!(conv_seqs(&oldest), expected, "oldest first, limit {limit}");
        let newest = every_page(&h, &alice, &range, false, limit).await;
        let mut newest = conv_seqs(&newest);
        newest.reverse();
        assert_eq!(newest, expected, "newest first, limit {limit}");
    }

    // Adjacent ranges (the last days, the days before, everything older) cover the
    // conversation once.
    let mut covered = Vec::new();
    for range in [
        format!("&until_ts={since}"),
        range.clone(),
        format!("&since_ts={until}"),
    ] {
        covered.extend(conv_seqs(&every_page(&h, &alice, &range, true, 4).await));
    }
    assert_eq!(covered, (1..=30).collect::<Vec<_>>());
    let distinct: BTreeSet<u64> = covered.iter().copied().collect();
    assert_eq!(distinct.len(), 30);

    // A range after the newest message is empty, and says so.
    let after_all = h
        .api
        .get_as(
            &alice,
            &format!(
                "/v1/conversations/d~alice~bob/messages?order=oldest&since_ts={}",
                sent[29].ts + 1
            ),
        )
        .await;
    assert_eq!(after_all.body, json!({"messages": [], "next_after": null}));
}

#[tokio::test]
async fn history_by_time_refuses_bad_combinations_and_strangers() {
    let h = Harness::start().await;
    let alice = h.api.user_token("alice").await;
    let carol = h.api.user_token("carol").await;
    h.api.register("bob").await;
    let sent = conversation(&h, 2, &[]).await;
    let path = "/v1/conversations/d~alice~bob/messages";
    for bad in [
        "since_ts=abc",
        "until_ts=1.5",
        "order=sideways",
        "after=1",
        "order=newest&after=1",
        "order=oldest&before=2",
        "since_ts=10&until_ts=10",
        "since_ts=11&until_ts=10",
        "since_ts=1&since_ts=2",
    ] {
        let reply = h.api.get_as(&alice, &format!("{path}?{bad}")).await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "invalid_request", "{bad}");
        assert!(reply.body["message"].is_string(), "{bad}");
    }
    // Someone outside the conversation reads nothing of it, by time or not.
    let ts = sent[0].ts;
    let reply = h
        .api
        .get_as(
            &carol,
            &format!("{path}?since_ts={ts}&order=oldest&min_pos={}", sent[1].pos),
        )
        .await;
    assert_eq!(reply.status, 403, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "forbidden");
}

/// A read-diffusion group: its timeline pages by time like a direct conversation, for current
/// members only.
#[tokio::test]
async fn a_groups_history_pages_by_time_for_its_current_members() {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |c| c.projector.large_group = 2,
    )
    .await;
    for user in ["owner", "amy", "ben"] {
        h.api.register(user).await;
    }
    let amy = h.api.user_token("amy").await;
    let ben = h.api.user_token("ben").await;
    let created = h
        .api
        .post(
            "/v1/server/groups/crew/ops",
            &json!({"actor": "owner", "op": "create", "name": "Crew", "members": ["amy", "ben"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let mut sent = Vec::new();
    for i in 0..9 {
        let from = ["owner", "amy", "ben"][i % 3];
        let reply = h
            .api
            .post(
                "/v1/messages",
                &json!({
                    "from": from,
                    "to": {"group": "crew"},
                    "client_msg_id": format!("g-{i}"),
                    "body": {"type": "text", "text": format!("crew {i}")},
                }),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        sent.push((
            reply.body["conv_seq"].as_u64().unwrap(),
            reply.body["ts"].as_i64().unwrap(),
            reply.body["pos"].as_u64().unwrap(),
        ));
    }
    let since = sent[2].1;
    let expected: Vec<u64> = sent
        .iter()
        .filter(|(_, ts, _)| *ts >= since)
        .map(|(seq, _, _)| *seq)
        .collect();
    let path = format!(
        "/v1/conversations/g~crew/messages?order=oldest&since_ts={since}&limit=2&min_pos={}",
        sent[8].2
    );
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = h.api.get_as(&amy, &format!("{path}{cursor}")).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        seen.extend(conv_seqs(page.body["messages"].as_array().unwrap()));
        match page.body["next_after"].as_u64() {
            Some(next) => cursor = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let kicked = h
        .api
        .post(
            "/v1/server/groups/crew/ops",
            &json!({"actor": "owner", "op": "kick", "user": "ben"}),
        )
        .await;
    assert_eq!(kicked.status, 200, "{:?}", kicked.body);
    let pos = kicked.body["pos"].as_u64().unwrap();
    let refused = h
        .api
        .get_as(
            &ben,
            &format!("/v1/conversations/g~crew/messages?since_ts={since}&min_pos={pos}"),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("forbidden"))
    );
}
