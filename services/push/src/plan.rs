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

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::push::{PushProvider, PushRegistration};
    use tidings_domain::{AppId, ClientMsgId, ConvId, GroupId, MessageId, Recipient as To};

    const NOW: i64 = 1_000;

    fn u(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn message(mentions: &[&str]) -> MessageSent {
        MessageSent {
            app: AppId::parse("a").unwrap(),
            conv: ConvId::group(&GroupId::parse("team").unwrap()),
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
            conv_seq: 7,
            from: u("alice"),
            to: To::Group(GroupId::parse("team").unwrap()),
            client_msg_id: ClientMsgId::parse("c1").unwrap(),
            body: Body::Text {
                text: "x".repeat(150),
            },
            mentions: mentions.iter().map(|m| u(m)).collect(),
            mention_all: false,
            reply_to: None,
            forward_of: None,
            ts: NOW,
        }
    }

    fn settings(dnd_until: Option<i64>) -> PushSettings {
        let device = |d: &str| PushRegistration {
            device: DeviceId::parse(d).unwrap(),
            provider: PushProvider::Fcm,
            token: format!("{d}-token"),
            topic: None,
        };
        PushSettings {
            devices: vec![device("phone"), device("tablet")],
            dnd_until,
        }
    }

    fn devices(
        message: &MessageSent,
        user: &str,
        push: &PushSettings,
        muted_until: Option<i64>,
        online: &[&str],
    ) -> Vec<String> {
        let user = u(user);
        let online: HashSet<DeviceId> = online
            .iter()
            .map(|d| DeviceId::parse(*d).unwrap())
            .collect();
        let to = Recipient {
            user: &user,
            push,
            muted_until,
            online: &online,
            badge: 3,
        };
        jobs(message, &to, true, NOW)
            .into_iter()
            .map(|j| j.device.to_string())
            .collect()
    }

    #[test]
    fn only_devices_without_a_session_get_a_job_and_never_the_sender() {
        let push = settings(None);
        assert_eq!(
            devices(&message(&[]), "bob", &push, None, &["tablet"]),
            ["phone"]
        );
        assert_eq!(
            devices(&message(&[]), "bob", &push, None, &[]),
            ["phone", "tablet"]
        );
        assert!(devices(&message(&[]), "alice", &push, None, &[]).is_empty());
        let user = u("bob");
        let online = HashSet::new();
        let to = Recipient {
            user: &user,
            push: &push,
            muted_until: None,
            online: &online,
            badge: 3,
        };
        let job = &jobs(&message(&[]), &to, true, NOW)[0];
        assert_eq!(
            job.preview.as_ref().map(|p| p.chars().count()),
            Some(PREVIEW_CHARS)
        );
        assert_eq!((job.badge, job.count, job.conv_seq), (3, 1, 7));
        assert_eq!(jobs(&message(&[]), &to, false, NOW)[0].preview, None);
    }

    #[test]
    fn mute_holds_unless_mentioned_and_do_not_disturb_holds_always() {
        let push = settings(None);
        assert!(devices(&message(&[]), "bob", &push, Some(NOW + 1), &[]).is_empty());
        assert_eq!(
            devices(&message(&[]), "bob", &push, Some(NOW), &[]).len(),
            2
        );
        assert_eq!(
            devices(&message(&["bob"]), "bob", &push, Some(NOW + 1), &[]).len(),
            2
        );
        let quiet = settings(Some(NOW + 1));
        assert!(devices(&message(&["bob"]), "bob", &quiet, None, &[]).is_empty());
    }
}
