//! Partitioned projectors: two instances share four partitions through NATS KV leases, one
//! dies without handing its partitions back, and the other takes them over. Every inbox ends
//! gapless and the read models (reactions and their entries included) equal a single
//! projector's replay of the same stream.

use crate::harness::{CMD_APP, Harness, api_instances, eventually, last_seq};
use std::collections::HashSet;
use tidings_domain::group::{GroupCommand, JoinPolicy};
use tidings_domain::{AppId, Body, ClientMsgId, GroupId, Recipient, UserId};
use tidings_store::{InboxStore, ProjectionStore};
use tidings_testkit::TestNats;
use tokio_util::sync::CancellationToken;

const PARTITIONS: u32 = 4;
const USERS: usize = 12;
const ROUNDS: usize = 5;

fn projector_config() -> tidings_projector::Config {
    tidings_projector::Config {
        partitions: PARTITIONS,
        lease_ttl_secs: 2,
        ..Default::default()
    }
}

/// The instance ids holding each partition's lease (`None` when free).
async fn holders(js: &async_nats::jetstream::Context) -> Vec<Option<String>> {
    let kv = js
        .get_key_value(tidings_projector::lease::BUCKET)
        .await
        .unwrap();
    let mut out = Vec::new();
    for p in 0..PARTITIONS {
        let value = kv.get(format!("p{p}")).await.unwrap();
        out.push(value.map(|v| String::from_utf8(v.to_vec()).unwrap()));
    }
    out
}

fn distinct(holders: &[Option<String>]) -> usize {
    holders.iter().flatten().collect::<HashSet<_>>().len()
}

/// Every user sends one message to the next user and one to the group, then reacts twice
/// (two devices) to the next user's group message, and on odd rounds takes the reaction back:
/// reaction rows are the conversation's partition's and entries the users', so every layout
/// must tell each change once.
async fn send_round(
    commands: &tidings_api::commands::Commands,
    app: &AppId,
    users: &[UserId],
    group: &GroupId,
    round: usize,
) {
    let mut in_group = Vec::new();
    for (i, from) in users.iter().enumerate() {
        let to = users[(i + 1) % users.len()].clone();
        for (kind, to) in [
            ("d", Recipient::User(to)),
            ("g", Recipient::Group(group.clone())),
        ] {
            let request = tidings_api::commands::SendRequest {
                to,
                client_msg_id: ClientMsgId::parse(format!("{kind}-{round}-{i}")).unwrap(),
                body: Some(Body::Text {
                    text: format!("{kind} round {round} from {from}"),
                }),
                mentions: Vec::new(),
                mention_all: false,
                reply_to: None,
                forward_of: None,
            };
            let sent = commands.send(app, from, request).await.unwrap();
            if kind == "g" {
                in_group.push(sent);
            }
        }
    }
    for (i, user) in users.iter().enumerate() {
        let target = &in_group[(i + 1) % users.len()];
        let mut adds = vec![true, true];
        if round % 2 == 1 {
            adds.push(false);
        }
        for add in adds {
            let (conv, msg_id) = (&target.conv, &target.msg_id);
            commands
                .react(app, user, conv, msg_id, "ok".into(), add)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn partitions_share_the_work_and_survive_losing_an_instance() {
    let h = Harness::start_on(TestNats::start(), tempfile::tempdir().unwrap(), |c| {
        c.projector = projector_config();
    })
    .await;
    // A second instance on the same store, as a second process would run on a shared Scylla.
    let client = tidings::up::connect_nats(h.nats.url(), 1).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let second = tokio::spawn(tidings_projector::run(
        h.store.clone(),
        client.clone(),
        projector_config(),
        CancellationToken::new(),
    ));

    let names: Vec<String> = (0..USERS).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let apis = api_instances(&h.nats, 1, &refs).await;
    let commands = &apis[0].commands;
    let app = AppId::parse(CMD_APP).unwrap();
    let users: Vec<UserId> = refs.iter().map(|u| UserId::parse(*u).unwrap()).collect();
    let group = GroupId::parse("everyone").unwrap();
    let create = GroupCommand::Create {
        name: "everyone".into(),
        avatar_url: None,
        intro: None,
        join_policy: JoinPolicy::Open,
        members: users[1..].to_vec(),
    };
    commands
        .group(&app, &users[0], &group, create)
        .await
        .unwrap();

    eventually("both instances hold partitions", || async {
        let held = holders(&js).await;
        held.iter().all(Option::is_some) && distinct(&held) == 2
    })
    .await;
    for round in 0..ROUNDS {
        send_round(commands, &app, &users, &group, round).await;
    }

    // The second instance dies without giving its leases back: they lapse after the TTL and
    // the first instance takes them over.
    second.abort();
    for round in ROUNDS..2 * ROUNDS {
        send_round(commands, &app, &users, &group, round).await;
    }
    eventually("one instance holds every partition", || async {
        let held = holders(&js).await;
        held.iter().all(Option::is_some) && distinct(&held) == 1
    })
    .await;
    let last = last_seq(&js).await;
    eventually("every partition reaches the end of the stream", || async {
        for p in tidings_projector::Partition::all(PARTITIONS) {
            if h.store.checkpoint(&p.projection()).await.unwrap() < last {
                return false;
            }
        }
        true
    })
    .await;

    // Each inbox is gapless, holds each message once, and has everything: its own sends, the
    // direct message from the previous user and every group message, each round.
    for user in &users {
        let entries = h.store.inbox_after(&app, user, 0, 10_000).await.unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=entries.len() as u64).collect::<Vec<_>>());
        let messages: Vec<_> = entries
            .iter()
            .filter_map(|e| match &e.item {
                tidings_store::EntryItem::Message(m) => Some(m.msg_id.clone()),
                _ => None,
            })
            .collect();
        let unique: HashSet<_> = messages.iter().collect();
        assert_eq!(unique.len(), messages.len(), "{user}: no duplicates");
        assert_eq!(
            messages.len(),
            2 * ROUNDS * (2 + USERS),
            "{user}: every message"
        );
    }

    // The partitions together wrote exactly what one projector writes.
    let into = tempfile::tempdir().unwrap();
    let report = tidings::replay::replay(
        &client,
        tidings_store::FjallStore::open(&into.path().join("store")).unwrap(),
        tidings_projector::fold::DEFAULT_LARGE_GROUP,
        tidings_store::plan::cache::DEFAULT_CAPACITY,
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.through_seq, last);
    assert_eq!(report.digest, h.store.digest().await.unwrap());
    h.stop().await;
}
