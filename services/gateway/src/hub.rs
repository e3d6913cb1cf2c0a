//! One NATS subscription per connected user (its push subject, which carries live entries and
//! typing notices), shared by all of that user's connections in this gateway, fanned out
//! through one broadcast channel. The subscription ends with the last connection.

use std::sync::Arc;
use tidings_domain::{AppId, UserId};
use tidings_events::{headers, subjects};
use tidings_store::Entry;
use tokio::sync::broadcast;

use crate::topics::{Share, TopicMap};
use crate::typing::Typing;

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

/// The per-user fan-out.
#[derive(Clone)]
pub struct Hub(TopicMap<Push>);

/// A connection's share of its user's subscription; dropping it leaves.
pub type Subscription = Share<Push>;

impl Hub {
    /// A hub on `client`; each connection may fall `capacity` pushes behind before it is
    /// told it lagged (and then refills from the store).
    pub fn new(client: async_nats::Client, capacity: usize) -> Self {
        Self(TopicMap::new(client, capacity, fan_out))
    }

    /// The NATS connection, for publishing typing notices.
    pub fn client(&self) -> &async_nats::Client {
        self.0.client()
    }

    /// Joins the user's live entries. When this returns, the server has registered the
    /// subscription, so every entry pushed from now on is received. While NATS is down it
    /// fails after a few seconds (`topics`), and the session answers the `hello`
    /// `unavailable`.
    pub async fn subscribe(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> Result<Subscription, async_nats::Error> {
        self.0.hold(subjects::push(app, user)).await
    }
}

/// Hands one message of a user's push subject to the connections: an inbox entry, several, or
/// a typing notice, as its header says.
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
        // Several entries of one projector batch: handed over back to back, so a connection
        // wakes once for them and writes them in one flush.
        Some(headers::PUSH_KIND_ENTRIES) => {
            match tidings_store::entry_decode::list_from_msgpack(&message.payload) {
                Ok(entries) => {
                    for entry in entries {
                        let _ = pushes.send(Arc::new(Push::Entry(entry)));
                    }
                }
                Err(error) => tracing::error!(%error, "unreadable push of entries"),
            }
        }
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
