//! Presence changes for app servers: one gateway at a time (the holder of the `_folder` lease key
//! in the presence bucket) watches every session key of every app, counts sessions per user and
//! publishes each transition on core NATS `tid.presence.<app>.<user>` as
//! `{"user","online","last_seen"}`. Messages are states, not deltas: a consumer may see one
//! twice (a new holder re-announces the users whose keys changed in the last minute, so a
//! transition during a hand-over is not lost).
//!
//! The lease key carries a 30 s TTL and is renewed every 10 s with a compare-and-set on its
//! revision; a holder that fails to renew stops publishing, and another gateway takes over
//! within 30 s.

use crate::presence::{BUCKET, SESSION_TTL};
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tidings_events::subjects;
use tokio_util::sync::CancellationToken;

/// The lease key: two tokens, so no session filter (`<app>.<user>.<device>.<session>`) matches.
const LEASE_KEY: &str = "_folder.presence";

/// How often the holder renews and others try to take the lease.
const RENEW: Duration = Duration::from_secs(10);

/// Changes this recent are re-announced by a new holder.
const REANNOUNCE: Duration = Duration::from_secs(60);

/// Runs until `shutdown`: takes the lease when free, folds while holding it.
pub async fn run(js: jetstream::Context, shutdown: CancellationToken) {
    let instance = uuid::Uuid::now_v7().simple().to_string();
    loop {
        if let Some(revision) = acquire(&js, &instance).await {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                () = hold(&js, &instance, revision) => {}
                () = fold(&js) => {}
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RENEW) => {}
        }
    }
}

fn lease_headers(expected: Option<u64>) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-TTL", SESSION_TTL.as_secs().to_string().as_str());
    match expected {
        Some(revision) => headers.insert(
            "Nats-Expected-Last-Subject-Sequence",
            revision.to_string().as_str(),
        ),
        // Only when the key has no live value (absent, deleted or expired).
        None => headers.insert("Nats-Expected-Last-Subject-Sequence", "0"),
    }
    headers
}

/// Publishes the lease if free; its revision when taken. An expired lease leaves a delete
/// marker, so "free" is "the last message is not a live value".
async fn acquire(js: &jetstream::Context, instance: &str) -> Option<u64> {
    let subject = format!("$KV.{BUCKET}.{LEASE_KEY}");
    let expected = match js.get_stream(format!("KV_{BUCKET}")).await {
        Ok(stream) => match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => {
                let live = message.headers.get("KV-Operation").is_none()
                    && message.headers.get("Nats-Marker-Reason").is_none();
                if live {
                    return None;
                }
                Some(message.sequence)
            }
            Err(_) => None,
        },
        Err(error) => {
            tracing::warn!(%error, "presence bucket unavailable");
            return None;
        }
    };
    let published = js
        .publish_with_headers(subject, lease_headers(expected), instance.to_owned().into())
        .await
        .ok()?
        .await
        .ok()?;
    tracing::info!(instance, "presence folder lease taken");
    Some(published.sequence)
}

/// Renews the lease every `RENEW`; returns when a renewal fails.
async fn hold(js: &jetstream::Context, instance: &str, mut revision: u64) {
    let subject = format!("$KV.{BUCKET}.{LEASE_KEY}");
    loop {
        tokio::time::sleep(RENEW).await;
        let renewed = async {
            js.publish_with_headers(
                subject.clone(),
                lease_headers(Some(revision)),
                instance.to_owned().into(),
            )
            .await?
            .await
            .map_err(async_nats::Error::from)
        }
        .await;
        match renewed {
            Ok(ack) => revision = ack.sequence,
            Err(error) => {
                tracing::warn!(%error, "presence folder lease lost");
                return;
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    sessions: HashSet<String>,
    last_seen: Option<i64>,
    changed_at: i64,
}

/// Folds every session key into per-user counts and publishes transitions; returns when the
/// watch fails.
async fn fold(js: &jetstream::Context) {
    let client = js.client();
    let consumer = async {
        let stream = js.get_stream(format!("KV_{BUCKET}")).await?;
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: client.new_inbox(),
                filter_subject: format!("$KV.{BUCKET}.*.*.*.*"),
                deliver_policy: consumer::DeliverPolicy::LastPerSubject,
                headers_only: true,
                ..Default::default()
            })
            .await?;
        let initial = consumer.cached_info().num_pending;
        Ok::<_, async_nats::Error>((initial, consumer.messages().await?))
    }
    .await;
    let (initial, mut messages) = match consumer {
        Ok(started) => started,
        Err(error) => {
            tracing::warn!(%error, "presence folder cannot watch");
            return;
        }
    };
    let mut tallies: HashMap<(String, String), Tally> = HashMap::new();
    let mut seen = 0;
    let publish = |app: &str, user: &str, tally: &Tally| {
        let payload = json!({
            "user": user,
            "online": !tally.sessions.is_empty(),
            "last_seen": tally.last_seen,
        });
        let client = client.clone();
        let subject = subjects::presence(app, user);
        async move {
            if let Err(error) = client.publish(subject, payload.to_string().into()).await {
                tracing::warn!(%error, "presence change not published");
            }
        }
    };
    if initial == 0 {
        seen = u64::MAX;
    }
    while let Some(message) = messages.next().await {
        let Ok(message) = message else {
            tracing::warn!("presence folder watch ended");
            return;
        };
        let key = message
            .subject
            .as_str()
            .trim_start_matches(&format!("$KV.{BUCKET}."));
        let mut parts = key.split('.');
        let (Some(app), Some(user)) = (parts.next(), parts.next()) else {
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
        let tally = tallies
            .entry((app.to_owned(), user.to_owned()))
            .or_default();
        let before = !tally.sessions.is_empty();
        if removed {
            tally.sessions.remove(key);
            if tally.sessions.is_empty() {
                tally.last_seen = Some(tally.last_seen.map_or(at, |t| t.max(at)));
            }
        } else {
            tally.sessions.insert(key.to_owned());
        }
        let flipped = tally.sessions.is_empty() == before;
        if flipped {
            tally.changed_at = at;
        }
        if seen == u64::MAX {
            if flipped {
                publish(app, user, tally).await;
            }
            continue;
        }
        seen += 1;
        if seen >= initial {
            seen = u64::MAX;
            let recent = chrono::Utc::now().timestamp_millis() - REANNOUNCE.as_millis() as i64;
            for ((app, user), tally) in &tallies {
                if tally.changed_at >= recent {
                    publish(app, user, tally).await;
                }
            }
        }
    }
}
