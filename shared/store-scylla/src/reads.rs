//! The read ports. Inbox and timeline reads walk their buckets in read order and stop as soon
//! as `limit` rows are found.

use crate::buckets;
use crate::error::db;
use crate::store::{ScyllaStore, big, decode, limit, seq};
use futures_util::{StreamExt, TryStreamExt};
use tidings_domain::{AppId, ConvId, GroupId, UserId};
use tidings_store::inbox_row;
use tidings_store::plan::Head;
use tidings_store::ports::StoreResult;
use tidings_store::rows::follow;
use tidings_store::{
    AnnotationStore, Conversation, ConversationStore, DeviceReadRow, DeviceRow, DeviceStore, Entry,
    GroupRow, GroupStore, HiddenStore, InboxStore, MemberRow, MessageView, PinRow, PushRow,
    ReactionRow, Relation, RelationStore, SettingsRow, TimelineMessage, UserGroupRow, UserRow,
    UserStore,
};

/// A read bound as a CQL bigint: bounds past the bigint range match what they would in fjall
/// (nothing beyond them is stored).
fn bound(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl ScyllaStore {
    pub(crate) async fn head(&self, app: &AppId, user: &UserId) -> StoreResult<Head> {
        let row: Option<(i64, i64)> = self
            .first(&self.inner.st.inbox_head_get, (app.as_str(), user.as_str()))
            .await?;
        row.map_or(Ok(Head::default()), |(s, cursor)| {
            Ok(Head {
                seq: seq(s)?,
                cursor: seq(cursor)?,
            })
        })
    }

    /// A row's `data` blob, decoded; `None` when there is no row.
    pub(crate) async fn blob<T: serde::de::DeserializeOwned>(
        &self,
        statement: &scylla::statement::prepared::PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow + Send + Sync,
    ) -> StoreResult<Option<T>> {
        let row: Option<(Vec<u8>,)> = self.first(statement, values).await?;
        row.map(|(data,)| decode(&data)).transpose()
    }

    fn decode_all<T: serde::de::DeserializeOwned>(rows: Vec<(Vec<u8>,)>) -> StoreResult<Vec<T>> {
        rows.iter().map(|(data,)| decode(data)).collect()
    }

    /// Joins a conversation row with its newest message from the timeline (rows store no
    /// body): the row's `last_seq`, or for a following row the timeline's newest, which the
    /// row then follows (`rows::follow`).
    async fn with_last_message(&self, app: &AppId, row: Conversation) -> StoreResult<Conversation> {
        if !row.follows {
            let last_message = self.last_message(app, &row).await?;
            return Ok(Conversation {
                last_message,
                ..row
            });
        }
        let newest = self.messages_before(app, &row.conv, None, 1).await?.pop();
        let mut row = follow(row, newest.as_ref().map(|t| (t.message.conv_seq, t.ts)));
        row.last_message = newest
            .map(|t| t.message)
            .filter(|m| m.conv_seq == row.last_seq);
        Ok(row)
    }

    /// A conversation's newest message, joined from the timeline (rows store no body): one
    /// read of the bucket that holds `last_seq`.
    async fn last_message(
        &self,
        app: &AppId,
        row: &Conversation,
    ) -> StoreResult<Option<std::sync::Arc<MessageView>>> {
        if row.last_seq == 0 {
            return Ok(None);
        }
        let bucket = bound(buckets::of(row.last_seq, buckets::TIMELINE));
        let rows: Vec<(Vec<u8>,)> = self
            .limited(
                &self.inner.st.timeline_before,
                (
                    app.as_str(),
                    row.conv.as_str(),
                    bucket,
                    bound(row.last_seq + 1),
                    limit(1),
                ),
            )
            .await?;
        Ok(Self::decode_all::<TimelineMessage>(rows)?
            .into_iter()
            .map(|t| t.message)
            .find(|m| m.conv_seq == row.last_seq))
    }
}

impl InboxStore for ScyllaStore {
    async fn inbox_after(
        &self,
        app: &AppId,
        user: &UserId,
        after: u64,
        limit_rows: usize,
    ) -> StoreResult<Vec<Entry>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        // The head bounds the read: entries up to it were written before it.
        let last = self.head(app, user).await?.seq;
        let mut entries = Vec::new();
        for bucket in buckets::inbox_range(after, last) {
            let rows: Vec<(Vec<u8>,)> = self
                .limited(
                    &self.inner.st.inbox_after,
                    (
                        app.as_str(),
                        user.as_str(),
                        big(bucket)?,
                        big(after)?,
                        limit(limit_rows - entries.len()),
                    ),
                )
                .await?;
            for (data,) in &rows {
                entries.push(inbox_row::decode(data)?);
            }
            if entries.len() >= limit_rows {
                break;
            }
        }
        self.join_messages(app, entries).await
    }

    async fn inbox_last_seq(&self, app: &AppId, user: &UserId) -> StoreResult<u64> {
        Ok(self.head(app, user).await?.seq)
    }
}

impl ConversationStore for ScyllaStore {
    /// Each read of the time search is a round trip: three levels per round take a million
    /// messages' bound in 7 rounds of at most 7 concurrent reads instead of 20 reads in a row.
    const SEARCH_LEVELS: u32 = 3;

    async fn conv_settings(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<SettingsRow>> {
        let found: Vec<(Vec<u8>,)> = self
            .all(&self.inner.st.settings_of, (app.as_str(), user.as_str()))
            .await?;
        Self::decode_all(found)
    }

    async fn conversations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Conversation>> {
        let rows = self
            .all(
                &self.inner.st.conversations_of,
                (app.as_str(), user.as_str()),
            )
            .await?;
        let stored: Vec<Conversation> = Self::decode_all(rows)?;
        let mut rows = Vec::with_capacity(stored.len());
        for row in stored {
            rows.push(self.with_last_message(app, row).await?);
        }
        rows.sort_by(|a, b| b.last_ts.cmp(&a.last_ts).then(a.conv.cmp(&b.conv)));
        Ok(rows)
    }

    async fn conversation(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> StoreResult<Option<Conversation>> {
        let row: Option<Conversation> = self
            .blob(
                &self.inner.st.conversation_get,
                (app.as_str(), user.as_str(), conv.as_str()),
            )
            .await?;
        match row {
            Some(row) => Ok(Some(self.with_last_message(app, row).await?)),
            None => Ok(None),
        }
    }

    async fn messages_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        before: Option<u64>,
        limit_rows: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        let (top_bucket, below) = match before {
            Some(0) => return Ok(Vec::new()),
            Some(b) => (bound(buckets::of(b - 1, buckets::TIMELINE)), bound(b)),
            None => (i64::MAX, i64::MAX),
        };
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let st = &self.inner.st;
        let mut bucket_rows = self
            .inner
            .session
            .execute_iter(
                st.timeline_buckets_down.clone(),
                (app.as_str(), conv.as_str(), top_bucket),
            )
            .await
            .map_err(db)?
            .rows_stream::<(i64,)>()
            .map_err(db)?;
        let mut messages = Vec::new();
        while let Some(row) = bucket_rows.next().await {
            let (bucket,) = row.map_err(db)?;
            let rows: Vec<(Vec<u8>,)> = self
                .limited(
                    &st.timeline_before,
                    (
                        app.as_str(),
                        conv.as_str(),
                        bucket,
                        below,
                        limit(limit_rows - messages.len()),
                    ),
                )
                .await?;
            messages.extend(Self::decode_all::<TimelineMessage>(rows)?);
            if messages.len() >= limit_rows {
                break;
            }
        }
        Ok(messages)
    }

    async fn messages_after(
        &self,
        app: &AppId,
        conv: &ConvId,
        after: u64,
        limit_rows: usize,
    ) -> StoreResult<Vec<TimelineMessage>> {
        if limit_rows == 0 || after >= i64::MAX as u64 {
            return Ok(Vec::new());
        }
        let st = &self.inner.st;
        let first_bucket = bound(buckets::of(after + 1, buckets::TIMELINE));
        let mut bucket_rows = self
            .inner
            .session
            .execute_iter(
                st.timeline_buckets_up.clone(),
                (app.as_str(), conv.as_str(), first_bucket),
            )
            .await
            .map_err(db)?
            .rows_stream::<(i64,)>()
            .map_err(db)?;
        let mut messages = Vec::new();
        while let Some(row) = bucket_rows.next().await {
            let (bucket,) = row.map_err(db)?;
            let rows: Vec<(Vec<u8>,)> = self
                .limited(
                    &st.timeline_after,
                    (
                        app.as_str(),
                        conv.as_str(),
                        bucket,
                        bound(after),
                        limit(limit_rows - messages.len()),
                    ),
                )
                .await?;
            messages.extend(Self::decode_all::<TimelineMessage>(rows)?);
            if messages.len() >= limit_rows {
                break;
            }
        }
        Ok(messages)
    }

    /// One read of the bucket holding `conv_seq` (the time search's step), instead of the
    /// directory walk of `messages_before`; that walk only when the bucket has nothing at or
    /// below it.
    async fn message_at_or_before(
        &self,
        app: &AppId,
        conv: &ConvId,
        conv_seq: u64,
    ) -> StoreResult<Option<TimelineMessage>> {
        if conv_seq == 0 {
            return Ok(None);
        }
        let bucket = bound(buckets::of(conv_seq, buckets::TIMELINE));
        let below = bound(conv_seq.saturating_add(1));
        let rows: Vec<(Vec<u8>,)> = self
            .limited(
                &self.inner.st.timeline_before,
                (app.as_str(), conv.as_str(), bucket, below, limit(1)),
            )
            .await?;
        if let Some(found) = Self::decode_all::<TimelineMessage>(rows)?.pop() {
            return Ok(Some(found));
        }
        let older = self
            .messages_before(app, conv, Some(conv_seq.saturating_add(1)), 1)
            .await?;
        Ok(older.into_iter().next())
    }
}

impl HiddenStore for ScyllaStore {
    async fn removal_mark(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> StoreResult<Option<u64>> {
        let row: Option<(i64,)> = self
            .first(
                &self.inner.st.cleared_get,
                (app.as_str(), user.as_str(), conv.as_str()),
            )
            .await?;
        row.map(|(up_to,)| seq(up_to)).transpose()
    }

    async fn removal_marks(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<(ConvId, u64)>> {
        let rows: Vec<(String, i64)> = self
            .all(&self.inner.st.cleared_of, (app.as_str(), user.as_str()))
            .await?;
        rows.into_iter()
            .map(|(conv, up_to)| {
                let conv = ConvId::parse(conv)
                    .map_err(|e| tidings_store::StoreError::Corrupt(e.to_string()))?;
                Ok((conv, seq(up_to)?))
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
        if from > to {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64,)> = self
            .all(
                &self.inner.st.hidden_between,
                (
                    app.as_str(),
                    user.as_str(),
                    conv.as_str(),
                    bound(from),
                    bound(to),
                ),
            )
            .await?;
        rows.into_iter().map(|(s,)| seq(s)).collect()
    }
}

impl UserStore for ScyllaStore {
    async fn user(&self, app: &AppId, user: &UserId) -> StoreResult<Option<UserRow>> {
        self.blob(&self.inner.st.user_get, (app.as_str(), user.as_str()))
            .await
    }

    async fn users_changed(
        &self,
        app: &AppId,
        cursor: u64,
        limit_rows: usize,
    ) -> StoreResult<Vec<UserRow>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let st = &self.inner.st;
        let first_bucket = buckets::of(cursor.saturating_add(1), buckets::USERS_BY_CURSOR);
        let mut bucket_rows = self
            .inner
            .session
            .execute_iter(
                st.user_buckets_up.clone(),
                (app.as_str(), bound(first_bucket)),
            )
            .await
            .map_err(db)?
            .rows_stream::<(i64,)>()
            .map_err(db)?;
        let mut changed: Vec<String> = Vec::new();
        while let Some(row) = bucket_rows.next().await {
            let (bucket,) = row.map_err(db)?;
            let rows: Vec<(i64, String)> = self
                .limited(
                    &st.users_by_cursor_after,
                    (
                        app.as_str(),
                        bucket,
                        bound(cursor),
                        limit(limit_rows - changed.len()),
                    ),
                )
                .await?;
            changed.extend(rows.into_iter().map(|(_, user)| user));
            if changed.len() >= limit_rows {
                break;
            }
        }
        // As in fjall: an index entry whose user row is missing yields nothing.
        let rows: Vec<Option<UserRow>> = futures_util::stream::iter(changed)
            .map(|user| async move {
                self.blob::<UserRow>(&st.user_get, (app.as_str(), user.as_str()))
                    .await
            })
            .buffered(crate::store::CONCURRENCY)
            .try_collect()
            .await?;
        Ok(rows.into_iter().flatten().collect())
    }
}

impl RelationStore for ScyllaStore {
    async fn relations(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<Relation>> {
        let rows = self
            .all(&self.inner.st.relations_of, (app.as_str(), user.as_str()))
            .await?;
        Self::decode_all(rows)
    }
}

impl GroupStore for ScyllaStore {
    async fn group(&self, app: &AppId, group: &GroupId) -> StoreResult<Option<GroupRow>> {
        self.blob(&self.inner.st.group_get, (app.as_str(), group.as_str()))
            .await
    }

    async fn member(
        &self,
        app: &AppId,
        group: &GroupId,
        user: &UserId,
    ) -> StoreResult<Option<MemberRow>> {
        self.blob(
            &self.inner.st.member_get,
            (app.as_str(), group.as_str(), user.as_str()),
        )
        .await
    }

    async fn members(
        &self,
        app: &AppId,
        group: &GroupId,
        after: Option<&UserId>,
        limit_rows: usize,
    ) -> StoreResult<Vec<MemberRow>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let st = &self.inner.st;
        let rows: Vec<(Vec<u8>,)> = match after {
            Some(user) => {
                self.limited(
                    &st.members_after,
                    (
                        app.as_str(),
                        group.as_str(),
                        user.as_str(),
                        limit(limit_rows),
                    ),
                )
                .await?
            }
            None => {
                self.limited(
                    &st.members_first,
                    (app.as_str(), group.as_str(), limit(limit_rows)),
                )
                .await?
            }
        };
        Self::decode_all(rows)
    }

    async fn user_groups(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<UserGroupRow>> {
        let rows = self
            .all(&self.inner.st.user_groups_of, (app.as_str(), user.as_str()))
            .await?;
        Self::decode_all(rows)
    }
}

impl DeviceStore for ScyllaStore {
    async fn devices(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<DeviceRow>> {
        let found: Vec<(Vec<u8>,)> = self
            .all(
                &self.inner.st.user_devices_of,
                (app.as_str(), user.as_str()),
            )
            .await?;
        Self::decode_all(found)
    }

    async fn device_reads(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<DeviceReadRow>> {
        let found: Vec<(Vec<u8>,)> = self
            .all(
                &self.inner.st.device_reads_of,
                (app.as_str(), user.as_str()),
            )
            .await?;
        Self::decode_all(found)
    }

    async fn ack_device(
        &self,
        app: &AppId,
        user: &UserId,
        device: &str,
        seq_acked: u64,
    ) -> StoreResult<()> {
        // Written at timestamp = seq: the highest position wins without a read, whatever the
        // order in which acknowledgements arrive.
        let s = big(seq_acked)?;
        self.inner
            .session
            .execute_unpaged(
                &self.inner.st.device_put,
                (app.as_str(), user.as_str(), device, s, s),
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn device_ack(&self, app: &AppId, user: &UserId, device: &str) -> StoreResult<u64> {
        let row: Option<(i64,)> = self
            .first(
                &self.inner.st.device_get,
                (app.as_str(), user.as_str(), device),
            )
            .await?;
        row.map_or(Ok(0), |(s,)| seq(s))
    }

    async fn device_acks(&self, app: &AppId, user: &UserId) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = self
            .all(&self.inner.st.device_list, (app.as_str(), user.as_str()))
            .await?;
        rows.into_iter()
            .map(|(device, s)| Ok((device, seq(s)?)))
            .collect()
    }

    async fn push_settings(&self, app: &AppId, user: &UserId) -> StoreResult<Option<PushRow>> {
        self.blob(&self.inner.st.push_of, (app.as_str(), user.as_str()))
            .await
    }
}

impl AnnotationStore for ScyllaStore {
    async fn reactions(
        &self,
        app: &AppId,
        conv: &ConvId,
        from: u64,
        to: u64,
    ) -> StoreResult<Vec<ReactionRow>> {
        let mut rows = Vec::new();
        if from > to {
            return Ok(rows);
        }
        // A page of history spans one or two buckets.
        for bucket in buckets::of(from, buckets::TIMELINE)..=buckets::of(to, buckets::TIMELINE) {
            let values = (
                app.as_str(),
                conv.as_str(),
                big(bucket)?,
                big(from)?,
                big(to)?,
            );
            let found: Vec<(Vec<u8>,)> = self.all(&self.inner.st.reactions_between, values).await?;
            rows.extend(Self::decode_all::<ReactionRow>(found)?);
        }
        Ok(rows)
    }

    async fn pins(&self, app: &AppId, conv: &ConvId) -> StoreResult<Vec<PinRow>> {
        let found: Vec<(Vec<u8>,)> = self
            .all(&self.inner.st.pins_of, (app.as_str(), conv.as_str()))
            .await?;
        Self::decode_all(found)
    }
}
