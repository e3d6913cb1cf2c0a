//! Tidings' read models: the row types clients read, the storage ports (one trait per read-model
//! family), the one planner that folds projector writes into row changes (`plan`), the digest,
//! and the embedded fjall adapter (the default). It depends on the domain and events crates and
//! must not depend on any service.

pub mod annotations;
pub mod broadcasts;
pub mod device_row;
pub mod digest;
pub mod entry_decode;
pub mod error;
pub mod fjall;
pub mod history;
pub mod inbox_row;
pub mod keys;
pub mod model;
pub mod plan;
pub mod ports;
pub mod rows;
#[cfg(test)]
mod test_fixtures;
mod timeline_decode;
pub mod visibility;
pub mod write;

pub use annotations::{PinRow, ReactionMark, ReactionRow, ReactionSummary};
pub use broadcasts::{Audience, BroadcastRow, BroadcastStore};
pub use device_row::{DeviceReadRow, DeviceRow};
pub use error::StoreError;
pub use fjall::FjallStore;
pub use history::{HistoryOrder, HistoryPage, HistoryQuery};
pub use model::{
    ClearedNotice, Conversation, Diffusion, Direction, EditNotice, Entry, EntryItem, GroupAdvance,
    GroupNotice, GroupRow, HiddenNotice, MemberRow, MessageView, PinNotice, PushRow,
    ReactionNotice, ReadReceipt, RecallNotice, Recalled, Relation, RelationNotice, RelationPatch,
    ReplyView, ServiceNotice, SettingsNotice, SettingsRow, SystemNotice, TimelineMessage,
    UserGroupRow, UserRow,
};
pub use ports::{
    AnnotationStore, ConversationStore, DeviceStore, GroupStore, HiddenStore, InboxStore,
    ProjectionStore, ReadModels, RelationStore, UserStore,
};
pub use write::{Annotation, Delivery, Write};
