//! Broadcasts and the audiences they reach. A broadcast is one row of its app's broadcast
//! timeline (`(app) / bseq`), never a row per user (read diffusion); who sees it is decided
//! when it is read, from the reader's audience: the tags they hold, each with the stream
//! sequence it was added at, and the implicit [`EVERYONE`] joined at registration.
//!
//! A broadcast at stream sequence `pos` for audience `a` is visible to a user who holds `a`
//! since a sequence below `pos`: users registered (or tagged) after it never see it, users
//! who lose the tag no longer see it. Both sides are fixed by the event stream, so a replay
//! sees the same.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use tidings_domain::{AppId, Body, MessageId, Tag, UserId};

use crate::ports::StoreResult;

/// The audience every user joins when registered: broadcasts without a tag are for it. Not a
/// valid tag (`*` is not an id character), so no tag can be named so.
pub const EVERYONE: &str = "*";

/// One broadcast as stored, and as the `broadcast` frame carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastRow {
    pub bseq: u64,
    pub msg_id: MessageId,
    /// Absent: every user of the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    pub body: Body,
    pub ts: i64,
    /// The stream sequence of its event: who held its audience before it sees it.
    pub pos: u64,
}

impl BroadcastRow {
    /// The audience it is for: its tag, or [`EVERYONE`].
    pub fn audience(&self) -> &str {
        self.tag.as_ref().map_or(EVERYONE, Tag::as_str)
    }
}

/// A user's audiences: tag (or [`EVERYONE`]) -> the stream sequence it was added at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    pub since: BTreeMap<String, u64>,
}

impl Audience {
    /// Whether `row` is for this user. A user without an [`EVERYONE`] row was registered
    /// before broadcasts were built (and not replayed since): they count as registered at 0.
    pub fn sees(&self, row: &BroadcastRow) -> bool {
        match (row.tag.as_ref(), self.since.get(row.audience())) {
            (_, Some(since)) => *since < row.pos,
            (None, None) => !self.since.contains_key(EVERYONE),
            (Some(_), None) => false,
        }
    }

    /// The user's tags (without [`EVERYONE`]), in order.
    pub fn tags(&self) -> Vec<String> {
        self.since
            .keys()
            .filter(|t| t.as_str() != EVERYONE)
            .cloned()
            .collect()
    }
}

/// The broadcast timeline and the tag indexes.
pub trait BroadcastStore: Send + Sync {
    /// The app's broadcasts with `bseq > after`, ascending, at most `limit` (all audiences).
    fn broadcasts_after(
        &self,
        app: &AppId,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<BroadcastRow>>> + Send;

    /// The app's newest `bseq` stored, 0 when none.
    fn broadcast_head(&self, app: &AppId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// `user`'s audiences.
    fn audience(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Audience>> + Send;

    /// The users holding `tag`, ordered by id, after `after` (from the first when `None`), at
    /// most `limit`.
    fn tag_users(
        &self,
        app: &AppId,
        tag: &Tag,
        after: Option<&UserId>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<UserId>>> + Send;
}

/// Most broadcast rows one page read scans for a user (tag broadcasts for others are skipped).
pub const MAX_SCAN: usize = 10_000;

/// `user`'s broadcasts after `after`, at most `limit`, scanning at most [`MAX_SCAN`] rows:
/// the broadcasts, and the last `bseq` scanned (where the next page starts).
pub async fn visible_after<S: BroadcastStore>(
    store: &S,
    app: &AppId,
    audience: &Audience,
    after: u64,
    limit: usize,
) -> StoreResult<(Vec<BroadcastRow>, u64)> {
    let mut found = Vec::new();
    let mut cursor = after;
    let mut scanned = 0;
    while found.len() < limit && scanned < MAX_SCAN {
        let page = store.broadcasts_after(app, cursor, 500).await?;
        let Some(last) = page.last() else { break };
        cursor = last.bseq;
        scanned += page.len();
        for row in page {
            if audience.sees(&row) {
                found.push(row);
                if found.len() == limit {
                    cursor = found.last().map_or(cursor, |r| r.bseq);
                    break;
                }
            }
        }
    }
    Ok((found, cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tag: Option<&str>, pos: u64) -> BroadcastRow {
        BroadcastRow {
            bseq: 1,
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
            tag: tag.map(|t| Tag::parse(t).unwrap()),
            body: Body::Text { text: "x".into() },
            ts: 1,
            pos,
        }
    }

    #[test]
    fn an_audience_sees_what_was_sent_after_it_joined() {
        let mut audience = Audience::default();
        // Registered before broadcasts were built: every broadcast to everyone.
        assert!(audience.sees(&row(None, 5)));
        assert!(!audience.sees(&row(Some("vip"), 5)));
        audience.since.insert(EVERYONE.into(), 10);
        audience.since.insert("vip".into(), 20);
        assert!(!audience.sees(&row(None, 5)));
        assert!(audience.sees(&row(None, 11)));
        assert!(!audience.sees(&row(Some("vip"), 15)));
        assert!(audience.sees(&row(Some("vip"), 21)));
        assert!(!audience.sees(&row(Some("beta"), 21)));
        assert_eq!(audience.tags(), vec!["vip".to_owned()]);
    }
}
