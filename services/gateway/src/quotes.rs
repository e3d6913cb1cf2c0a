//! Quotes of replies, resolved when read: a row keeps only which message a reply answers, and
//! every read (history, the inbox, catch-up, live entries, the pin list) fills in how that
//! message looks now from its timeline row, so an edit or a recall of the original shows in
//! every quote of it without rewriting the replies. A reply and its original share a
//! conversation, so the original's row is the same partition's and already written.

use crate::errors::store_error;
use std::collections::HashMap;
use std::sync::Arc;
use tidings_api::error::ApiError;
use tidings_domain::{AppId, ConvId};
use tidings_store::{Entry, EntryItem, MessageView, ReadModels, TimelineMessage};

/// Fills in the quote of every reply among `views`, reading each original once. A view shared
/// with other entries (a live push shares one among every recipient) is copied before it is
/// changed; the others are left as they are.
pub async fn resolve<S: ReadModels>(
    store: &S,
    app: &AppId,
    views: Vec<&mut Arc<MessageView>>,
) -> Result<(), ApiError> {
    let mut originals: HashMap<(ConvId, u64), Option<Arc<MessageView>>> = HashMap::new();
    for view in views {
        let Some(reply) = view.reply_to.as_ref() else {
            continue;
        };
        let key = (view.conv.clone(), reply.conv_seq);
        if !originals.contains_key(&key) {
            let found = store
                .messages_after(app, &key.0, reply.conv_seq.saturating_sub(1), 1)
                .await
                .map_err(store_error)?
                .into_iter()
                .find(|m| m.message.conv_seq == reply.conv_seq)
                .map(|m| m.message);
            originals.insert(key.clone(), found);
        }
        // An original not written yet (a lagging projection) leaves the quote out.
        if let Some(Some(original)) = originals.get(&key)
            && let Some(reply) = Arc::make_mut(view).reply_to.as_mut()
        {
            reply.resolve(original);
        }
    }
    Ok(())
}

/// The message views of inbox entries, for [`resolve`].
pub fn in_entries(entries: &mut [Entry]) -> Vec<&mut Arc<MessageView>> {
    entries
        .iter_mut()
        .filter_map(|e| match &mut e.item {
            EntryItem::Message(view) => Some(view),
            _ => None,
        })
        .collect()
}

/// The message views of history rows, for [`resolve`].
pub fn in_rows(rows: &mut [TimelineMessage]) -> Vec<&mut Arc<MessageView>> {
    rows.iter_mut().map(|m| &mut m.message).collect()
}
