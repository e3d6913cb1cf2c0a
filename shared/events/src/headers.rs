//! Header names carried by every event message.

/// The stable event type name, e.g. `message_sent`.
pub const EVENT_TYPE: &str = "Tidings-Event-Type";
/// The wire version of the payload, e.g. `1`.
pub const EVENT_VERSION: &str = "Tidings-Event-Version";
/// Why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "Tidings-Dead-Letter-Reason";
/// The stream sequence of the dead-lettered event.
pub const DEAD_LETTER_SEQ: &str = "Tidings-Dead-Letter-Seq";
/// The subject the dead-lettered message was on.
pub const DEAD_LETTER_SUBJECT: &str = "Tidings-Dead-Letter-Subject";
/// What a message on a user's push subject carries when it is not one inbox entry: `typing`
/// for a typing notice (JSON), `entries` for several entries. One entry carries no such header.
pub const PUSH_KIND: &str = "Tidings-Push-Kind";
/// `PUSH_KIND` of a typing notice.
pub const PUSH_KIND_TYPING: &str = "typing";
/// `PUSH_KIND` of several inbox entries of one user, oldest first (a MessagePack array of
/// entries): what one projector batch delivered to the user, pushed in one message.
pub const PUSH_KIND_ENTRIES: &str = "entries";
