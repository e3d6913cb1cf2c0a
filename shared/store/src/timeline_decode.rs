//! `TimelineMessage`'s `Deserialize`, in one pass. The derived reader of a struct with a
//! flattened field first copies every key and value into serde's private buffer of untyped
//! content and then reads the flattened struct from that copy; every timeline row read (each
//! history page, each catch-up page's joined messages, each conversation's last message) paid
//! for it. Here the row's map is handed straight to `MessageView`'s own reader, with `ts`
//! taken out wherever it stands, so any key order reads alike.

use crate::model::{MessageView, TimelineMessage};
use serde::Deserialize;
use serde::de::value::{CowStrDeserializer, MapAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

impl<'de> Deserialize<'de> for TimelineMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = TimelineMessage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timeline message: ts and a message's fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TimelineMessage, A::Error> {
        let mut rest = WithoutTs { map, ts: None };
        let message = MessageView::deserialize(MapAccessDeserializer::new(&mut rest))?;
        let ts = rest.ts.ok_or_else(|| de::Error::missing_field("ts"))?;
        Ok(TimelineMessage {
            ts,
            message: Arc::new(message),
        })
    }
}

/// The row's map without its `ts`, which it keeps aside.
struct WithoutTs<A> {
    map: A,
    ts: Option<i64>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for &mut WithoutTs<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key::<Key<'de>>()? {
                None => return Ok(None),
                Some(Key(name)) if name == "ts" => {
                    if self.ts.replace(self.map.next_value()?).is_some() {
                        return Err(de::Error::duplicate_field("ts"));
                    }
                }
                Some(Key(name)) => {
                    return seed.deserialize(CowStrDeserializer::new(name)).map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A key, borrowed from the input where the format allows.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Recalled, ReplyView};
    use crate::test_fixtures::{message, user};
    use serde::Serialize;

    /// `TimelineMessage` as serde derives it.
    #[derive(Deserialize)]
    struct Derived {
        ts: i64,
        #[serde(flatten)]
        message: MessageView,
    }

    fn rows() -> Vec<TimelineMessage> {
        let (alice, bob) = (user("alice"), user("bob"));
        let mut plain = message("alice", "bob", 42);
        plain.mentions = vec![bob.clone()];
        let mut answer = plain.clone();
        answer.conv_seq = 43;
        answer.edit_seq = 2;
        answer.edited_at = Some(1_700_000_000_999);
        answer.reply_to = Some(Box::new(ReplyView {
            msg_id: plain.msg_id.clone(),
            conv_seq: 42,
            from: alice.clone(),
            quote: Some("hi".into()),
            recalled: false,
        }));
        let mut recalled = plain.clone();
        recalled.body = None;
        recalled.recalled = Some(Recalled {
            by: Some(alice),
            ts: 9,
        });
        recalled.agent = Some(bob);
        recalled.session = Some(3);
        [plain, answer, recalled]
            .into_iter()
            .enumerate()
            .map(|(i, message)| TimelineMessage {
                ts: 1_700_000_000_000 + i as i64,
                message: message.into(),
            })
            .collect()
    }

    #[test]
    fn rows_as_written_read_back_as_the_derived_reader_reads_them() {
        for row in rows() {
            let bytes = rmp_serde::to_vec_named(&row).unwrap();
            let derived: Derived = rmp_serde::from_slice(&bytes).unwrap();
            let read: TimelineMessage = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!((read.ts, &*read.message), (derived.ts, &derived.message));
            assert_eq!(read, row);
            let json = serde_json::to_string(&row).unwrap();
            assert_eq!(serde_json::from_str::<TimelineMessage>(&json).unwrap(), row);
        }
    }

    #[test]
    fn ts_is_read_wherever_it_stands() {
        #[derive(Serialize)]
        struct TsLast<'a> {
            #[serde(flatten)]
            message: &'a MessageView,
            ts: i64,
        }
        for row in rows() {
            let last = TsLast {
                message: &row.message,
                ts: row.ts,
            };
            let bytes = rmp_serde::to_vec_named(&last).unwrap();
            assert_eq!(
                rmp_serde::from_slice::<TimelineMessage>(&bytes).unwrap(),
                row
            );
        }
    }

    #[test]
    fn a_missing_or_repeated_ts_and_other_shapes_are_refused() {
        let row = &rows()[0];
        let message = rmp_serde::to_vec_named(&row.message).unwrap();
        assert!(rmp_serde::from_slice::<TimelineMessage>(&message).is_err());
        let mut twice = serde_json::to_value(row).unwrap();
        let text = twice.to_string().replacen("{", "{\"ts\":1,", 1);
        assert!(serde_json::from_str::<TimelineMessage>(&text).is_err());
        twice["conv_seq"] = "x".into();
        assert!(serde_json::from_value::<TimelineMessage>(twice).is_err());
        assert!(rmp_serde::from_slice::<TimelineMessage>(&[0x93, 1, 2, 3]).is_err());
    }
}
