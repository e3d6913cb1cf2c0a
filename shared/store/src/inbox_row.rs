//! How the embedded store keeps an inbox entry. A message is stored once, in its
//! conversation's timeline; a user's inbox row for it holds only a reference (a marker byte no
//! MessagePack map starts with, then `(seq, ts, conv_seq, conv)` as a MessagePack array), and
//! reads join the message back. Every other entry, and every row written before references
//! existed, is the whole entry as a MessagePack map.

use crate::error::StoreError;
use crate::model::{Entry, EntryItem};
use tidings_domain::ConvId;

/// First byte of a reference row (a MessagePack map starts with 0x80-0x8f, 0xde or 0xdf).
const MESSAGE_REF: u8 = 0x00;

/// A decoded inbox row.
#[derive(Debug, PartialEq)]
pub enum InboxRow {
    /// Boxed: a whole entry is far larger than a reference.
    Whole(Box<Entry>),
    /// A message entry: the message is the timeline row `(conv, conv_seq)`.
    MessageRef {
        seq: u64,
        ts: i64,
        conv: ConvId,
        conv_seq: u64,
    },
}

impl InboxRow {
    /// How the inbox keeps `entry`: a message as a reference to its timeline row.
    pub fn kept(entry: Entry) -> Self {
        match entry.item {
            EntryItem::Message(message) => InboxRow::MessageRef {
                seq: entry.seq,
                ts: entry.ts,
                conv: message.conv,
                conv_seq: message.conv_seq,
            },
            item => InboxRow::Whole(Box::new(Entry { item, ..entry })),
        }
    }

    /// The entry's `seq`.
    pub fn seq(&self) -> u64 {
        match self {
            InboxRow::Whole(entry) => entry.seq,
            InboxRow::MessageRef { seq, .. } => *seq,
        }
    }
}

fn reference(seq: u64, ts: i64, conv_seq: u64, conv: &ConvId) -> Vec<u8> {
    let mut out = vec![MESSAGE_REF];
    let fields = (seq, ts, conv_seq, conv);
    rmp_serde::encode::write(&mut out, &fields).expect("references always encode");
    out
}

/// The stored bytes of `entry`.
pub fn encode(entry: &Entry) -> Vec<u8> {
    match &entry.item {
        EntryItem::Message(message) => {
            reference(entry.seq, entry.ts, message.conv_seq, &message.conv)
        }
        _ => rmp_serde::to_vec_named(entry).expect("read-model rows always encode"),
    }
}

/// The bytes of a decoded row, as `decode` reads them back.
pub fn encode_row(row: &InboxRow) -> Vec<u8> {
    match row {
        InboxRow::Whole(entry) => rmp_serde::to_vec_named(entry).expect("rows always encode"),
        InboxRow::MessageRef {
            seq,
            ts,
            conv,
            conv_seq,
        } => reference(*seq, *ts, *conv_seq, conv),
    }
}

/// Whether stored bytes are a reference row, which `encode_row` writes byte for byte as stored.
pub fn is_reference(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MESSAGE_REF)
}

/// Reads stored bytes back.
pub fn decode(bytes: &[u8]) -> Result<InboxRow, StoreError> {
    match bytes.split_first() {
        Some((&MESSAGE_REF, rest)) => {
            let (seq, ts, conv_seq, conv) = rmp_serde::from_slice(rest)?;
            Ok(InboxRow::MessageRef {
                seq,
                ts,
                conv,
                conv_seq,
            })
        }
        _ => Ok(InboxRow::Whole(Box::new(
            crate::entry_decode::from_msgpack(bytes)?,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageView, SystemNotice};
    use tidings_domain::{Body, MessageId, Recipient, UserId};

    fn message_entry() -> Entry {
        let (alice, bob) = (
            UserId::parse("alice").unwrap(),
            UserId::parse("bob").unwrap(),
        );
        Entry {
            seq: 7,
            ts: 1_700_000_000_123,
            item: EntryItem::Message(MessageView {
                conv: ConvId::direct(&alice, &bob),
                conv_seq: 42,
                msg_id: MessageId::parse("0190a5f3-7c1e-7d2a-9b3c-4d5e6f708192").unwrap(),
                from: alice,
                to: Recipient::User(bob),
                body: Some(Body::Text {
                    text: "hello".into(),
                }),
                mentions: Vec::new(),
                mention_all: false,
                reply_to: None,
                forward_of: None,
                recalled: None,
                edit_seq: 0,
                edited_at: None,
                agent: None,
                session: None,
            }),
        }
    }

    #[test]
    fn message_entries_are_stored_as_references() {
        let entry = message_entry();
        let bytes = encode(&entry);
        let whole = rmp_serde::to_vec_named(&entry).unwrap();
        assert!(
            bytes.len() * 2 < whole.len(),
            "{} vs {}",
            bytes.len(),
            whole.len()
        );
        let EntryItem::Message(m) = &entry.item else {
            unreachable!()
        };
        assert_eq!(
            decode(&bytes).unwrap(),
            InboxRow::MessageRef {
                seq: 7,
                ts: entry.ts,
                conv: m.conv.clone(),
                conv_seq: 42
            }
        );
    }

    #[test]
    fn other_entries_and_rows_written_before_references_are_whole() {
        let notice = Entry {
            seq: 3,
            ts: 5,
            item: EntryItem::System(SystemNotice {
                msg_id: MessageId::parse("0190a5f3-7c1e-7d2a-9b3c-4d5e6f708193").unwrap(),
                body: Body::Text {
                    text: "maintenance tonight".into(),
                },
            }),
        };
        assert_eq!(
            decode(&encode(&notice)).unwrap(),
            InboxRow::Whole(Box::new(notice))
        );
        // A message entry as whole rows were written before references existed.
        let old = rmp_serde::to_vec_named(&message_entry()).unwrap();
        assert_eq!(
            decode(&old).unwrap(),
            InboxRow::Whole(Box::new(message_entry()))
        );
        assert!(decode(&[MESSAGE_REF, 0xc1]).is_err());
    }
}
