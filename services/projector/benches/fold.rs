//! The projector's fold: a direct message, and a message to a 1,000-member group in both
//! diffusion modes.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tidings_domain::event::{GroupChange, GroupChanged, MessageSent};
use tidings_domain::group::JoinPolicy;
use tidings_domain::{
    AppId, Body, ClientMsgId, ConvId, Event, GroupId, MessageId, Recipient, UserId,
};
use tidings_events::Envelope;
use tidings_projector::directory::Directory;
use tidings_projector::fold::project;

fn id(s: &str) -> UserId {
    UserId::parse(s).expect("valid")
}

fn message(to: Recipient) -> Envelope {
    let from = id("m0");
    Envelope {
        stream_seq: 2,
        subject: "tid.evt.demo.conv.x".into(),
        event: Event::MessageSent(MessageSent {
            app: AppId::parse("demo").expect("valid"),
            conv: ConvId::between(&from, &to),
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").expect("valid"),
            conv_seq: 1,
            from,
            to,
            client_msg_id: ClientMsgId::parse("c1").expect("valid"),
            body: Body::Text {
                text: "hello, how are you today?".into(),
            },
            mentions: Vec::new(),
            mention_all: false,
            reply_to: None,
            forward_of: None,
            ts: 1,
        }),
    }
}

/// A directory holding one group of `members` (m0 is the owner).
fn directory_with_group(members: usize, large_group: usize) -> Directory {
    let mut directory = Directory::default();
    let group = GroupId::parse("g").expect("valid");
    let created = Envelope {
        stream_seq: 1,
        subject: "tid.evt.demo.conv.g~g".into(),
        event: Event::GroupChanged(GroupChanged {
            app: AppId::parse("demo").expect("valid"),
            conv: ConvId::group(&group),
            group,
            actor: id("m0"),
            change: GroupChange::Created {
                name: "g".into(),
                avatar_url: None,
                intro: None,
                join_policy: JoinPolicy::Approval,
                members: (1..members).map(|i| id(&format!("m{i}"))).collect(),
            },
            ts: 1,
        }),
    };
    project(created, &mut directory, large_group, &mut Vec::new());
    directory
}

fn fold(c: &mut Criterion) {
    let direct = message(Recipient::User(id("m1")));
    let mut empty = Directory::default();
    c.bench_function("fold direct message", |b| {
        b.iter_batched(
            || direct.clone(),
            |event| {
                let mut writes = Vec::new();
                project(black_box(event), &mut empty, 200, &mut writes);
                writes
            },
            BatchSize::SmallInput,
        )
    });
    let to_group = message(Recipient::Group(GroupId::parse("g").expect("valid")));
    for (name, large_group) in [("write", 5000), ("read", 200)] {
        let mut directory = directory_with_group(1000, large_group);
        c.bench_function(
            &format!("fold 1000-member group message ({name} diffusion)"),
            |b| {
                b.iter_batched(
                    || to_group.clone(),
                    |event| {
                        let mut writes = Vec::new();
                        project(black_box(event), &mut directory, large_group, &mut writes);
                        writes
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
}

criterion_group!(benches, fold);
criterion_main!(benches);
