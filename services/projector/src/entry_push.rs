//! Live entries: once a batch is committed, what it delivered goes out on each recipient's push
//! subject, one message per user per batch. A user's entries of one batch travel together (with
//! the `entries` push kind when there are several), so a group message burst or a busy
//! conversation costs one NATS message per user and batch, and the user's connections write
//! them in one flush, instead of one message and one write per entry.

use bytes::Bytes;
use std::collections::HashMap;
use tidings_domain::{AppId, UserId};
use tidings_events::{headers, subjects};
use tidings_runtime::metrics as metrics_names;
use tidings_store::{Delivery, Entry};

/// One user's entries of a batch, oldest first.
#[derive(Debug, PartialEq)]
pub struct UserEntries {
    pub app: AppId,
    pub user: UserId,
    pub entries: Vec<Entry>,
}

/// `deliveries` gathered per user, users in the order of their first entry, each user's
/// entries in the order given (the store delivers them in `seq` order).
pub fn per_user(deliveries: Vec<Delivery>) -> Vec<UserEntries> {
    // Each user's slot, numbered by first appearance (so a new user's slot is the next one).
    let slots: Vec<usize> = {
        let mut slot_of: HashMap<(&AppId, &UserId), usize> =
            HashMap::with_capacity(deliveries.len());
        deliveries
            .iter()
            .map(|d| {
                let next = slot_of.len();
                *slot_of.entry((&d.app, &d.user)).or_insert(next)
            })
            .collect()
    };
    let mut users: Vec<UserEntries> = Vec::with_capacity(deliveries.len());
    for (slot, delivery) in slots.into_iter().zip(deliveries) {
        match users.get_mut(slot) {
            Some(user) => user.entries.push(delivery.entry),
            None => users.push(UserEntries {
                app: delivery.app,
                user: delivery.user,
                entries: vec![delivery.entry],
            }),
        }
    }
    users
}

/// Publishes committed deliveries. Live push is best effort: the store is authoritative, and a
/// connection that sees a gap refills from it (clients catch up by `seq`).
pub async fn publish(client: &async_nats::Client, deliveries: Vec<Delivery>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let delivery_seconds = metrics::histogram!(metrics_names::DELIVERY_SECONDS);
    for delivery in &deliveries {
        delivery_seconds.record(now.saturating_sub(delivery.entry.ts).max(0) as f64 / 1000.0);
    }
    for UserEntries { app, user, entries } in per_user(deliveries) {
        let subject = subjects::push(&app, &user);
        let sent = match entries.as_slice() {
            [entry] => {
                let payload = rmp_serde::to_vec_named(entry).expect("entries encode");
                client.publish(subject, Bytes::from(payload)).await
            }
            _ => {
                let payload = rmp_serde::to_vec_named(&entries).expect("entries encode");
                let mut kind = async_nats::HeaderMap::new();
                kind.insert(headers::PUSH_KIND, headers::PUSH_KIND_ENTRIES);
                client
                    .publish_with_headers(subject, kind, Bytes::from(payload))
                    .await
            }
        };
        if let Err(error) = sent {
            tracing::warn!(%error, "live push failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_store::{EntryItem, SystemNotice};

    fn delivery(user: &str, seq: u64) -> Delivery {
        let user = UserId::parse(user).unwrap();
        Delivery {
            app: AppId::parse("demo").unwrap(),
            entry: Entry {
                seq,
                ts: 1,
                item: EntryItem::System(SystemNotice {
                    msg_id: tidings_domain::MessageId::parse(format!(
                        "019b7b1c-3a00-7000-8000-{seq:012}"
                    ))
                    .unwrap(),
                    body: tidings_domain::Body::Text {
                        text: format!("{user} {seq}"),
                    },
                }),
            },
            user,
            cursor: seq,
        }
    }

    #[test]
    fn a_batch_goes_out_once_per_user_in_order() {
        let batch = vec![
            delivery("bob", 4),
            delivery("amy", 9),
            delivery("bob", 5),
            delivery("bob", 6),
            delivery("amy", 10),
            delivery("cat", 1),
        ];
        let users: Vec<(String, Vec<u64>)> = per_user(batch)
            .into_iter()
            .map(|u| {
                let seqs = u.entries.iter().map(|e| e.seq).collect();
                (u.user.to_string(), seqs)
            })
            .collect();
        assert_eq!(
            users,
            [
                ("bob".to_owned(), vec![4, 5, 6]),
                ("amy".to_owned(), vec![9, 10]),
                ("cat".to_owned(), vec![1]),
            ]
        );
    }
}
