//! How an inbox entry is stored. A message is stored once, in its conversation's timeline; a
//! user's inbox row for it holds only a reference (a marker byte no MessagePack map starts
//! with, then `(seq, ts, conv_seq, conv)` as a MessagePack array), and reads join the message
//! back. Every other entry, and every row written before references existed, is the whole entry
//! as a MessagePack map.
//!
//! The embedded store keeps no inbox head: a user's head is their newest inbox row, so its rows
//! also carry the cursor (stream sequence) of the event that delivered them
//! ([`encode_cursored`]): a marker byte, the cursor (8 bytes, big-endian), then the reference's
//! array or the entry's map. [`decode`] reads every layout.

use crate::error::StoreError;
use crate::model::{Entry, EntryItem};
use tidings_domain::ConvId;

/// First byte of a reference row (a MessagePack map starts with 0x80-0x8f, 0xde or 0xdf).
const MESSAGE_REF: u8 = 0x00;
/// First byte of a reference row that carries its delivery's cursor.
const CURSORED_REF: u8 = 0x01;
/// First byte of a whole entry that carries its delivery's cursor.
const CURSORED_WHOLE: u8 = 0x02;
/// Bytes before a cursored row's MessagePack: the marker and the cursor.
const CURSORED_HEADER: usize = 9;

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
                conv: message.conv.clone(),
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
    write_reference(&mut out, seq, ts, conv_seq, conv);
    out
}

fn write_reference(out: &mut Vec<u8>, seq: u64, ts: i64, conv_seq: u64, conv: &ConvId) {
    let fields = (seq, ts, conv_seq, conv);
    rmp_serde::encode::write(out, &fields).expect("references always encode");
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

/// The embedded store's bytes of `entry`, delivered by the event at stream sequence `cursor`.
pub fn encode_cursored(entry: &Entry, cursor: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match &entry.item {
        EntryItem::Message(message) => {
            out.push(CURSORED_REF);
            out.extend_from_slice(&cursor.to_be_bytes());
            write_reference(
                &mut out,
                entry.seq,
                entry.ts,
                message.conv_seq,
                &message.conv,
            );
        }
        _ => {
            out.push(CURSORED_WHOLE);
            out.extend_from_slice(&cursor.to_be_bytes());
            rmp_serde::encode::write_named(&mut out, entry).expect("read-model rows always encode");
        }
    }
    out
}

/// Stored bytes in the cursored layout with `cursor`, whatever layout they were in: how a
/// store written before moves its heads' cursors into rows.
pub fn with_cursor(bytes: &[u8], cursor: u64) -> Result<Vec<u8>, StoreError> {
    let (marker, rest) = match bytes.first() {
        Some(&(CURSORED_REF | CURSORED_WHOLE)) => {
            let rest = bytes.get(CURSORED_HEADER..).ok_or_else(|| {
                StoreError::Corrupt(format!("inbox row of {} bytes", bytes.len()))
            })?;
            (bytes[0], rest)
        }
        Some(&MESSAGE_REF) => (CURSORED_REF, &bytes[1..]),
        _ => (CURSORED_WHOLE, bytes),
    };
    let mut out = Vec::with_capacity(CURSORED_HEADER + rest.len());
    out.push(marker);
    out.extend_from_slice(&cursor.to_be_bytes());
    out.extend_from_slice(rest);
    Ok(out)
}

/// The cursor of the event that delivered a stored row: 0 for rows written before rows kept
/// it (which skips nothing).
pub fn cursor_of(bytes: &[u8]) -> Result<u64, StoreError> {
    match bytes.first() {
        Some(&(CURSORED_REF | CURSORED_WHOLE)) => {
            let cursor = bytes.get(1..CURSORED_HEADER).ok_or_else(|| {
                StoreError::Corrupt(format!("inbox row of {} bytes", bytes.len()))
            })?;
            Ok(u64::from_be_bytes(cursor.try_into().expect("eight bytes")))
        }
        _ => Ok(0),
    }
}

/// The MessagePack array of a reference row in either layout, which (after the `MESSAGE_REF`
/// marker) is its canonical form; `None` for whole entries.
pub fn reference_array(bytes: &[u8]) -> Option<&[u8]> {
    match *bytes.first()? {
        MESSAGE_REF => Some(&bytes[1..]),
        CURSORED_REF => bytes.get(CURSORED_HEADER..),
        _ => None,
    }
}

/// The canonical bytes of a reference row: the marker, then `array` ([`reference_array`]).
pub fn canonical_reference(array: &[u8]) -> [&[u8]; 2] {
    [&[MESSAGE_REF], array]
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

/// Reads stored bytes back, in any layout.
pub fn decode(bytes: &[u8]) -> Result<InboxRow, StoreError> {
    if let Some(array) = reference_array(bytes) {
        let (seq, ts, conv_seq, conv) = rmp_serde::from_slice(array)?;
        return Ok(InboxRow::MessageRef {
            seq,
            ts,
            conv,
            conv_seq,
        });
    }
    let map = match bytes.first() {
        Some(&CURSORED_WHOLE) => bytes.get(CURSORED_HEADER..).unwrap_or_default(),
        _ => bytes,
    };
    Ok(InboxRow::Whole(Box::new(
        crate::entry_decode::from_msgpack(map)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SystemNotice;
    use crate::test_fixtures::{message, msg_id};
    use tidings_domain::Body;

    fn message_entry() -> Entry {
        Entry {
            seq: 7,
            ts: 1_700_000_000_123,
            item: EntryItem::Message(message("alice", "bob", 42).into()),
        }
    }

    fn notice_entry() -> Entry {
        Entry {
            seq: 3,
            ts: 5,
            item: EntryItem::System(SystemNotice {
                msg_id: msg_id(3),
                body: Body::Text { text: "hi".into() },
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
                msg_id: msg_id(3),
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

    #[test]
    fn cursored_rows_read_as_the_others_and_keep_their_cursor() {
        for entry in [message_entry(), notice_entry()] {
            let cursored = encode_cursored(&entry, 0x0102_0304_0506_0708);
            assert_eq!(decode(&cursored).unwrap(), decode(&encode(&entry)).unwrap());
            assert_eq!(cursor_of(&cursored).unwrap(), 0x0102_0304_0506_0708);
            assert_eq!(cursor_of(&encode(&entry)).unwrap(), 0);
            assert_eq!(
                reference_array(&cursored).is_some(),
                matches!(entry.item, EntryItem::Message(_))
            );
        }
        for legacy in [encode(&message_entry()), encode(&notice_entry())] {
            let moved = with_cursor(&legacy, 5).unwrap();
            assert_eq!(cursor_of(&moved).unwrap(), 5);
            assert_eq!(decode(&moved).unwrap(), decode(&legacy).unwrap());
            assert_eq!(cursor_of(&with_cursor(&moved, 6).unwrap()).unwrap(), 6);
        }
        assert!(with_cursor(&[CURSORED_WHOLE, 1], 5).is_err());
        assert!(cursor_of(&[CURSORED_REF, 1, 2]).is_err());
        assert!(decode(&[CURSORED_WHOLE, 0, 0, 0, 0, 0, 0, 0, 1, 0xc1]).is_err());
    }
}
