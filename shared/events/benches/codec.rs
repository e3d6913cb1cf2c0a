//! The event codec: encoding and decoding a group message (the largest common event).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tidings_domain::event::types::MESSAGE_SENT;
use tidings_events::{decode, encode, registry};

fn codec(c: &mut Criterion) {
    let message = registry::find(MESSAGE_SENT, 2)
        .map(|e| (e.sample)())
        .expect("message_sent v2 is registered");
    let encoded = encode(&message);
    c.bench_function("encode message_sent", |b| {
        b.iter(|| encode(black_box(&message)))
    });
    c.bench_function("decode message_sent", |b| {
        b.iter(|| decode(MESSAGE_SENT, 2, black_box(&encoded.payload)).expect("decodes"))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
