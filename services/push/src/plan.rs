//! The pure decision: which of a recipient's devices get a notification for a message, given
//! their push settings, the conversation's mute, who is online and the unread total.

use crate::job::PushJob;
use std::collections::HashSet;
use tidings_domain::event::MessageSent;
use tidings_domain::push::PushSettings;
use tidings_domain::{Body, DeviceId, UserId};

/// Longest preview, in characters.
pub const PREVIEW_CHARS: usize = 100;

/// What is known of one recipient when their entry has been projected.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    pub user: &'a UserId,
    pub push: &'a PushSettings,
    /// The conversation muted until this time (unix ms), from the user's settings.
    pub muted_until: Option<i64>,
    /// Devices with an open session now: they got the entry live.
    pub online: &'a HashSet<DeviceId>,
    /// The user's unread total across conversations.
    pub badge: u64,
}

/// The text a notification shows for `body`.
pub fn preview(body: &Body) -> String {
    match body {
        Body::Text { text } => text.chars().take(PREVIEW_CHARS).collect(),
        Body::Image(_) => "[image]".to_owned(),
        Body::File(_) => "[file]".to_owned(),
        Body::Custom { .. } => "[message]".to_owned(),
    }
}

/// The jobs `message` yields for `to`: none for the sender, none under do-not-disturb, none in
/// a muted conversation unless the message mentions the user by name (`@all` does not
/// override mute), and otherwise one per registered device that has no session open.
pub fn jobs(message: &MessageSent, to: &Recipient<'_>, show_text: bool, now: i64) -> Vec<PushJob> {
    if to.user == &message.from || to.push.quiet_at(now) {
        return Vec::new();
    }
    let mention = message.mentions.contains(to.user);
    let muted = to.muted_until.is_some_and(|until| until > now);
    if muted && !mention {
        return Vec::new();
    }
    to.push
        .devices
        .iter()
        .filter(|registration| !to.online.contains(&registration.device))
        .map(|registration| PushJob {
            app: message.app.clone(),
            user: to.user.clone(),
            device: registration.device.clone(),
            provider: registration.provider,
            token: registration.token.clone(),
            topic: registration.topic.clone(),
            conv: message.conv.clone(),
            msg_id: message.msg_id.clone(),
            conv_seq: message.conv_seq,
            from: message.from.clone(),
            preview: show_text.then(|| preview(&message.body)),
            badge: to.badge,
            count: 1,
            mention: mention || message.mention_all,
            ts: message.ts,
        })
        .collect()
}
