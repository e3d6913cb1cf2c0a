//! The list of every (event type, version) with its JSON schema and a sample, from which
//! `schemas/` is generated and checked.

use crate::codec::{GROUP_TYPES, PAIR_TYPES};
use crate::wire::v1;
use crate::wire::v2;
use schemars::{JsonSchema, Schema, schema_for};
use tidings_domain::event::{
    ConversationRead, GroupChange, GroupChanged, MessageSent, PairChange, PairChanged,
    SystemMessageSent, UserDeactivated, UserProfile, UserTokensRevoked,
};
use tidings_domain::group::JoinPolicy;
use tidings_domain::{
    AppId, Body, ClientMsgId, ConvId, Event, GroupId, MessageId, Recipient, UserId,
};

/// One (event type, version) the codec reads.
pub struct Entry {
    pub event_type: &'static str,
    pub version: u32,
    pub schema: fn() -> Schema,
    /// A representative event; its encoding is the golden sample.
    pub sample: fn() -> Event,
}

impl Entry {
    /// The file stem under `schemas/`, e.g. `message_sent.v1`.
    pub fn file_stem(&self) -> String {
        format!("{}.v{}", self.event_type, self.version)
    }
}

fn schema<T: JsonSchema>() -> Schema {
    schema_for!(T)
}

fn sample_profile(version: u64) -> UserProfile {
    UserProfile {
        app: AppId::parse("demo").expect("valid"),
        user: UserId::parse("alice").expect("valid"),
        name: "Alice".into(),
        avatar_url: Some("https://example.com/a.png".into()),
        extra: Some(serde_json::json!({ "level": 3 })),
        version,
        ts: 1_767_225_600_000,
    }
}

fn sample_message() -> Event {
    let alice = UserId::parse("alice").expect("valid");
    let bob = UserId::parse("bob").expect("valid");
    Event::MessageSent(MessageSent {
        app: AppId::parse("demo").expect("valid"),
        conv: ConvId::direct(&alice, &bob),
        msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").expect("valid"),
        conv_seq: 1,
        from: alice,
        to: Recipient::User(bob),
        client_msg_id: ClientMsgId::parse("c-1").expect("valid"),
        body: Body::Text {
            text: "hello".into(),
        },
        mentions: Vec::new(),
        mention_all: false,
        ts: 1_767_225_600_000,
    })
}

fn sample_group_message() -> Event {
    let group = GroupId::parse("team").expect("valid");
    Event::MessageSent(MessageSent {
        app: AppId::parse("demo").expect("valid"),
        conv: ConvId::group(&group),
        msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000002").expect("valid"),
        conv_seq: 7,
        from: UserId::parse("alice").expect("valid"),
        to: Recipient::Group(group),
        client_msg_id: ClientMsgId::parse("c-2").expect("valid"),
        body: Body::Custom {
            data: serde_json::json!({ "card": { "title": "standup" } }),
        },
        mentions: vec![UserId::parse("bob").expect("valid")],
        mention_all: false,
        ts: 1_767_225_600_000,
    })
}

fn sample_group(change: GroupChange) -> Event {
    let group = GroupId::parse("team").expect("valid");
    Event::GroupChanged(GroupChanged {
        app: AppId::parse("demo").expect("valid"),
        conv: ConvId::group(&group),
        group,
        actor: UserId::parse("alice").expect("valid"),
        change,
        ts: 1_767_225_600_000,
    })
}

fn bob() -> UserId {
    UserId::parse("bob").expect("valid")
}

/// One sample per group change, in `GROUP_TYPES` order (the round-trip test checks it).
const GROUP_SAMPLES: [fn() -> Event; 12] = [
    || {
        sample_group(GroupChange::Created {
            name: "Team".into(),
            avatar_url: Some("https://example.com/t.png".into()),
            intro: Some("the team".into()),
            join_policy: JoinPolicy::Approval,
            members: vec![bob()],
        })
    },
    || {
        sample_group(GroupChange::Updated {
            name: "Team B".into(),
            avatar_url: None,
            intro: Some("renamed".into()),
            join_policy: JoinPolicy::InviteOnly,
        })
    },
    || sample_group(GroupChange::Dismissed),
    || sample_group(GroupChange::OwnerTransferred { to: bob() }),
    || {
        sample_group(GroupChange::AdminSet {
            user: bob(),
            admin: true,
        })
    },
    || sample_group(GroupChange::MembersAdded { users: vec![bob()] }),
    || {
        sample_group(GroupChange::MemberRemoved {
            user: bob(),
            kicked: true,
        })
    },
    || {
        sample_group(GroupChange::JoinRequested {
            note: Some("let me in".into()),
        })
    },
    || {
        sample_group(GroupChange::JoinDecided {
            user: bob(),
            approved: true,
        })
    },
    || {
        sample_group(GroupChange::Announced {
            text: "standup at 10".into(),
        })
    },
    || {
        sample_group(GroupChange::MemberMuted {
            user: bob(),
            muted: true,
        })
    },
    || sample_group(GroupChange::MutedAll { muted: true }),
];

fn sample_pair(change: PairChange) -> Event {
    let alice = UserId::parse("alice").expect("valid");
    let bob = UserId::parse("bob").expect("valid");
    Event::PairChanged(PairChanged {
        app: AppId::parse("demo").expect("valid"),
        conv: ConvId::direct(&alice, &bob),
        actor: alice,
        other: bob,
        change,
        ts: 1_767_225_600_000,
    })
}

/// Every (type, version) the codec reads.
pub fn entries() -> Vec<Entry> {
    let mut entries = vec![
        Entry {
            event_type: "user_registered",
            version: 1,
            schema: schema::<v1::UserProfileV1>,
            sample: || Event::UserRegistered(sample_profile(1)),
        },
        Entry {
            event_type: "user_profile_updated",
            version: 1,
            schema: schema::<v1::UserProfileV1>,
            sample: || Event::UserProfileUpdated(sample_profile(2)),
        },
        Entry {
            event_type: "user_deactivated",
            version: 1,
            schema: schema::<v1::UserDeactivatedV1>,
            sample: || {
                Event::UserDeactivated(UserDeactivated {
                    app: AppId::parse("demo").expect("valid"),
                    user: UserId::parse("alice").expect("valid"),
                    ts: 1_767_225_600_000,
                })
            },
        },
        Entry {
            event_type: "user_tokens_revoked",
            version: 1,
            schema: schema::<v1::UserTokensRevokedV1>,
            sample: || {
                Event::UserTokensRevoked(UserTokensRevoked {
                    app: AppId::parse("demo").expect("valid"),
                    user: UserId::parse("alice").expect("valid"),
                    epoch: 2,
                    ts: 1_767_225_600_000,
                })
            },
        },
        Entry {
            event_type: "message_sent",
            version: 1,
            schema: schema::<v1::MessageSentV1>,
            sample: sample_message,
        },
        Entry {
            event_type: "message_sent",
            version: 2,
            schema: schema::<v2::MessageSentV2>,
            sample: sample_group_message,
        },
        Entry {
            event_type: "system_message_sent",
            version: 1,
            schema: schema::<v2::SystemMessageSentV1>,
            sample: || {
                Event::SystemMessageSent(SystemMessageSent {
                    app: AppId::parse("demo").expect("valid"),
                    msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000003")
                        .expect("valid"),
                    to: vec![bob(), UserId::parse("alice").expect("valid")],
                    body: Body::Text {
                        text: "maintenance at midnight".into(),
                    },
                    ts: 1_767_225_600_000,
                })
            },
        },
        Entry {
            event_type: "conversation_read",
            version: 1,
            schema: schema::<v2::ConversationReadV1>,
            sample: || {
                let (alice, bob) = (bob(), UserId::parse("alice").expect("valid"));
                Event::ConversationRead(ConversationRead {
                    app: AppId::parse("demo").expect("valid"),
                    conv: ConvId::direct(&alice, &bob),
                    user: alice,
                    conv_seq: 3,
                    ts: 1_767_225_600_000,
                })
            },
        },
    ];
    entries.extend(
        GROUP_TYPES
            .iter()
            .zip(GROUP_SAMPLES)
            .map(|(&event_type, sample)| Entry {
                event_type,
                version: 1,
                schema: schema::<v2::GroupChangedV1>,
                sample,
            }),
    );
    entries.extend(
        PAIR_TYPES
            .iter()
            .zip(PAIR_SAMPLES)
            .map(|(&event_type, sample)| Entry {
                event_type,
                version: 1,
                schema: schema::<v1::PairChangedV1>,
                sample,
            }),
    );
    entries
}

/// One sample per relationship change, in `PAIR_TYPES` order (the round-trip test checks it).
const PAIR_SAMPLES: [fn() -> Event; 8] = [
    || {
        sample_pair(PairChange::FriendRequested {
            note: Some("we met at the conference".into()),
        })
    },
    || sample_pair(PairChange::FriendAccepted),
    || sample_pair(PairChange::FriendRejected),
    || sample_pair(PairChange::FriendRequestCanceled),
    || sample_pair(PairChange::FriendRemoved),
    || sample_pair(PairChange::FriendAdded),
    || sample_pair(PairChange::Blocked),
    || sample_pair(PairChange::Unblocked),
];

#[cfg(test)]
mod tests {
    //! `schemas/` must match the code: regenerate with `TIDINGS_BLESS=1 cargo test -p tidings-events`.
    use super::*;
    use crate::codec;
    use std::path::PathBuf;

    fn schemas_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
    }

    fn bless() -> bool {
        std::env::var_os("TIDINGS_BLESS").is_some()
    }

    #[test]
    fn schema_files_match_the_code() {
        let dir = schemas_dir();
        for entry in entries() {
            let path = dir.join(format!("{}.schema.json", entry.file_stem()));
            let generated = serde_json::to_string_pretty(&(entry.schema)()).unwrap() + "\n";
            if bless() {
                std::fs::write(&path, &generated).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run with TIDINGS_BLESS=1)", path.display()));
            assert_eq!(
                on_disk,
                generated,
                "{} is out of date with the code: a published version must not change; add a new version",
                path.display()
            );
        }
    }

    #[test]
    fn golden_samples_decode_to_their_events() {
        let dir = schemas_dir();
        for entry in entries() {
            let path = dir.join(format!("{}.golden.msgpack", entry.file_stem()));
            let sample = (entry.sample)();
            let encoded = codec::encode(&sample);
            if bless() && encoded.version == entry.version {
                std::fs::write(&path, &encoded.payload).unwrap();
            }
            let golden = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run with TIDINGS_BLESS=1)", path.display()));
            let decoded = codec::decode(entry.event_type, entry.version, &golden)
                .unwrap_or_else(|e| panic!("{} no longer decodes: {e}", path.display()));
            assert_eq!(decoded, sample, "{}", path.display());
        }
    }

    #[test]
    fn no_stale_files_in_schemas() {
        let known: Vec<String> = entries()
            .iter()
            .flat_map(|e| {
                let stem = e.file_stem();
                [
                    format!("{stem}.schema.json"),
                    format!("{stem}.golden.msgpack"),
                ]
            })
            .collect();
        for file in std::fs::read_dir(schemas_dir()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".schema.json") || name.ends_with(".golden.msgpack") {
                assert!(
                    known.contains(&name),
                    "schemas/{name} belongs to no event version"
                );
            }
        }
    }
}
