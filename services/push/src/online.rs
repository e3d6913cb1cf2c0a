//! Which of a user's devices have a session open now, read from the presence bucket the
//! gateways keep (`TIDINGS_PRESENCE`, one key `<app>.<user>.<hex device>.<session>` per open
//! session, deleted on close and expired by TTL when a gateway dies).

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::time::Duration;
use tidings_domain::{AppId, DeviceId, UserId};

/// The presence bucket.
const BUCKET: &str = "TIDINGS_PRESENCE";
/// Longest wait for the presence keys of one user.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the presence bucket.
#[derive(Clone)]
pub struct Online {
    js: jetstream::Context,
}

impl Online {
    pub fn new(js: jetstream::Context) -> Self {
        Self { js }
    }

    /// The devices of `user` with a live presence key: the last record of each session key
    /// is a put, not a delete, purge or expiry marker.
    pub async fn devices(&self, app: &AppId, user: &UserId) -> anyhow::Result<HashSet<DeviceId>> {
        let stream = self.js.get_stream(format!("KV_{BUCKET}")).await?;
        let prefix = format!("$KV.{BUCKET}.{}.{}.", app.as_str(), user.as_str());
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.js.client().new_inbox(),
                filter_subject: format!("{prefix}>"),
                deliver_policy: consumer::DeliverPolicy::LastPerSubject,
                headers_only: true,
                ..Default::default()
            })
            .await?;
        let pending = consumer.cached_info().num_pending;
        let mut online = HashSet::new();
        if pending == 0 {
            return Ok(online);
        }
        let mut messages = consumer.messages().await?;
        let mut seen = 0;
        while seen < pending {
            let message = tokio::time::timeout(READ_TIMEOUT, messages.next())
                .await
                .map_err(|_| anyhow::anyhow!("reading presence timed out"))?
                .ok_or_else(|| anyhow::anyhow!("presence read ended"))??;
            seen += 1;
            let removed = message.headers.as_ref().is_some_and(|headers| {
                headers
                    .get("KV-Operation")
                    .is_some_and(|op| op.as_str() != "PUT")
                    || headers.get("Nats-Marker-Reason").is_some()
            });
            if removed {
                continue;
            }
            let rest = message.subject.as_str().trim_start_matches(&prefix);
            if let Some(device) = rest.split('.').next().and_then(device_of_hex) {
                online.insert(device);
            }
        }
        Ok(online)
    }
}

/// The device id a presence key carries as hex.
fn device_of_hex(hex_text: &str) -> Option<DeviceId> {
    let bytes = hex::decode(hex_text).ok()?;
    DeviceId::parse(String::from_utf8(bytes).ok()?).ok()
}
