//! The JetStream streams, consumers, KV and object store buckets under `nats/`, embedded and
//! applied idempotently.

use async_nats::jetstream::consumer::{DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, kv, object_store, stream};
use serde::Deserialize;
use std::time::Duration;

const EVENTS_STREAM_JSON: &str = include_str!("../../../nats/streams/events.json");
const DEAD_LETTER_STREAM_JSON: &str = include_str!("../../../nats/streams/dead_letters.json");
const PROJECTOR_CONSUMER_JSON: &str = include_str!("../../../nats/consumers/projector.json");
const PUSH_CONSUMER_JSON: &str = include_str!("../../../nats/consumers/push.json");
const SNAPSHOTS_BUCKET_JSON: &str = include_str!("../../../nats/kv/snapshots.json");
const PRESENCE_BUCKET_JSON: &str = include_str!("../../../nats/kv/presence.json");
const WORDS_BUCKET_JSON: &str = include_str!("../../../nats/kv/words.json");
const LIMITS_BUCKET_JSON: &str = include_str!("../../../nats/kv/limits.json");
const FILES_BUCKET_JSON: &str = include_str!("../../../nats/objects/files.json");
const FEED_STREAM_JSON: &str = include_str!("../../../nats/streams/feed.json");
const FEED_PROJECTOR_CONSUMER_JSON: &str =
    include_str!("../../../nats/consumers/feed_projector.json");
const FEED_WEBHOOKS_CONSUMER_JSON: &str =
    include_str!("../../../nats/consumers/feed_webhooks.json");

/// The stream definitions, with `replicas` applied.
pub fn streams(replicas: usize) -> Vec<stream::Config> {
    [
        EVENTS_STREAM_JSON,
        DEAD_LETTER_STREAM_JSON,
        FEED_STREAM_JSON,
    ]
    .into_iter()
    .map(|json| {
        let mut config: stream::Config =
            serde_json::from_str(json).expect("nats/streams/*.json is valid (tested)");
        config.num_replicas = replicas;
        config
    })
    .collect()
}

/// The projector's durable consumer definition.
pub fn projector_consumer() -> pull::Config {
    serde_json::from_str(PROJECTOR_CONSUMER_JSON).expect("nats/consumers/projector.json is valid")
}

/// The feed projector's durable consumer on the events stream.
pub fn feed_projector_consumer() -> pull::Config {
    serde_json::from_str(FEED_PROJECTOR_CONSUMER_JSON)
        .expect("nats/consumers/feed_projector.json is valid (tested)")
}

/// The feed webhooks' durable consumer on the feed stream.
pub fn feed_webhooks_consumer() -> pull::Config {
    serde_json::from_str(FEED_WEBHOOKS_CONSUMER_JSON)
        .expect("nats/consumers/feed_webhooks.json is valid (tested)")
}

/// The push worker's durable consumer definition (message subjects only).
pub fn push_consumer() -> pull::Config {
    serde_json::from_str(PUSH_CONSUMER_JSON).expect("nats/consumers/push.json is valid")
}

/// Makes the durable pull consumer `config` names afresh, delivering from the stream sequence
/// after `after` (from the first when 0). One of that name is deleted first: a consumer's
/// position is set only when it is created, and an existing one is never reused, because a
/// consumer whose leader died with a node can stay stuck (the cluster test found one).
pub async fn place_consumer(
    stream: &stream::Stream,
    mut config: pull::Config,
    after: u64,
) -> Result<PullConsumer, stream::ConsumerError> {
    let name = config.durable_name.clone().expect("a durable consumer");
    if stream.consumer_info(&name).await.is_ok() {
        stream.delete_consumer(&name).await?;
    }
    config.deliver_policy = if after == 0 {
        DeliverPolicy::All
    } else {
        DeliverPolicy::ByStartSequence {
            start_sequence: after + 1,
        }
    };
    stream.create_consumer(config).await
}

/// A KV bucket as `nats/kv/*.json` states it (`kv::Config` has no serde form of its own).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketDefinition {
    bucket: String,
    description: String,
    history: i64,
    max_value_size: i32,
    max_bytes: i64,
    max_age_secs: u64,
    /// How long the server keeps the delete marker it places when `max_age` removes a key's
    /// last value (nats-server >= 2.11); absent, expiries are silent.
    #[serde(default)]
    limit_markers_secs: Option<u64>,
    compression: bool,
}

impl BucketDefinition {
    fn config(json: &str, replicas: usize) -> kv::Config {
        let definition: BucketDefinition =
            serde_json::from_str(json).expect("nats/kv/*.json is valid (tested)");
        kv::Config {
            bucket: definition.bucket,
            description: definition.description,
            history: definition.history,
            max_value_size: definition.max_value_size,
            max_bytes: definition.max_bytes,
            max_age: Duration::from_secs(definition.max_age_secs),
            limit_markers: definition.limit_markers_secs.map(Duration::from_secs),
            compression: definition.compression,
            num_replicas: replicas,
            ..Default::default()
        }
    }
}

/// The aggregate snapshots bucket (`nats/kv/snapshots.json`), with `replicas` applied.
pub fn snapshots_bucket(replicas: usize) -> kv::Config {
    BucketDefinition::config(SNAPSHOTS_BUCKET_JSON, replicas)
}

/// The presence bucket (`nats/kv/presence.json`), with `replicas` applied.
pub fn presence_bucket(replicas: usize) -> kv::Config {
    BucketDefinition::config(PRESENCE_BUCKET_JSON, replicas)
}

/// The sensitive-word lists bucket (`nats/kv/words.json`), with `replicas` applied.
pub fn words_bucket(replicas: usize) -> kv::Config {
    BucketDefinition::config(WORDS_BUCKET_JSON, replicas)
}

/// The per-user message counters bucket (`nats/kv/limits.json`), with `replicas` applied.
pub fn limits_bucket(replicas: usize) -> kv::Config {
    BucketDefinition::config(LIMITS_BUCKET_JSON, replicas)
}

/// The uploaded files' object store bucket (`nats/objects/files.json`), with `replicas`
/// applied: files are replicated like the events stream whose messages name them.
pub fn files_bucket(replicas: usize) -> object_store::Config {
    let mut config: object_store::Config =
        serde_json::from_str(FILES_BUCKET_JSON).expect("nats/objects/files.json is valid (tested)");
    config.num_replicas = replicas;
    config
}

/// Creates or updates every stream and the presence bucket. Safe to call from every process at
/// every start.
pub async fn provision(js: &jetstream::Context, replicas: usize) -> Result<(), async_nats::Error> {
    js.create_or_update_key_value(presence_bucket(replicas))
        .await?;
    for config in streams(replicas) {
        let name = config.name.clone();
        match js.get_stream(&name).await {
            Ok(mut existing) => {
                let current = existing.info().await?.config.clone();
                if current.subjects != config.subjects
                    || current.max_message_size != config.max_message_size
                    || current.duplicate_window != config.duplicate_window
                    || current.max_age != config.max_age
                {
                    js.update_stream(config).await?;
                }
            }
            Err(_) => {
                js.create_stream(config).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_parse() {
        let streams = streams(3);
        assert_eq!(streams[0].name, crate::subjects::EVENTS_STREAM);
        assert_eq!(streams[1].name, crate::subjects::DEAD_LETTER_STREAM);
        assert!(streams.iter().all(|s| s.num_replicas == 3));
        assert!(streams[0].allow_direct);
        let consumer = projector_consumer();
        assert_eq!(consumer.durable_name.as_deref(), Some("projector-inbox"));
        assert_eq!(streams[2].name, crate::subjects::FEED_STREAM);
        assert_eq!(
            feed_projector_consumer().durable_name.as_deref(),
            Some("feed-projector")
        );
        assert_eq!(
            feed_webhooks_consumer().durable_name.as_deref(),
            Some("feed-webhooks")
        );
        let snapshots = snapshots_bucket(3);
        assert_eq!(snapshots.bucket, "TIDINGS_SNAPSHOTS");
        let presence = presence_bucket(3);
        assert_eq!(presence.bucket, "TIDINGS_PRESENCE");
        assert_eq!(presence.max_age, Duration::ZERO);
        assert!(presence.limit_markers.is_some());
        assert_eq!((snapshots.history, snapshots.num_replicas), (1, 3));
        assert_eq!(words_bucket(3).bucket, "TIDINGS_WORDS");
        assert_eq!(limits_bucket(3).max_age, Duration::from_secs(10));
        let files = files_bucket(3);
        assert_eq!(files.bucket, "TIDINGS_FILES");
        assert_eq!(files.num_replicas, 3);
        assert_eq!(files.storage, stream::StorageType::File);
    }
}
