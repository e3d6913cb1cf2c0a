//! Which uploaded files a conversation's live messages name, so a file stops being readable
//! once every message naming it is recalled (and is never readable again: a send naming it
//! is refused). A file no message named yet (just uploaded) stays readable to the
//! conversation's participants. Delete-for-me does not touch this: it hides a message for one
//! user, and the file stays readable to everyone else.
//!
//! Held: per file ever named, how many live messages name it, and per live message naming a
//! file, which one (a recall names the message by `conv_seq`). So the record grows with the
//! files sent in the conversation, not with its messages.

use crate::FileId;
use crate::event::{MessageRecalled, MessageSent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The files named by a conversation's messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Files {
    /// Every file a message named, with how many live (not recalled) messages name it now.
    named: BTreeMap<FileId, u32>,
    /// The file of each live message that names one, by `conv_seq`.
    by_message: BTreeMap<u64, FileId>,
}

impl Files {
    pub(crate) fn sent(&mut self, m: &MessageSent) {
        if let Some(file) = m.body.attachment() {
            *self.named.entry(file.file_id.clone()).or_default() += 1;
            self.by_message.insert(m.conv_seq, file.file_id.clone());
        }
    }

    /// A recall: the message no longer names its file (a repeat finds nothing to remove).
    pub(crate) fn recalled(&mut self, r: &MessageRecalled) {
        if let Some(file) = self.by_message.remove(&r.conv_seq)
            && let Some(live) = self.named.get_mut(&file)
        {
            *live = live.saturating_sub(1);
        }
    }

    /// Whether `file` may still be read: no message named it yet, or one that names it is
    /// not recalled.
    pub fn readable(&self, file: &FileId) -> bool {
        self.named.get(file).is_none_or(|live| *live > 0)
    }

    pub(crate) fn len(&self) -> usize {
        self.named.len() + self.by_message.len()
    }
}
