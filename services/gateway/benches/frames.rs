//! The frame encoder: one message entry as a JSON text frame and as a MessagePack binary frame;
//! and the two MessagePack reads behind every frame: a pushed entry, a timeline row.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use tidings_domain::{Body, ConvId, MessageId, Recipient, UserId};
use tidings_gateway::frames::{Format, ServerFrame};
use tidings_store::{Entry, EntryItem, MessageView, TimelineMessage};

/// A timeline row as serde derives its reader (`ts` and the message flattened into one map).
#[derive(serde::Deserialize)]
struct DerivedTimelineMessage {
    #[allow(dead_code)]
    ts: i64,
    #[serde(flatten)]
    #[allow(dead_code)]
    message: MessageView,
}

fn frames(c: &mut Criterion) {
    let (alice, bob) = (
        UserId::parse("alice").expect("valid"),
        UserId::parse("bob").expect("valid"),
    );
    let frame = ServerFrame::Entry(Entry {
        seq: 42,
        ts: 1_767_225_600_000,
        item: EntryItem::Message(Arc::new(MessageView::sent(
            ConvId::direct(&alice, &bob),
            7,
            MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").expect("valid"),
            alice,
            Recipient::User(bob),
            Body::Text {
                text: "hello, how are you today?".into(),
            },
        ))),
    });
    c.bench_function("encode entry frame (json)", |b| {
        b.iter(|| Format::Json.encode(black_box(&frame)))
    });
    c.bench_function("encode entry frame (msgpack)", |b| {
        b.iter(|| Format::MessagePack.encode(black_box(&frame)))
    });
    // A push as the projector publishes it, read the way serde derives and in one pass.
    let ServerFrame::Entry(entry) = &frame else {
        unreachable!()
    };
    let push = rmp_serde::to_vec_named(entry).expect("encodes");
    c.bench_function("decode pushed entry (derived)", |b| {
        b.iter(|| rmp_serde::from_slice::<Entry>(black_box(&push)))
    });
    c.bench_function("decode pushed entry (one pass)", |b| {
        b.iter(|| tidings_store::entry_decode::from_msgpack(black_box(&push)))
    });
    // The same message as a timeline row (history, catch-up's joins), read both ways.
    let EntryItem::Message(message) = &entry.item else {
        unreachable!()
    };
    let row = rmp_serde::to_vec_named(&TimelineMessage {
        ts: entry.ts,
        message: message.clone(),
    })
    .expect("encodes");
    c.bench_function("decode timeline row (derived)", |b| {
        b.iter(|| rmp_serde::from_slice::<DerivedTimelineMessage>(black_box(&row)))
    });
    c.bench_function("decode timeline row (one pass)", |b| {
        b.iter(|| rmp_serde::from_slice::<TimelineMessage>(black_box(&row)))
    });
}

criterion_group!(benches, frames);
criterion_main!(benches);
