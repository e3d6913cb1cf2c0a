//! The JetStream streams and consumers under `nats/`, embedded and applied idempotently.

use async_nats::jetstream::{self, consumer::pull, stream};

const EVENTS_STREAM_JSON: &str = include_str!("../../../nats/streams/events.json");
const DEAD_LETTER_STREAM_JSON: &str = include_str!("../../../nats/streams/dead_letters.json");
const PROJECTOR_CONSUMER_JSON: &str = include_str!("../../../nats/consumers/projector.json");

/// The stream definitions, with `replicas` applied.
pub fn streams(replicas: usize) -> Vec<stream::Config> {
    [EVENTS_STREAM_JSON, DEAD_LETTER_STREAM_JSON]
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

/// Creates or updates every stream. Safe to call from every process at every start.
pub async fn provision(js: &jetstream::Context, replicas: usize) -> Result<(), async_nats::Error> {
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
    }
}
