//! An app's presence and typing switches (issue 14), read from its settings.

/// Default cap on the users one `presence_subscribe` (or presence query) may watch.
pub const DEFAULT_MAX_WATCHED: usize = 1_000;
/// The highest cap an app may set (each watched user is a filter of one NATS consumer).
pub const MAX_WATCHED_CAP: usize = 10_000;

/// What presence and typing may do in one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresencePolicy {
    /// Most users one subscription or query names.
    pub max_watched: usize,
    /// A `presence_subscribe` naming no users watches the caller's friends.
    pub friends_by_default: bool,
    /// Typing is relayed in read-diffusion (large) groups too.
    pub typing_in_large_groups: bool,
}
