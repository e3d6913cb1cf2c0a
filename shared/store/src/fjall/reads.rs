//! The embedded store's read ports.

use super::{FjallStore, decode};
use crate::annotations::{PinRow, ReactionRow};
use crate::device_row::{DeviceReadRow, DeviceRow};
use crate::inbox_row::{self, InboxRow};
use crate::keys::{key, prefix, split};
use crate::model::{
    Conversation, Entry, EntryItem, GroupRow, MemberRow, MessageView, PushRow, Relation,
    SettingsRow, TimelineMessage, UserGroupRow, UserRow,
};
use crate::ports::{
    AnnotationStore, ConversationStore, DeviceStore, GroupStore, HiddenStore, InboxStore,
    RelationStore, StoreResult, UserStore,
};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use tidings_domain::{AppId, ConvId, GroupId, UserId};

impl InboxStore for FjallStore {
    async fn inbox_after(
        &self,
        app: &AppId,
        user: &UserId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Entry>> {
        let from = key(
            &[app.as_str(), user.as_str()],
            Some(after.saturating_add(1)),
        );
        let to = key(&[app.as_str(), user.as_str()], Some(u64::MAX));
        let mut rows = Vec::new();
        for guard in self.tables.inbox.range(from..=to).take(limit) {
            let (_, v) = guard.into_inner()?;
            rows.push(inbox_row::decode(&v)?);
        }
        let messages = self.joined_messages(app, &rows)?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let entry = match row {
                InboxRow::Whole(entry) => *entry,
                InboxRow::MessageRef {
                    seq,
                    ts,
                    conv,
                    conv_seq,
                } => match messages.get(&(conv, conv_seq)) {
                    Some(message) => Entry {
                        seq,
                        ts,
                        item: EntryItem::Message(Arc::clone(message)),
                    },
                    // Written by another partition that has not caught up yet: the page ends
                    // here, and the rest follows once it has.
                    None => break,
                },
            };
            entries.push(entry);
        }
        Ok(entries)
    }

    async fn inbox_last_seq(&self, app: &AppId, user: &UserId) -> StoreResult<u64> {
        Ok(self.head(app.as_str(), user.as_str())?.seq)
    }
}

/// A conversation's references in a page are joined by one range read when they are this
/// dense at least (one in four timeline rows of the range wanted); sparser ones by point reads.
const RANGE_DENSITY: u64 = 4;

impl FjallStore {
    /// The messages `rows` refer to, by (conv, conv_seq): one timeline range read per
    /// conversation in the page.
    fn joined_messages(
        &self,
        app: &AppId,
        rows: &[InboxRow],
    ) -> StoreResult<HashMap<(ConvId, u64), Arc<MessageView>>> {
        let mut wanted: BTreeMap<&ConvId, Vec<u64>> = BTreeMap::new();
        for row in rows {
            if let InboxRow::MessageRef { conv, conv_seq, .. } = row {
                wanted.entry(conv).or_default().push(*conv_seq);
            }
        }
        let mut found = HashMap::new();
        for (conv, seqs) in wanted {
            let (low, high) = (seqs.iter().min(), seqs.iter().max());
            let (Some(&low), Some(&high)) = (low, high) else {
                continue;
            };
            let at = |seq| key(&[app.as_str(), conv.as_str()], Some(seq));
            if high - low < RANGE_DENSITY * seqs.len() as u64 {
                for guard in self.tables.timeline.range(at(low)..=at(high)) {
                    let (_, v) = guard.into_inner()?;
                    let row: TimelineMessage = decode(&v)?;
                    found.insert((conv.clone(), row.message.conv_seq), row.message);
                }
            } else {
                for seq in seqs {
                    if let Some(row) =
                        self.get_row::<TimelineMessage>(&self.tables.timeline, &at(seq))?
                    {
                        found.insert((conv.clone(), seq), row.message);
                    }
                }
            }
        }
        Ok(found)
    }
}

impl ConversationStore for FjallStore {
    async fn conversations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Conversation>> {
        let mut rows = self
            .tables
            .conversations
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                self.with_last_message(app, decode::<Conversation>(&v)?)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        rows.sort_by(|a, b| b.last_ts.cmp(&a.last_ts).then(a.conv.cmp(&b.conv)));
        Ok(rows)
    }

    async fn conv_settings(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<SettingsRow>> {
        let mut rows = Vec::new();
        for guard in self
            .tables
            .settings
            .prefix(prefix(&[app.as_str(), user.as_str()]))
        {
            let (_, v) = guard.into_inner()?;
            rows.push(decode(&v)?);
        }
        Ok(rows)
    }

    async fn conversation(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> StoreResult<Option<Conversation>> {
        self.get_row(
            &self.tables.conversations,
            &key(&[app.as_str(), user.as_str(), conv.as_str()], None),
        )?
        .map(|row| self.with_last_message(app, row))
        .transpose()
    }

    async fn messages_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        let from = key(&[app.as_str(), conv.as_str()], Some(0));
        let to = key(
            &[app.as_str(), conv.as_str()],
            Some(before.unwrap_or(u64::MAX)),
        );
        self.tables
            .timeline
            .range(from..to)
            .rev()
            .take(limit)
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }

    async fn messages_after(
        &self,
        app: &AppId,
        conv: &ConvId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        let from = key(
            &[app.as_str(), conv.as_str()],
            Some(after.saturating_add(1)),
        );
        let to = key(&[app.as_str(), conv.as_str()], Some(u64::MAX));
        self.tables
            .timeline
            .range(from..=to)
            .take(limit)
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }
}

impl HiddenStore for FjallStore {
    async fn removal_mark(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> StoreResult<Option<u64>> {
        let k = key(&[app.as_str(), user.as_str(), conv.as_str()], None);
        self.get_row(&self.tables.cleared, &k)
    }

    async fn removal_marks(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<(ConvId, u64)>> {
        self.tables
            .cleared
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (k, v) = guard.into_inner()?;
                let conv = split(&k, false)
                    .and_then(|(parts, _)| parts.get(2).map(|c| ConvId::parse(*c)))
                    .and_then(Result::ok)
                    .ok_or_else(|| crate::StoreError::Corrupt(format!("cleared key {k:?}")))?;
                Ok((conv, decode(&v)?))
            })
            .collect()
    }

    async fn hidden_between(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        from: u64,
        to: u64,
    ) -> StoreResult<Vec<u64>> {
        let parts = [app.as_str(), user.as_str(), conv.as_str()];
        let (first, last) = (key(&parts, Some(from)), key(&parts, Some(to)));
        self.tables
            .hidden
            .range(first..=last)
            .map(|guard| {
                let k = guard.key()?;
                let (_, seq) = split(&k, true).ok_or_else(|| {
                    crate::StoreError::Corrupt(format!("hidden key {:?}", &k[..]))
                })?;
                Ok(seq.unwrap_or_default())
            })
            .collect()
    }
}

impl UserStore for FjallStore {
    async fn user(&self, app: &AppId, user: &UserId) -> StoreResult<Option<UserRow>> {
        self.get_row(
            &self.tables.users,
            &key(&[app.as_str(), user.as_str()], None),
        )
    }

    async fn users_changed(
        &self,
        app: &AppId,
        cursor: u64,
        limit: usize,
    ) -> StoreResult<Vec<UserRow>> {
        let from = key(&[app.as_str()], Some(cursor.saturating_add(1)));
        let to = key(&[app.as_str()], Some(u64::MAX));
        let mut rows = Vec::new();
        for guard in self.tables.users_by_cursor.range(from..=to).take(limit) {
            let (_, user) = guard.into_inner()?;
            let user_key = key(&[app.as_str(), &String::from_utf8_lossy(&user)], None);
            if let Some(row) = self.get_row(&self.tables.users, &user_key)? {
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

impl GroupStore for FjallStore {
    async fn group(&self, app: &AppId, group: &GroupId) -> StoreResult<Option<GroupRow>> {
        self.get_row(
            &self.tables.groups,
            &key(&[app.as_str(), group.as_str()], None),
        )
    }

    async fn member(
        &self,
        app: &AppId,
        group: &GroupId,
        user: &UserId,
    ) -> StoreResult<Option<MemberRow>> {
        self.get_row(
            &self.tables.members,
            &key(&[app.as_str(), group.as_str(), user.as_str()], None),
        )
    }

    async fn members(
        &self,
        app: &AppId,
        group: &GroupId,
        after: Option<&UserId>,
        limit: usize,
    ) -> StoreResult<Vec<MemberRow>> {
        let (a, g) = (app.as_str(), group.as_str());
        let start = match after {
            Some(user) => Bound::Excluded(key(&[a, g, user.as_str()], None)),
            None => Bound::Included(prefix(&[a, g])),
        };
        // Ids are ASCII, so 0xff sorts after every member key of the group.
        let mut end = prefix(&[a, g]);
        end.push(0xff);
        self.tables
            .members
            .range::<Vec<u8>, _>((start, Bound::Excluded(end)))
            .take(limit)
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }

    async fn user_groups(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<UserGroupRow>> {
        self.tables
            .user_groups
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }
}

impl RelationStore for FjallStore {
    async fn relations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Relation>> {
        self.tables
            .relations
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }
}

impl DeviceStore for FjallStore {
    async fn devices(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<DeviceRow>> {
        self.tables
            .user_devices
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }

    async fn device_reads(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<DeviceReadRow>> {
        self.tables
            .device_reads
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (_, v) = guard.into_inner()?;
                decode(&v)
            })
            .collect()
    }

    async fn ack_device(
        &self,
        app: &AppId,
        user: &UserId,
        device: &str,
        seq: u64,
    ) -> StoreResult<()> {
        let k = key(&[app.as_str(), user.as_str(), device], None);
        if seq > self.get_seq(&self.tables.devices, &k)? {
            self.tables.devices.insert(k, seq.to_be_bytes())?;
        }
        Ok(())
    }

    async fn device_ack(&self, app: &AppId, user: &UserId, device: &str) -> StoreResult<u64> {
        self.get_seq(
            &self.tables.devices,
            &key(&[app.as_str(), user.as_str(), device], None),
        )
    }

    async fn device_acks(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<(String, u64)>> {
        self.tables
            .devices
            .prefix(prefix(&[app.as_str(), user.as_str()]))
            .map(|guard| {
                let (k, v) = guard.into_inner()?;
                let device = split(&k, false)
                    .and_then(|(parts, _)| parts.get(2).map(|d| (*d).to_owned()))
                    .ok_or_else(|| crate::StoreError::Corrupt(format!("device key {k:?}")))?;
                Ok((device, super::seq_value(&v)?))
            })
            .collect()
    }

    async fn push_settings(&self, app: &AppId, user: &UserId) -> StoreResult<Option<PushRow>> {
        match self
            .tables
            .push
            .get(key(&[app.as_str(), user.as_str()], None))?
        {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }
}

impl AnnotationStore for FjallStore {
    async fn reactions(
        &self,
        app: &AppId,
        conv: &ConvId,
        from: u64,
        to: u64,
    ) -> StoreResult<Vec<ReactionRow>> {
        let parts = [app.as_str(), conv.as_str()];
        let start = key(&parts, Some(from));
        // Every key of the message at `to` extends `key(.., to)`; the next seq's is past them.
        let end = key(&parts, Some(to.saturating_add(1)));
        let mut rows = Vec::new();
        for guard in self.tables.reactions.range(start..end) {
            let (_, v) = guard.into_inner()?;
            rows.push(decode(&v)?);
        }
        Ok(rows)
    }

    async fn pins(&self, app: &AppId, conv: &ConvId) -> StoreResult<Vec<PinRow>> {
        let mut rows = Vec::new();
        for guard in self
            .tables
            .pins
            .prefix(prefix(&[app.as_str(), conv.as_str()]))
        {
            let (_, v) = guard.into_inner()?;
            rows.push(decode(&v)?);
        }
        Ok(rows)
    }
}
