//! Partition leases in a NATS KV bucket. A lease is a key (`p<index>`) created only when absent
//! and kept alive by compare-and-set updates; the bucket's `max_age` expires the key of an
//! instance that stops renewing, after which any other instance may create it.
//!
//! Fencing: an instance trusts its lease only until `ttl - ttl/3` after the renewal it last
//! saw succeed, while another instance can take the key no sooner than `ttl` after that
//! renewal reached the server. So a paused or partitioned instance stops writing before its
//! partition can change hands; only a batch already inside the store call can finish late.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bucket holding projector leases and live instances.
pub const BUCKET: &str = "TIDINGS_PROJECTOR_LEASES";

/// Until when a lease may be trusted. Cloned into the partition's projector, which checks it
/// before every store write.
#[derive(Debug, Clone)]
pub struct Fence {
    valid_until: Arc<Mutex<Instant>>,
}

impl Fence {
    fn new(valid_until: Instant) -> Self {
        Self {
            valid_until: Arc::new(Mutex::new(valid_until)),
        }
    }

    fn extend(&self, valid_until: Instant) {
        *self.valid_until.lock().unwrap_or_else(|e| e.into_inner()) = valid_until;
    }

    /// Whether the lease may still be trusted.
    pub fn holds(&self) -> bool {
        Instant::now() < *self.valid_until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One held lease.
#[derive(Debug)]
pub struct Lease {
    revision: u64,
    pub fence: Fence,
}

/// This instance's view of the bucket.
pub struct Leases {
    kv: kv::Store,
    instance: String,
    ttl: Duration,
}

fn partition_key(index: u32) -> String {
    format!("p{index}")
}

const INSTANCE_PREFIX: &str = "instance.";

impl Leases {
    /// Opens (creating if needed) the bucket, replicated like the events stream. `ttl` is how
    /// long an unrenewed lease lives.
    pub async fn open(
        js: &jetstream::Context,
        instance: String,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let kv = match js.get_key_value(BUCKET).await {
            Ok(kv) => kv,
            Err(_) => {
                let replicas = js
                    .get_stream(tidings_events::subjects::EVENTS_STREAM)
                    .await?
                    .info()
                    .await?
                    .config
                    .num_replicas;
                js.create_key_value(kv::Config {
                    bucket: BUCKET.to_owned(),
                    description: "Projector partition leases".to_owned(),
                    history: 1,
                    max_age: ttl,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await?
            }
        };
        Ok(Self { kv, instance, ttl })
    }

    fn trusted_until(&self, renewed_at: Instant) -> Instant {
        renewed_at + self.ttl - self.ttl / 3
    }

    /// How often leases and the instance key are renewed.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 4
    }

    /// Announces this instance as alive and returns how many instances are.
    pub async fn heartbeat(&self) -> anyhow::Result<usize> {
        self.kv
            .put(
                format!("{INSTANCE_PREFIX}{}", self.instance),
                Bytes::copy_from_slice(self.instance.as_bytes()),
            )
            .await?;
        let mut keys = self.kv.keys().await?;
        let mut alive = 0;
        while let Some(key) = keys.next().await {
            if key?.starts_with(INSTANCE_PREFIX) {
                alive += 1;
            }
        }
        Ok(alive.max(1))
    }

    /// Takes partition `index` if no live instance holds it.
    pub async fn acquire(&self, index: u32) -> Option<Lease> {
        let started = Instant::now();
        let value = Bytes::copy_from_slice(self.instance.as_bytes());
        let revision = self.kv.create(partition_key(index), value).await.ok()?;
        Some(Lease {
            revision,
            fence: Fence::new(self.trusted_until(started)),
        })
    }

    /// Renews a held lease; `false` when it was lost (expired and taken by another instance).
    /// A renewal that fails for another reason (NATS unreachable for a moment) keeps the lease
    /// without extending its fence: if renewals keep failing, the fence lapses and the
    /// partition stops writing until one succeeds or the lease turns out to be lost.
    pub async fn renew(&self, index: u32, lease: &mut Lease) -> bool {
        let started = Instant::now();
        let key = partition_key(index);
        let value = Bytes::copy_from_slice(self.instance.as_bytes());
        match self.kv.update(&key, value.clone(), lease.revision).await {
            Ok(revision) => {
                lease.revision = revision;
                lease.fence.extend(self.trusted_until(started));
                true
            }
            // A renewal that timed out may still have landed: the key is ours while it holds
            // our id, at whatever revision.
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                match self.kv.entry(&key).await {
                    Ok(Some(entry))
                        if entry.operation == kv::Operation::Put && entry.value == value =>
                    {
                        lease.revision = entry.revision;
                        true
                    }
                    _ => {
                        tracing::warn!(
                            partition = index,
                            "projector lease lost to another instance"
                        );
                        false
                    }
                }
            }
            Err(error) => {
                tracing::warn!(partition = index, %error, "projector lease not renewed; retrying");
                true
            }
        }
    }

    /// Gives a lease back so another instance can take it at once.
    pub async fn release(&self, index: u32, lease: Lease) {
        lease.fence.extend(Instant::now());
        if let Err(error) = self
            .kv
            .delete_expect_revision(partition_key(index), Some(lease.revision))
            .await
        {
            tracing::warn!(partition = index, %error, "releasing a projector lease failed");
        }
    }

    /// Removes this instance's key when it stops.
    pub async fn leave(&self) {
        let _ = self
            .kv
            .delete(format!("{INSTANCE_PREFIX}{}", self.instance))
            .await;
    }
}
