//! An inbox entry read from MessagePack in one pass. `Entry`'s derived `Deserialize` (its item,
//! an enum tagged by `kind`, flattened into it) first copies every field into serde's private
//! buffer of untyped content, then builds the item from that copy: every push a gateway
//! receives paid for it (issue 18's profile: 3.3 % of the server's samples decoding pushes).
//! `Entry`'s `Serialize` writes `seq`, `ts` and `kind` before the item's fields, so a reader
//! that meets them first knows the item's type before its fields arrive and can hand the rest
//! of the map to that type's own visitor. Bytes in any other order (or anything else the one
//! pass refuses) are read again by the derived `Deserialize`, so the result never depends on
//! which path read it.

use crate::model::{
    ClearedNotice, EditNotice, Entry, EntryItem, GroupAdvance, GroupNotice, HiddenNotice,
    MessageView, PinNotice, ReactionNotice, ReadReceipt, RecallNotice, RelationNotice,
    ServiceNotice, SettingsNotice, SystemNotice,
};
use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, VariantAccess,
    Visitor,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// `entry` from the MessagePack map `Entry`'s `Serialize` writes.
pub fn from_msgpack(bytes: &[u8]) -> Result<Entry, rmp_serde::decode::Error> {
    match rmp_serde::from_slice::<OnePass>(bytes) {
        Ok(OnePass(entry)) => Ok(entry),
        Err(_) => rmp_serde::from_slice(bytes),
    }
}

/// Entries from a MessagePack array of the maps `Entry`'s `Serialize` writes (each read in one
/// pass; the whole array again by the derived `Deserialize` if any is refused).
pub fn list_from_msgpack(bytes: &[u8]) -> Result<Vec<Entry>, rmp_serde::decode::Error> {
    match rmp_serde::from_slice::<Vec<OnePass>>(bytes) {
        Ok(entries) => Ok(entries.into_iter().map(|OnePass(entry)| entry).collect()),
        Err(_) => rmp_serde::from_slice(bytes),
    }
}

/// `EntryItem` tagged externally: the variant named by `kind` holding the rest of the map.
/// Derived for the remote type, so both derives match on every variant of `EntryItem`: one
/// added there and not here does not compile (the `Serialize` is kept for that check alone).
#[derive(Serialize, Deserialize)]
#[serde(remote = "EntryItem", rename_all = "snake_case")]
#[allow(dead_code)]
enum ByKind {
    Message(Arc<MessageView>),
    FriendRequest(RelationNotice),
    FriendAccepted(RelationNotice),
    FriendRejected(RelationNotice),
    FriendRequestCanceled(RelationNotice),
    FriendRemoved(RelationNotice),
    FriendAdded(RelationNotice),
    UserBlocked(RelationNotice),
    UserUnblocked(RelationNotice),
    GroupCreated(GroupNotice),
    GroupUpdated(GroupNotice),
    GroupDismissed(GroupNotice),
    GroupOwnerTransferred(GroupNotice),
    GroupAdminSet(GroupNotice),
    GroupMemberAdded(GroupNotice),
    GroupMemberRemoved(GroupNotice),
    GroupJoinRequested(GroupNotice),
    GroupJoinDecided(GroupNotice),
    GroupAnnouncement(GroupNotice),
    GroupMemberMuted(GroupNotice),
    GroupMutedAll(GroupNotice),
    GroupAdvanced(GroupAdvance),
    Read(ReadReceipt),
    System(SystemNotice),
    Recalled(RecallNotice),
    Edited(EditNotice),
    Hidden(HiddenNotice),
    Cleared(ClearedNotice),
    Settings(SettingsNotice),
    Removed(HiddenNotice),
    Reaction(ReactionNotice),
    Pinned(PinNotice),
    Unpinned(PinNotice),
    ServiceSession(ServiceNotice),
}

/// An entry read by the one pass.
struct OnePass(Entry);

impl<'de> Deserialize<'de> for OnePass {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

/// The keys read before the item's own.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Leading {
    Seq,
    Ts,
    Kind,
    #[serde(other)]
    Other,
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = OnePass;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an inbox entry whose seq, ts and kind precede its item's fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OnePass, A::Error> {
        let mut leading: (Option<u64>, Option<i64>, Option<String>) = (None, None, None);
        let (seq, ts, kind) = loop {
            if let (Some(seq), Some(ts), Some(kind)) = leading {
                break (seq, ts, kind);
            }
            match map.next_key::<Leading>()? {
                Some(Leading::Seq) => leading.0 = Some(map.next_value()?),
                Some(Leading::Ts) => leading.1 = Some(map.next_value()?),
                Some(Leading::Kind) => leading.2 = Some(map.next_value()?),
                Some(Leading::Other) => {
                    return Err(de::Error::custom("an item field before seq, ts and kind"));
                }
                None => return Err(de::Error::custom("seq, ts or kind missing")),
            }
        };
        let item = ByKind::deserialize(Item { kind, rest: map })?;
        Ok(OnePass(Entry { seq, ts, item }))
    }
}

/// The item as an externally tagged enum: the variant is `kind`, its content the rest of the
/// entry's map.
struct Item<A> {
    kind: String,
    rest: A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Item<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Item<A> {
    type Error = A::Error;
    type Variant = Rest<A>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let kind: StringDeserializer<A::Error> = self.kind.into_deserializer();
        Ok((seed.deserialize(kind)?, Rest(self.rest)))
    }
}

/// The rest of the entry's map, the content of its item: every variant of `EntryItem` holds
/// one struct.
struct Rest<A>(A);

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Rest<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        Err(de::Error::custom("no entry item is a unit"))
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        seed.deserialize(MapAccessDeserializer::new(self.0))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("no entry item is a tuple"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("no entry item is a struct variant"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{message, msg_id, user};
    use tidings_domain::event::ConvSettings;
    use tidings_domain::{Body, GroupId};

    fn entries() -> Vec<Entry> {
        let (alice, bob) = (user("alice"), user("bob"));
        let mut edited = message("alice", "bob", 42);
        edited.mentions = vec![bob.clone()];
        edited.edit_seq = 2;
        edited.edited_at = Some(1_700_000_000_999);
        let conv = edited.conv.clone();
        let mut added = GroupNotice::new(GroupId::parse("g1").unwrap(), alice.clone());
        added.users = vec![bob.clone(), user("carol")];
        let items = vec![
            EntryItem::Message(edited.into()),
            EntryItem::System(SystemNotice {
                msg_id: msg_id(1),
                body: Body::Text {
                    text: "maintenance tonight".into(),
                },
            }),
            EntryItem::FriendRequest(RelationNotice {
                from: alice.clone(),
                to: bob.clone(),
                note: Some("hi".into()),
            }),
            EntryItem::GroupMemberAdded(added),
            EntryItem::Read(ReadReceipt {
                conv: conv.clone(),
                user: bob,
                conv_seq: 41,
            }),
            // A flattened struct inside the item.
            EntryItem::Settings(SettingsNotice {
                conv,
                settings: ConvSettings::default(),
            }),
        ];
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Entry {
                seq: i as u64 + 1,
                ts: 1_700_000_000_000 + i as i64,
                item,
            })
            .collect()
    }

    #[test]
    fn entries_as_written_are_read_in_one_pass() {
        for entry in entries() {
            let bytes = rmp_serde::to_vec_named(&entry).unwrap();
            let OnePass(read) = rmp_serde::from_slice(&bytes).expect("one pass");
            assert_eq!(read, entry);
            assert_eq!(from_msgpack(&bytes).unwrap(), entry);
            // The derived reader agrees.
            assert_eq!(rmp_serde::from_slice::<Entry>(&bytes).unwrap(), entry);
        }
    }

    #[test]
    fn other_orders_are_read_by_the_derived_reader() {
        // kind after one of the item's fields: the one pass refuses, the derived reader reads.
        let bytes = rmp_serde::to_vec_named(&serde_json::json!({
            "seq": 3, "ts": 9, "from": "alice", "kind": "friend_request", "to": "bob"
        }))
        .unwrap();
        assert!(rmp_serde::from_slice::<OnePass>(&bytes).is_err());
        let entry = from_msgpack(&bytes).unwrap();
        assert_eq!(entry.seq, 3);
        assert!(matches!(entry.item, EntryItem::FriendRequest(ref n) if n.to.as_str() == "bob"));
    }

    #[test]
    fn bad_entries_are_refused_by_both() {
        for bad in [
            serde_json::json!({"seq": 3, "ts": 9, "kind": "teleport", "x": 1}),
            serde_json::json!({"seq": 3, "kind": "friend_request", "from": "a", "to": "b"}),
            serde_json::json!({"seq": 3, "ts": 9, "kind": "friend_request", "from": "a"}),
        ] {
            let bytes = rmp_serde::to_vec_named(&bad).unwrap();
            assert!(from_msgpack(&bytes).is_err(), "{bad}");
        }
    }
}
