//! Inbox message entries hold no body: a message is stored once, in its conversation's
//! timeline, and a user's inbox row for it is a reference (`tidings_store::inbox_row`), as in
//! the embedded store. Reads join the messages back with one range read per conversation (and
//! timeline bucket) in the page (point reads for a conversation whose references are sparse),
//! so a recall or an edit, which rewrites the one timeline row, shows in every inbox at once.

use crate::buckets;
use crate::store::{ScyllaStore, big, decode, limit};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tidings_domain::{AppId, ConvId};
use tidings_store::inbox_row::InboxRow;
use tidings_store::ports::StoreResult;
use tidings_store::{Entry, EntryItem, MessageView, TimelineMessage};

/// A conversation's references in a page are joined by range reads when they are this dense
/// at least (one in four timeline rows of the range wanted); sparser ones by point reads, so a
/// page never reads more than a few times the rows it shows.
const RANGE_DENSITY: u64 = 4;

/// One timeline read of a join.
enum Read {
    /// The rows `low..=high` of one bucket.
    Range {
        conv: ConvId,
        bucket: u64,
        low: u64,
        high: u64,
    },
    /// One row.
    Point { conv: ConvId, conv_seq: u64 },
}

impl ScyllaStore {
    async fn read_timeline(&self, app: &AppId, read: Read) -> StoreResult<Vec<TimelineMessage>> {
        let st = &self.inner.st;
        match read {
            Read::Range {
                conv,
                bucket,
                low,
                high,
            } => {
                let rows: Vec<(Vec<u8>,)> = self
                    .limited(
                        &st.timeline_after,
                        (
                            app.as_str(),
                            conv.as_str(),
                            big(bucket)?,
                            big(low.saturating_sub(1))?,
                            limit(usize::try_from(high - low + 1).unwrap_or(usize::MAX)),
                        ),
                    )
                    .await?;
                let rows = rows
                    .iter()
                    .map(|(data,)| decode::<TimelineMessage>(data))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(rows
                    .into_iter()
                    .filter(|t| t.message.conv_seq <= high)
                    .collect())
            }
            Read::Point { conv, conv_seq } => {
                let bucket = big(buckets::of(conv_seq, buckets::TIMELINE))?;
                let values = (app.as_str(), conv.as_str(), bucket, big(conv_seq)?);
                Ok(self
                    .blob(&st.timeline_get, values)
                    .await?
                    .into_iter()
                    .collect())
            }
        }
    }

    /// The entries of `rows`, messages joined from their timelines. A reference whose timeline
    /// row is not written yet (another partition has not caught up) ends the page there; the
    /// rest follows once it has.
    pub(crate) async fn join_messages(
        &self,
        app: &AppId,
        rows: Vec<InboxRow>,
    ) -> StoreResult<Vec<Entry>> {
        let mut wanted: BTreeMap<&ConvId, Vec<u64>> = BTreeMap::new();
        for row in &rows {
            if let InboxRow::MessageRef { conv, conv_seq, .. } = row {
                wanted.entry(conv).or_default().push(*conv_seq);
            }
        }
        let mut reads = Vec::new();
        for (conv, seqs) in wanted {
            let (Some(&low), Some(&high)) = (seqs.iter().min(), seqs.iter().max()) else {
                continue;
            };
            if high - low < RANGE_DENSITY * seqs.len() as u64 {
                let (first, last) = (
                    buckets::of(low, buckets::TIMELINE),
                    buckets::of(high, buckets::TIMELINE),
                );
                reads.extend((first..=last).map(|bucket| Read::Range {
                    conv: conv.clone(),
                    bucket,
                    low,
                    high,
                }));
            } else {
                reads.extend(seqs.into_iter().map(|conv_seq| Read::Point {
                    conv: conv.clone(),
                    conv_seq,
                }));
            }
        }
        let found: Vec<Vec<TimelineMessage>> = futures_util::stream::iter(reads)
            .map(|read| self.read_timeline(app, read))
            .buffer_unordered(crate::store::CONCURRENCY)
            .try_collect()
            .await?;
        let messages: HashMap<(ConvId, u64), Arc<MessageView>> = found
            .into_iter()
            .flatten()
            .map(|t| ((t.message.conv.clone(), t.message.conv_seq), t.message))
            .collect();
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
                    None => break,
                },
            };
            entries.push(entry);
        }
        Ok(entries)
    }
}
