//! One NATS subscription per connected user (its push subject, which carries live entries and
//! typing notices), shared by all of that user's connections in this gateway, fanned out
//! through one broadcast channel. The subscription ends with the last connection.

use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tidings_domain::{AppId, UserId};
use tidings_events::{headers, subjects};
use tidings_store::Entry;
use tokio::sync::broadcast;

use crate::typing::Typing;

/// How long a new subscription waits for the server to confirm it. While NATS is down the
/// flush would wait for the reconnect, holding the client's `hello` (and a stopping gateway)
/// that long; past this the `hello` is answered `unavailable` instead.
const SUBSCRIBE_CONFIRM: std::time::Duration = std::time::Duration::from_secs(5);

/// What a user's push subject carries to each of the user's connections. Entries and typing
/// notices share one channel (one buffer per connected user, not two): a connection that falls
/// behind by either kind is told it lagged, refills its entries from the store, and has simply
/// missed the notices (they are ephemeral).
///
/// Always in one `Arc` shared by the user's connections: boxing the entry would cost every
/// push an allocation to save a rare notice's 250 bytes.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Push {
    Entry(Entry),
    Typing(Typing),
}

struct Topic {
    sender: broadcast::Sender<Arc<Push>>,
    connections: usize,
    task: tokio::task::JoinHandle<()>,
}

type Topics = Arc<Mutex<HashMap<String, Topic>>>;

/// The per-user fan-out.
#[derive(Clone)]
pub struct Hub {
    client: async_nats::Client,
    topics: Topics,
    capacity: usize,
}

/// A connection's share of a user's subscription; dropping it leaves. It holds the topics
/// alone, not a `Hub` (whose NATS client handle is ~160 bytes): it lives in every idle
/// connection.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<Push>>,
    topics: Topics,
    subject: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(topic) = topics.get_mut(&self.subject) {
            topic.connections -= 1;
            if topic.connections == 0 {
                topic.task.abort();
                topics.remove(&self.subject);
            }
        }
    }
}

impl Hub {
    /// A hub on `client`; each connection may fall `capacity` pushes behind before it is
    /// told it lagged (and then refills from the store).
    pub fn new(client: async_nats::Client, capacity: usize) -> Self {
        Self {
            client,
            topics: Arc::new(Mutex::new(HashMap::new())),
            capacity,
        }
    }

    /// The NATS connection, for publishing typing notices.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Joins the user's live entries. When this returns, the server has registered the
    /// subscription, so every entry pushed from now on is received.
    pub async fn subscribe(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> Result<Subscription, async_nats::Error> {
        let subject = subjects::push(app, user);
        let existing = {
            let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
            topics.get_mut(&subject).map(|topic| {
                topic.connections += 1;
                topic.sender.subscribe()
            })
        };
        let receiver = match existing {
            Some(receiver) => receiver,
            None => {
                let mut nats = self.client.subscribe(subject.clone()).await?;
                tokio::time::timeout(SUBSCRIBE_CONFIRM, self.client.flush())
                    .await
                    .map_err(|_| "NATS did not confirm the subscription in time")??;
                let (sender, receiver) = broadcast::channel(self.capacity);
                let fanout = sender.clone();
                let task = tokio::spawn(async move {
                    while let Some(message) = nats.next().await {
                        fan_out(&message, &fanout);
                    }
                });
                let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
                match topics.get_mut(&subject) {
                    // Another connection of the same user subscribed meanwhile: share theirs.
                    Some(topic) => {
                        task.abort();
                        topic.connections += 1;
                        topic.sender.subscribe()
                    }
                    None => {
                        topics.insert(
                            subject.clone(),
                            Topic {
                                sender,
                                connections: 1,
                                task,
                            },
                        );
                        receiver
                    }
                }
            }
        };
        Ok(Subscription {
            receiver,
            topics: self.topics.clone(),
            subject,
        })
    }
}

/// Hands one message of a user's push subject to the connections: an inbox entry, or a typing
/// notice when its header says so.
fn fan_out(message: &async_nats::Message, pushes: &broadcast::Sender<Arc<Push>>) {
    let kind = message
        .headers
        .as_ref()
        .and_then(|h| h.get(headers::PUSH_KIND));
    match kind.map(|k| k.as_str()) {
        None => match tidings_store::entry_decode::from_msgpack(&message.payload) {
            Ok(entry) => {
                let _ = pushes.send(Arc::new(Push::Entry(entry)));
            }
            Err(error) => tracing::error!(%error, "unreadable push"),
        },
        Some(headers::PUSH_KIND_TYPING) => {
            match serde_json::from_slice::<Typing>(&message.payload) {
                Ok(notice) => {
                    let _ = pushes.send(Arc::new(Push::Typing(notice)));
                }
                Err(error) => tracing::error!(%error, "unreadable typing notice"),
            }
        }
        Some(other) => tracing::warn!(kind = other, "push of an unknown kind ignored"),
    }
}
