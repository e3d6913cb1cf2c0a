//! The presence of each of one user's devices, read from the presence bucket now: a device is
//! online while one of its session keys exists (on any gateway); its `last_seen` is the newest
//! write of any of its keys (a refresh while online, the purge or expiry marker once offline,
//! kept a day).

use crate::presence::{BUCKET, Presence, user_prefix};
use async_nats::jetstream::consumer;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tidings_domain::{AppId, UserId};

/// How long reading a user's keys may take.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One device's presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicePresence {
    pub online: bool,
    /// When a key of the device was last written (milliseconds), if the bucket still knows.
    pub last_seen: Option<i64>,
}

#[derive(Default)]
struct Tally {
    open: HashSet<String>,
    last_seen: Option<i64>,
}

/// Device ids go into keys as hex; this reads one back.
fn unhex(text: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Every device of `user` the bucket knows, by device id.
pub async fn of_user(
    presence: &Presence,
    app: &AppId,
    user: &UserId,
) -> Result<BTreeMap<String, DevicePresence>, async_nats::Error> {
    let js = presence.jetstream();
    let prefix = user_prefix(app, user);
    let stream = js.get_stream(format!("KV_{BUCKET}")).await?;
    let consumer = stream
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: js.client().new_inbox(),
            filter_subject: format!("$KV.{BUCKET}.{prefix}>"),
            deliver_policy: consumer::DeliverPolicy::LastPerSubject,
            headers_only: true,
            ..Default::default()
        })
        .await?;
    let pending = consumer.cached_info().num_pending;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    if pending > 0 {
        let mut messages = consumer.messages().await?;
        let read = async {
            for _ in 0..pending {
                let Some(message) = messages.next().await else {
                    break;
                };
                let message = message?;
                let key = message
                    .subject
                    .as_str()
                    .trim_start_matches(&format!("$KV.{BUCKET}.{prefix}"));
                let Some(device) = key.split('.').next().and_then(unhex) else {
                    continue;
                };
                let removed = message.headers.as_ref().is_some_and(|headers| {
                    headers
                        .get("KV-Operation")
                        .is_some_and(|op| op.as_str() != "PUT")
                        || headers.get("Nats-Marker-Reason").is_some()
                });
                let at = message
                    .info()
                    .map(|info| info.published.unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or_default() as i64;
                let tally = tallies.entry(device).or_default();
                tally.last_seen = Some(tally.last_seen.map_or(at, |t| t.max(at)));
                if !removed {
                    tally.open.insert(key.to_owned());
                }
            }
            Ok::<_, async_nats::Error>(())
        };
        tokio::time::timeout(READ_TIMEOUT, read)
            .await
            .map_err(|_| "reading device presence timed out")??;
    }
    Ok(tallies
        .into_iter()
        .map(|(device, tally)| {
            let state = DevicePresence {
                online: !tally.open.is_empty(),
                last_seen: tally.last_seen,
            };
            (device, state)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_ids_read_back_from_hex() {
        assert_eq!(super::unhex("70686f6e652d31").as_deref(), Some("phone-1"));
        assert_eq!(super::unhex("7"), None);
        assert_eq!(super::unhex("zz"), None);
    }
}
