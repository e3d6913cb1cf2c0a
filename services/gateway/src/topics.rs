//! Shared NATS subscriptions: one per subject per gateway, however many of its sessions want
//! that subject, fanned out to them through one broadcast channel and ended with the last
//! holder. Users' push subjects (`hub`) and apps' broadcast subjects (`broadcasts`) are kept
//! this way.

use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How long a new subscription waits for the server to confirm it. While NATS is down the
/// flush would wait for the reconnect, holding the session that asked (and a stopping gateway)
/// that long; past this the subscription fails instead.
const SUBSCRIBE_CONFIRM: std::time::Duration = std::time::Duration::from_secs(5);

/// Turns one NATS message of a subject into what its holders receive, sending it on the
/// channel (or logging why it cannot).
pub type FanOut<T> = fn(&async_nats::Message, &broadcast::Sender<Arc<T>>);

struct Topic<T> {
    sender: broadcast::Sender<Arc<T>>,
    holders: usize,
    task: tokio::task::JoinHandle<()>,
}

type Topics<T> = Arc<Mutex<HashMap<String, Topic<T>>>>;

/// The subjects this gateway holds subscriptions to, and who holds each.
pub struct TopicMap<T> {
    client: async_nats::Client,
    topics: Topics<T>,
    /// How many messages a holder may fall behind before it is told it lagged.
    capacity: usize,
    fan_out: FanOut<T>,
}

impl<T> Clone for TopicMap<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            topics: self.topics.clone(),
            capacity: self.capacity,
            fan_out: self.fan_out,
        }
    }
}

/// A holder's share of a subject's subscription; dropping it leaves, and the last to leave
/// ends the subscription. It holds the map alone, not the NATS client handle (~160 bytes): one
/// lives in every idle connection.
pub struct Share<T> {
    pub receiver: broadcast::Receiver<Arc<T>>,
    topics: Topics<T>,
    subject: String,
}

impl<T> Drop for Share<T> {
    fn drop(&mut self) {
        let mut topics = lock(&self.topics);
        if let Some(topic) = topics.get_mut(&self.subject) {
            topic.holders -= 1;
            if topic.holders == 0 {
                topic.task.abort();
                topics.remove(&self.subject);
            }
        }
    }
}

impl<T: Send + Sync + 'static> TopicMap<T> {
    /// A map on `client` whose holders may fall `capacity` messages behind, each subject's
    /// messages turned into `T`s by `fan_out`.
    pub fn new(client: async_nats::Client, capacity: usize, fan_out: FanOut<T>) -> Self {
        Self {
            client,
            topics: Arc::new(Mutex::new(HashMap::new())),
            capacity,
            fan_out,
        }
    }

    /// The NATS connection the subscriptions are on.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// How many subjects are subscribed.
    pub fn subjects(&self) -> usize {
        lock(&self.topics).len()
    }

    /// Joins `subject`, subscribing on the first holder. When this returns, the server has
    /// registered the subscription, so every message published from now on is received.
    pub async fn hold(&self, subject: String) -> Result<Share<T>, async_nats::Error> {
        let receiver = match self.join(&subject) {
            Some(receiver) => receiver,
            None => self.subscribe(&subject).await?,
        };
        Ok(Share {
            receiver,
            topics: self.topics.clone(),
            subject,
        })
    }

    fn join(&self, subject: &str) -> Option<broadcast::Receiver<Arc<T>>> {
        lock(&self.topics).get_mut(subject).map(|topic| {
            topic.holders += 1;
            topic.sender.subscribe()
        })
    }

    async fn subscribe(
        &self,
        subject: &str,
    ) -> Result<broadcast::Receiver<Arc<T>>, async_nats::Error> {
        let mut nats = self.client.subscribe(subject.to_owned()).await?;
        tokio::time::timeout(SUBSCRIBE_CONFIRM, self.client.flush())
            .await
            .map_err(|_| "NATS did not confirm the subscription in time")??;
        let (sender, receiver) = broadcast::channel(self.capacity);
        let (fanout, fan_out) = (sender.clone(), self.fan_out);
        let task = tokio::spawn(async move {
            while let Some(message) = nats.next().await {
                fan_out(&message, &fanout);
            }
        });
        let mut topics = lock(&self.topics);
        Ok(match topics.get_mut(subject) {
            // Another holder subscribed meanwhile: share theirs.
            Some(topic) => {
                task.abort();
                topic.holders += 1;
                topic.sender.subscribe()
            }
            None => {
                let topic = Topic {
                    sender,
                    holders: 1,
                    task,
                };
                topics.insert(subject.to_owned(), topic);
                receiver
            }
        })
    }
}

fn lock<T>(topics: &Topics<T>) -> std::sync::MutexGuard<'_, HashMap<String, Topic<T>>> {
    topics.lock().unwrap_or_else(|e| e.into_inner())
}
