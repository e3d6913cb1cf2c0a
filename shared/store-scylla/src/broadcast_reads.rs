//! The broadcast port: an app's broadcast timeline (walked bucket by bucket: `bseq` is gapless,
//! so the first empty bucket past the cursor ends it), its head, and the tag indexes.

use crate::buckets;
use crate::store::{ScyllaStore, big, decode, limit, seq};
use tidings_domain::{AppId, Tag, UserId};
use tidings_store::StoreError;
use tidings_store::broadcasts::{Audience, BroadcastRow, BroadcastStore};
use tidings_store::ports::StoreResult;

impl BroadcastStore for ScyllaStore {
    async fn broadcasts_after(
        &self,
        app: &AppId,
        after: u64,
        limit_rows: usize,
    ) -> StoreResult<Vec<BroadcastRow>> {
        let mut rows = Vec::new();
        let mut cursor = after;
        while rows.len() < limit_rows {
            let bucket = big(buckets::of(cursor + 1, buckets::BROADCASTS))?;
            let want = limit(limit_rows - rows.len());
            let page: Vec<(Vec<u8>,)> = self
                .limited(
                    &self.inner.st.broadcasts_after,
                    (app.as_str(), bucket, big(cursor)?, want),
                )
                .await?;
            let Some((last,)) = page.last() else { break };
            cursor = decode::<BroadcastRow>(last)?.bseq;
            for (data,) in &page {
                rows.push(decode(data)?);
            }
        }
        Ok(rows)
    }

    async fn broadcast_head(&self, app: &AppId) -> StoreResult<u64> {
        let row: Option<(i64,)> = self
            .first(&self.inner.st.broadcast_head_get, (app.as_str(),))
            .await?;
        row.map_or(Ok(0), |(bseq,)| seq(bseq))
    }

    async fn audience(&self, app: &AppId, user: &UserId) -> StoreResult<Audience> {
        let rows: Vec<(String, i64)> = self
            .all(&self.inner.st.user_tags_of, (app.as_str(), user.as_str()))
            .await?;
        let mut audience = Audience::default();
        for (tag, since) in rows {
            audience.since.insert(tag, seq(since)?);
        }
        Ok(audience)
    }

    async fn tag_users(
        &self,
        app: &AppId,
        tag: &Tag,
        after: Option<&UserId>,
        limit_rows: usize,
    ) -> StoreResult<Vec<UserId>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let st = &self.inner.st;
        let (a, t, n) = (app.as_str(), tag.as_str(), limit(limit_rows));
        let rows: Vec<(String,)> = match after {
            Some(user) => {
                self.limited(&st.tag_users_after, (a, t, user.as_str(), n))
                    .await?
            }
            None => self.limited(&st.tag_users_first, (a, t, n)).await?,
        };
        rows.into_iter()
            .map(|(user,)| {
                UserId::parse(user).map_err(|e| StoreError::Corrupt(format!("tag_users: {e}")))
            })
            .collect()
    }
}
