//! A block and a send issued at the same time: either the send is refused, or its event
//! precedes the block's event in the stream. Never a message recorded after the block.

use crate::harness::{CMD_APP, api_instances, text_to};
use futures_util::StreamExt;
use tidings_api::commands::SendRequest;
use tidings_domain::pair::PairCommand;
use tidings_domain::{AppId, Event, UserId};
use tidings_events::{Envelope, subjects};
use tidings_testkit::TestNats;

const ROUNDS: usize = 40;

/// Two api instances (two caches, as two gateways would be) with alice and bob registered.
async fn two_instances(nats: &TestNats) -> (Vec<tidings_api::Api>, AppId, UserId, UserId) {
    let apis = api_instances(nats, 2, &["alice", "bob"]).await;
    let app = AppId::parse(CMD_APP).unwrap();
    let (alice, bob) = (
        UserId::parse("alice").unwrap(),
        UserId::parse("bob").unwrap(),
    );
    (apis, app, alice, bob)
}

fn text(cmid: &str, to: &UserId) -> SendRequest {
    text_to(to.as_str(), cmid, cmid)
}

#[tokio::test]
async fn a_refusal_is_never_based_on_another_instances_stale_state() {
    let nats = TestNats::start();
    let (apis, app, alice, bob) = two_instances(&nats).await;
    let (a, b) = (&apis[0].commands, &apis[1].commands);
    a.relate(&app, &bob, &alice, PairCommand::Block)
        .await
        .unwrap();
    let refused = a.send(&app, &alice, text("m1", &bob)).await.unwrap_err();
    assert_eq!(refused.code, tidings_api::error::ErrorCode::Blocked);
    // Unblocked through the other instance: the first one must not keep refusing.
    b.relate(&app, &bob, &alice, PairCommand::Unblock)
        .await
        .unwrap();
    a.send(&app, &alice, text("m2", &bob)).await.unwrap();
    // And the other way round: a no-op on stale state must not hide a real change.
    b.relate(&app, &alice, &bob, PairCommand::Add)
        .await
        .unwrap();
    a.relate(&app, &bob, &alice, PairCommand::Remove)
        .await
        .unwrap();
    let view = b
        .relate(&app, &alice, &bob, PairCommand::Request { note: None })
        .await
        .unwrap();
    assert_eq!(
        (view.value.friend, view.value.request),
        (false, Some("out")),
        "the removal happened"
    );
}

#[tokio::test]
async fn no_message_is_recorded_after_a_block() {
    let nats = TestNats::start();
    let (apis, app, alice, bob) = two_instances(&nats).await;

    let mut refused = 0;
    let mut accepted = 0;
    for round in 0..ROUNDS {
        let sender = apis[0].commands.clone();
        let blocker = apis[1].commands.clone();
        let (app1, app2) = (app.clone(), app.clone());
        let (a1, b1, a2, b2) = (alice.clone(), bob.clone(), alice.clone(), bob.clone());
        let send = tokio::spawn(async move {
            sender
                .send(&app1, &a1, text(&format!("r{round}"), &b1))
                .await
        });
        let block =
            tokio::spawn(async move { blocker.relate(&app2, &b2, &a2, PairCommand::Block).await });
        match send.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert_eq!(e.code, tidings_api::error::ErrorCode::Blocked, "{e:?}");
                refused += 1;
            }
        }
        block.await.unwrap().unwrap();
        apis[1]
            .commands
            .relate(&app, &bob, &alice, PairCommand::Unblock)
            .await
            .unwrap();
    }
    assert_eq!(accepted + refused, ROUNDS);

    // Read the pair's subject back: after every block, no message until the unblock.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: subjects::event(&app, subjects::aggregate::CONV, "d~alice~bob"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let (mut blocked, mut seen_messages, mut blocks) = (false, 0, 0);
    while blocks < ROUNDS || seen_messages < accepted {
        let m = messages.next().await.unwrap().unwrap();
        let seq = m.info().unwrap().stream_sequence;
        let envelope = Envelope::decode(seq, &m.subject, m.headers.as_ref(), &m.payload).unwrap();
        match envelope.event {
            Event::MessageSent(_) => {
                assert!(
                    !blocked,
                    "a message was recorded while bob blocked alice (seq {seq})"
                );
                seen_messages += 1;
            }
            Event::PairChanged(p) => match p.change {
                tidings_domain::event::PairChange::Blocked => {
                    blocked = true;
                    blocks += 1;
                }
                tidings_domain::event::PairChange::Unblocked => blocked = false,
                _ => {}
            },
            _ => {}
        }
    }
    assert_eq!(seen_messages, accepted);
    println!("race: {accepted} sends recorded before the block, {refused} refused");
}
