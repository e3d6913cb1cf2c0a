//! Two api instances (two caches) write one conversation at once: optimistic concurrency on
//! the conversation's subject keeps `conv_seq` gapless and every send recorded once.

use std::collections::HashSet;
use tidings_api::apps::AppConfig;
use tidings_api::commands::{SendRequest, UpsertUserRequest};
use tidings_domain::{AppId, Body, ClientMsgId, Recipient, UserId};
use tidings_testkit::TestNats;

const EACH: u64 = 150;

#[tokio::test]
async fn concurrent_writers_keep_conv_seq_gapless() {
    let nats = TestNats::start();
    let config = tidings_api::Config {
        apps: vec![AppConfig {
            key: "race".into(),
            secret: "0123456789abcdef0123".into(),
            messaging: Default::default(),
            max_group_members: tidings_api::apps::DEFAULT_GROUP_CAP,
        }],
        ..Default::default()
    };
    let mut instances = Vec::new();
    for _ in 0..2 {
        let client = tidings::up::connect_nats(nats.url(), 1).await.unwrap();
        let js = async_nats::jetstream::new(client);
        instances.push(tidings_api::Api::build(&config, js).await.unwrap());
    }
    let app = AppId::parse("race").unwrap();
    for user in ["alice", "bob"] {
        let request = UpsertUserRequest {
            user_id: UserId::parse(user).unwrap(),
            name: user.into(),
            avatar_url: None,
            extra: None,
        };
        instances[0]
            .commands
            .upsert_user(&app, request)
            .await
            .unwrap();
    }

    // Both instances send as alice and bob, interleaved, and each retries one earlier
    // client_msg_id of the other instance to exercise idempotency across caches.
    let tasks: Vec<_> = instances
        .iter()
        .enumerate()
        .flat_map(|(n, api)| {
            ["alice", "bob"].map(|from| {
                let (commands, app) = (api.commands.clone(), app.clone());
                tokio::spawn(async move {
                    let from = UserId::parse(from).unwrap();
                    let to = if from.as_str() == "alice" {
                        "bob"
                    } else {
                        "alice"
                    };
                    let mut results = Vec::new();
                    for i in 0..EACH {
                        let request = SendRequest {
                            to: Recipient::User(UserId::parse(to).unwrap()),
                            client_msg_id: ClientMsgId::parse(format!("i{n}-{i}")).unwrap(),
                            body: Body::Text {
                                text: format!("{i}"),
                            },
                            mentions: Vec::new(),
                            mention_all: false,
                        };
                        let sent = commands.send(&app, &from, request).await.unwrap();
                        results.push((from.to_string(), format!("i{n}-{i}"), sent));
                    }
                    results
                })
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }

    let seqs: HashSet<u64> = all.iter().map(|(_, _, s)| s.conv_seq).collect();
    assert_eq!(all.len() as u64, 4 * EACH);
    assert_eq!(
        seqs,
        (1..=4 * EACH).collect(),
        "every send got its own conv_seq, no gaps"
    );

    // A retry through the other instance returns the original receipt.
    let (from, cmid, original) = &all[7];
    let retry = instances[1]
        .commands
        .send(
            &app,
            &UserId::parse(from.clone()).unwrap(),
            SendRequest {
                to: Recipient::User(
                    UserId::parse(if from == "alice" { "bob" } else { "alice" }).unwrap(),
                ),
                client_msg_id: ClientMsgId::parse(cmid.clone()).unwrap(),
                body: Body::Text {
                    text: "again".into(),
                },
                mentions: Vec::new(),
                mention_all: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(&retry, original);
}
