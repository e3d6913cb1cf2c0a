//! The embedded store's broadcast port: the app's broadcast timeline and the tag indexes.

use super::{FjallStore, decode};
use crate::broadcasts::{Audience, BroadcastRow, BroadcastStore};
use crate::error::StoreError;
use crate::keys::{key, prefix, split};
use crate::ports::StoreResult;
use std::ops::Bound;
use tidings_domain::{AppId, Tag, UserId};

impl BroadcastStore for FjallStore {
    async fn broadcasts_after(
        &self,
        app: &AppId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<BroadcastRow>> {
        let from = key(&[app.as_str()], Some(after.saturating_add(1)));
        let to = key(&[app.as_str()], Some(u64::MAX));
        let mut rows = Vec::new();
        for guard in self.tables.broadcasts.range(from..=to).take(limit) {
            let (_, v) = guard.into_inner()?;
            rows.push(decode(&v)?);
        }
        Ok(rows)
    }

    async fn broadcast_head(&self, app: &AppId) -> StoreResult<u64> {
        let from = key(&[app.as_str()], Some(0));
        let to = key(&[app.as_str()], Some(u64::MAX));
        match self.tables.broadcasts.range(from..=to).next_back() {
            Some(guard) => {
                let (_, v) = guard.into_inner()?;
                Ok(decode::<BroadcastRow>(&v)?.bseq)
            }
            None => Ok(0),
        }
    }

    async fn audience(&self, app: &AppId, user: &UserId) -> StoreResult<Audience> {
        let mut audience = Audience::default();
        for guard in self
            .tables
            .user_tags
            .prefix(prefix(&[app.as_str(), user.as_str()]))
        {
            let (k, v) = guard.into_inner()?;
            let tag = match split(&k, false) {
                Some((parts, _)) if parts.len() == 3 => parts[2].to_owned(),
                _ => return Err(StoreError::Corrupt(format!("user_tags key {k:?}"))),
            };
            audience.since.insert(tag, decode(&v)?);
        }
        Ok(audience)
    }

    async fn tag_users(
        &self,
        app: &AppId,
        tag: &Tag,
        after: Option<&UserId>,
        limit: usize,
    ) -> StoreResult<Vec<UserId>> {
        let (a, t) = (app.as_str(), tag.as_str());
        let start = match after {
            Some(user) => Bound::Excluded(key(&[a, t, user.as_str()], None)),
            None => Bound::Included(prefix(&[a, t])),
        };
        let mut end = prefix(&[a, t]);
        // `\0` ends the prefix; `\x01` bounds every key that continues it.
        *end.last_mut().expect("a prefix ends with a separator") = 1;
        let mut users = Vec::new();
        for guard in self
            .tables
            .tag_users
            .range((start, Bound::Excluded(end)))
            .take(limit)
        {
            let (k, _) = guard.into_inner()?;
            match split(&k, false) {
                Some((parts, _)) if parts.len() == 3 => users.push(
                    UserId::parse(parts[2])
                        .map_err(|e| StoreError::Corrupt(format!("tag_users key: {e}")))?,
                ),
                _ => return Err(StoreError::Corrupt(format!("tag_users key {k:?}"))),
            }
        }
        Ok(users)
    }
}
