//! Inbox message entries hold no body: a message is stored once, in its conversation's
//! timeline, and a user's inbox row for it is a reference (`tidings_store::inbox_row`), as in
//! the embedded store. Reads join the messages back with one range read per conversation (and
//! timeline bucket) in the page, so a recall or an edit, which rewrites the one timeline row,
//! shows in every inbox at once.

use crate::buckets;
use crate::store::{ScyllaStore, big, decode, limit};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use tidings_domain::{AppId, ConvId};
use tidings_store::inbox_row::InboxRow;
use tidings_store::ports::StoreResult;
use tidings_store::{Entry, EntryItem, MessageView, TimelineMessage};

impl ScyllaStore {
    /// The entries of `rows`, messages joined from their timelines. A reference whose timeline
    /// row is not written yet (another partition has not caught up) ends the page there; the
    /// rest follows once it has.
    pub(crate) async fn join_messages(
        &self,
        app: &AppId,
        rows: Vec<InboxRow>,
    ) -> StoreResult<Vec<Entry>> {
        let mut spans: BTreeMap<&ConvId, (u64, u64)> = BTreeMap::new();
        for row in &rows {
            if let InboxRow::MessageRef { conv, conv_seq, .. } = row {
                let span = spans.entry(conv).or_insert((*conv_seq, *conv_seq));
                *span = (span.0.min(*conv_seq), span.1.max(*conv_seq));
            }
        }
        let mut reads = Vec::new();
        for (conv, (low, high)) in spans {
            for bucket in buckets::of(low, buckets::TIMELINE)..=buckets::of(high, buckets::TIMELINE)
            {
                reads.push((conv.clone(), bucket, low, high));
            }
        }
        let found: Vec<Vec<((ConvId, u64), MessageView)>> = futures_util::stream::iter(reads)
            .map(|(conv, bucket, low, high)| async move {
                let found: Vec<(Vec<u8>,)> = self
                    .limited(
                        &self.inner.st.timeline_after,
                        (
                            app.as_str(),
                            conv.as_str(),
                            big(bucket)?,
                            big(low.saturating_sub(1))?,
                            limit(usize::try_from(high - low + 1).unwrap_or(usize::MAX)),
                        ),
                    )
                    .await?;
                found
                    .iter()
                    .map(|(data,)| decode::<TimelineMessage>(data))
                    .filter(|m| m.as_ref().map_or(true, |m| m.message.conv_seq <= high))
                    .map(|m| m.map(|m| ((conv.clone(), m.message.conv_seq), m.message)))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .buffer_unordered(crate::store::CONCURRENCY)
            .try_collect()
            .await?;
        let messages: HashMap<_, _> = found.into_iter().flatten().collect();
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
                        item: EntryItem::Message(message.clone()),
                    },
                    None => break,
                },
            };
            entries.push(entry);
        }
        Ok(entries)
    }
}
