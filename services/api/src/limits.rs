//! Rate limits beyond one connection's: messages per user per second over all of the user's
//! devices, connections and instances (a counter per user and second in the `TIDINGS_LIMITS`
//! KV bucket, incremented with compare-and-set), and an app's signed server-API requests per
//! second on each api instance (a token bucket in memory).
//!
//! The per-user counter is a fixed window: at most the limit in each wall-clock second, so up
//! to twice the limit can pass in a second that straddles two windows. Its cost is two
//! JetStream round trips per message (read the counter, write it with the revision read), more
//! when a user's devices send at the same instant and a write loses the race.

use crate::apps::Apps;
use crate::error::ApiError;
use async_nats::jetstream::kv;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use tidings_domain::{AppId, UserId};
use tidings_events::definitions;
use tidings_runtime::metrics as names;

/// Attempts at incrementing a counter before the message is refused.
const CAS_ATTEMPTS: usize = 16;

/// Each app's server-API bucket on this instance, with the limit it was made for.
type AppBuckets = HashMap<AppId, (u32, Arc<DefaultDirectRateLimiter>)>;

/// The per-user message counters and the per-app request buckets.
#[derive(Clone)]
pub struct Limits {
    kv: kv::Store,
    apps: Apps,
    server_api: Arc<Mutex<AppBuckets>>,
}

impl Limits {
    /// Provisions the counters bucket.
    pub async fn open(
        js: &async_nats::jetstream::Context,
        replicas: usize,
        apps: Apps,
    ) -> anyhow::Result<Self> {
        let kv = js
            .create_or_update_key_value(definitions::limits_bucket(replicas))
            .await?;
        Ok(Self {
            kv,
            apps,
            server_api: Arc::default(),
        })
    }

    /// Counts one message of `user`, or refuses it (`rate_limited`, retry at the next second)
    /// when the app's `user_msgs_per_sec` are used up in this second.
    pub async fn user_message(&self, app: &AppId, user: &UserId) -> Result<(), ApiError> {
        let limit = self.apps.user_msgs_per_sec(app);
        if limit == 0 {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let key = format!("{app}.{user}.{}", now.div_euclid(1000));
        let retry_after_ms = 1000 - now.rem_euclid(1000) as u64;
        let refuse = |why: &str| {
            metrics::counter!(names::RATE_LIMITED, "scope" => "user").increment(1);
            tracing::info!(%app, %user, limit, "{why}");
            ApiError::rate_limited(
                format!("more than {limit} messages per second from this user"),
                retry_after_ms,
            )
        };
        for _ in 0..CAS_ATTEMPTS {
            let entry = self
                .kv
                .entry(key.clone())
                .await
                .map_err(|e| ApiError::unavailable("reading a rate counter", e))?
                .filter(|e| e.operation == kv::Operation::Put);
            let written = match entry {
                None => self
                    .kv
                    .create(&key, "1".into())
                    .await
                    .map(drop)
                    .map_err(|e| {
                        (
                            e.kind() == kv::CreateErrorKind::AlreadyExists,
                            e.to_string(),
                        )
                    }),
                Some(entry) => {
                    let count: u32 = std::str::from_utf8(&entry.value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(u32::MAX);
                    if count >= limit {
                        return Err(refuse("a user's message limit refused a message"));
                    }
                    self.kv
                        .update(&key, (count + 1).to_string().into(), entry.revision)
                        .await
                        .map(drop)
                        .map_err(|e| {
                            (
                                e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                                e.to_string(),
                            )
                        })
                }
            };
            match written {
                Ok(()) => return Ok(()),
                // Another of the user's messages counted first: count on top of it.
                Err((true, _)) => continue,
                Err((false, error)) => {
                    return Err(ApiError::unavailable("counting a user's message", error));
                }
            }
        }
        Err(refuse("a user's message counter kept changing"))
    }

    /// Takes one of the app's server-API requests on this instance, or refuses it
    /// (`rate_limited`) when the app's `server_api_per_sec` are used up.
    pub fn server_request(&self, app: &AppId) -> Result<(), ApiError> {
        let Some(limit) = NonZeroU32::new(self.apps.server_api_per_sec(app)) else {
            return Ok(());
        };
        let limiter = {
            let mut buckets = self.server_api.lock().unwrap_or_else(|e| e.into_inner());
            let bucket = buckets
                .entry(app.clone())
                .or_insert_with(|| (0, Arc::new(RateLimiter::direct(Quota::per_second(limit)))));
            if bucket.0 != limit.get() {
                *bucket = (
                    limit.get(),
                    Arc::new(RateLimiter::direct(Quota::per_second(limit))),
                );
            }
            bucket.1.clone()
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!(names::RATE_LIMITED, "scope" => "server_api").increment(1);
            tracing::info!(%app, limit, "an app's server-API limit refused a request");
            ApiError::rate_limited(
                format!("more than {limit} server-API requests per second from this app"),
                (wait.as_millis() as u64).max(1),
            )
        })
    }
}
