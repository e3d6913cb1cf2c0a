//! The event codec: encoding and decoding a group message (the largest common event).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tidings_events::{catalogue, decode, encode};

fn codec(c: &mut Criterion) {
    let message = catalogue::entries()
        .into_iter()
        .find(|e| e.event_type == "message_sent" && e.version == 2)
        .map(|e| (e.sample)())
        .expect("message_sent v2 is catalogued");
    let encoded = encode(&message);
    c.bench_function("encode message_sent", |b| {
        b.iter(|| encode(black_box(&message)))
    });
    c.bench_function("decode message_sent", |b| {
        b.iter(|| decode("message_sent", 2, black_box(&encoded.payload)).expect("decodes"))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
