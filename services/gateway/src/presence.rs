//! Presence (docs/design/devices-presence.md, docs/design/wip-presence.md): one key per open
//! session in the `TIDINGS_PRESENCE` KV bucket (`nats/kv/presence.json`),
//! `<app>.<user>.<device hex>.<session>`. A session's key is put when its `hello` is welcomed,
//! refreshed by one gateway-wide task every `REFRESH` (no task per session), and purged when the
//! session ends. Every put carries a per-message TTL of `SESSION_TTL` (nats-server >= 2.11): a
//! killed gateway's keys stop being refreshed, the server removes each at most 30 s after its
//! last refresh and places a subject delete marker that every watcher sees, so that gateway's
//! users go offline within 30 s of the kill.
//!
//! A user is online while any key under `<app>.<user>.` exists, whichever gateway put it.

use crate::errors::store_error;
use async_nats::jetstream::{self, consumer, kv};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::tokens::Principal;
use tidings_domain::{AppId, UserId};
use tidings_store::RelationStore;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a session's key lives without a refresh: the bound for a killed gateway's sessions
/// to go offline (docs/protocol.md).
pub const SESSION_TTL: Duration = Duration::from_secs(30);

/// How often the gateway refreshes its sessions' keys; a third of `SESSION_TTL`, so two
/// refreshes may be lost before a live session's key expires.
pub const REFRESH: Duration = Duration::from_secs(10);

/// How long a purge marker of a closed session stays: watchers read a user's `last_seen` from
/// the newest marker, so it is known for a day after the user's last session ended
/// (`limit_markers_secs` in `nats/kv/presence.json` keeps expiry markers as long).
const MARKER_TTL: Duration = Duration::from_secs(86_400);

/// The presence bucket.
pub const BUCKET: &str = "TIDINGS_PRESENCE";

/// Refuses a list of users to watch that is empty or longer than the app's cap.
pub fn check_watch_list(users: &[UserId], cap: usize) -> Result<(), ApiError> {
    if users.is_empty() || users.len() > cap {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("users must list 1-{cap} users"),
        ));
    }
    Ok(())
}

/// The users a subscription naming nobody watches when the app enables friends by default:
/// the caller's friends (not blocked), at most `cap` of them.
pub async fn friends<S: RelationStore>(
    store: &S,
    principal: &Principal,
    cap: usize,
) -> Result<Vec<UserId>, ApiError> {
    let relations = store
        .relations(&principal.app, &principal.user)
        .await
        .map_err(store_error)?;
    Ok(relations
        .into_iter()
        .filter(|r| r.friend && !r.blocked)
        .map(|r| r.user)
        .take(cap)
        .collect())
}

/// `users` without repeats, in first-seen order (a consumer refuses overlapping filters).
pub fn distinct(users: Vec<UserId>) -> Vec<UserId> {
    let mut seen = HashSet::new();
    users
        .into_iter()
        .filter(|user| seen.insert(user.clone()))
        .collect()
}

/// One user's presence as a `presence` frame states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPresence {
    pub user: UserId,
    pub online: bool,
    /// When the user's last session ended (milliseconds), if this watcher saw it.
    pub last_seen: Option<i64>,
}

/// The gateway's presence keys. Cheap to clone: every open session's `Seat` holds one.
#[derive(Clone)]
pub struct Presence(Arc<Inner>);

struct Inner {
    kv: kv::Store,
    js: jetstream::Context,
    open: Mutex<HashSet<String>>,
}

/// An open session's key; dropping it purges the key.
pub struct Seat {
    presence: Presence,
    key: String,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.presence
            .0
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        let kv = self.presence.0.kv.clone();
        let key = std::mem::take(&mut self.key);
        tokio::spawn(async move {
            if let Err(error) = kv.purge_with_ttl(&key, MARKER_TTL).await {
                tracing::warn!(%error, key, "presence key not purged; it expires");
            }
        });
    }
}

pub(crate) fn user_prefix(app: &AppId, user: &UserId) -> String {
    format!("{}.{}.", app.as_str(), user.as_str())
}

/// Device ids are free text; keys allow few characters, so the device goes in as hex.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

impl Presence {
    /// The bucket, which `definitions::provision` created.
    pub async fn open(js: jetstream::Context) -> anyhow::Result<Self> {
        let kv = js.get_key_value(BUCKET).await?;
        Ok(Self(Arc::new(Inner {
            kv,
            js,
            open: Mutex::default(),
        })))
    }

    /// The JetStream context the bucket lives in.
    pub(crate) fn jetstream(&self) -> &jetstream::Context {
        &self.0.js
    }

    /// Marks a session of `user` on `device` online until the returned seat drops.
    pub async fn enter(
        &self,
        app: &AppId,
        user: &UserId,
        device: &str,
    ) -> Result<Seat, async_nats::Error> {
        let key = format!(
            "{}{}.{}",
            user_prefix(app, user),
            hex(device),
            uuid::Uuid::now_v7().simple()
        );
        self.put(&key).await?;
        self.0
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone());
        Ok(Seat {
            presence: self.clone(),
            key,
        })
    }

    /// Puts `key` with `SESSION_TTL` (the KV API sets a TTL only when creating a key).
    async fn put(&self, key: &str) -> Result<(), async_nats::Error> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-TTL", SESSION_TTL.as_secs().to_string().as_str());
        self.0
            .js
            .publish_with_headers(format!("$KV.{BUCKET}.{key}"), headers, Default::default())
            .await?
            .await?;
        Ok(())
    }

    /// Refreshes every open session's key each `REFRESH` until `shutdown`.
    pub async fn refresh(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let keys: Vec<String> = self
                .0
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect();
            for key in keys {
                if let Err(error) = self.put(&key).await {
                    tracing::warn!(%error, key, "presence refresh failed");
                }
            }
        }
    }

    /// Watches `users`: their current presence first (one frame each), then every change, on
    /// the returned channel, until it is dropped.
    pub async fn watch(
        &self,
        app: &AppId,
        users: Vec<UserId>,
    ) -> Result<mpsc::Receiver<UserPresence>, async_nats::Error> {
        let stream = self.0.js.get_stream(format!("KV_{BUCKET}")).await?;
        let filters = users
            .iter()
            .map(|user| format!("$KV.{BUCKET}.{}>", user_prefix(app, user)))
            .collect();
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.0.js.client().new_inbox(),
                filter_subjects: filters,
                deliver_policy: consumer::DeliverPolicy::LastPerSubject,
                headers_only: true,
                ..Default::default()
            })
            .await?;
        let initial = consumer.cached_info().num_pending;
        let messages = consumer.messages().await?;
        let (sender, receiver) = mpsc::channel(users.len().max(1) * 2);
        let prefixes: Vec<(String, UserId)> = users
            .into_iter()
            .map(|user| (user_prefix(app, &user), user))
            .collect();
        tokio::spawn(follow(messages, initial, prefixes, sender));
        Ok(receiver)
    }
}

/// Per watched user: the sessions seen open and when the last one ended.
#[derive(Default)]
struct Tally {
    sessions: HashSet<String>,
    last_seen: Option<i64>,
}

async fn follow(
    mut messages: consumer::push::Ordered,
    initial: u64,
    prefixes: Vec<(String, UserId)>,
    sender: mpsc::Sender<UserPresence>,
) {
    let mut tallies: HashMap<UserId, Tally> = HashMap::new();
    let state = |tallies: &HashMap<UserId, Tally>, user: &UserId| {
        let tally = tallies.get(user);
        UserPresence {
            user: user.clone(),
            online: tally.is_some_and(|t| !t.sessions.is_empty()),
            last_seen: tally.and_then(|t| t.last_seen),
        }
    };
    let mut seen = 0;
    let mut announced = initial == 0;
    if announced {
        for (_, user) in &prefixes {
            if sender.send(state(&tallies, user)).await.is_err() {
                return;
            }
        }
    }
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "presence watch failed");
                return;
            }
        };
        let key = message
            .subject
            .as_str()
            .trim_start_matches(&format!("$KV.{BUCKET}."))
            .to_owned();
        let Some((_, user)) = prefixes.iter().find(|(p, _)| key.starts_with(p.as_str())) else {
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
        let before = state(&tallies, user).online;
        let tally = tallies.entry(user.clone()).or_default();
        if removed {
            tally.sessions.remove(&key);
            if tally.sessions.is_empty() {
                tally.last_seen = Some(tally.last_seen.map_or(at, |t| t.max(at)));
            }
        } else {
            tally.sessions.insert(key);
        }
        seen += 1;
        if !announced {
            if seen >= initial {
                announced = true;
                for (_, user) in &prefixes {
                    if sender.send(state(&tallies, user)).await.is_err() {
                        return;
                    }
                }
            }
        } else if state(&tallies, user).online != before
            && sender.send(state(&tallies, user)).await.is_err()
        {
            return;
        }
    }
}
