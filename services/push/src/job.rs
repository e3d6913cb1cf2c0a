//! A push job: one notification for one device, and how a burst of them collapses into one.

use serde::Serialize;
use tidings_domain::push::PushProvider;
use tidings_domain::{AppId, ConvId, DeviceId, MessageId, UserId};

/// One notification to deliver to one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushJob {
    pub app: AppId,
    pub user: UserId,
    pub device: DeviceId,
    pub provider: PushProvider,
    pub token: String,
    /// The registration's topic (APNs bundle id), if it named one.
    pub topic: Option<String>,
    pub conv: ConvId,
    /// The newest message the notification stands for.
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub from: UserId,
    /// The text to show (a text message's start, or the kind of body); `None` when the app
    /// turned previews off.
    pub preview: Option<String>,
    /// The user's unread total when the newest message was projected.
    pub badge: u64,
    /// How many messages this notification stands for (a collapsed burst counts them all).
    pub count: u32,
    /// Whether any of them mentioned the user.
    pub mention: bool,
    pub ts: i64,
}

impl PushJob {
    /// The key notifications replace each other by on the device (`apns-collapse-id`, FCM's
    /// `collapse_key` and `tag`): one per conversation.
    pub fn collapse_id(&self) -> &str {
        self.conv.as_str()
    }
}

/// `jobs` with every run for one (app, user, device, conversation) merged into one job that
/// carries the newest message, the newest badge, the summed count and any mention. The order
/// of first appearance is kept.
pub fn collapse(jobs: Vec<PushJob>) -> Vec<PushJob> {
    let mut merged: Vec<PushJob> = Vec::with_capacity(jobs.len());
    for job in jobs {
        let same = merged.iter_mut().find(|m| {
            m.app == job.app && m.user == job.user && m.device == job.device && m.conv == job.conv
        });
        match same {
            Some(earlier) => {
                let count = earlier.count + job.count;
                let mention = earlier.mention || job.mention;
                *earlier = PushJob {
                    count,
                    mention,
                    ..job
                };
            }
            None => merged.push(job),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(device: &str, conv: &str, seq: u64, mention: bool) -> PushJob {
        PushJob {
            app: AppId::parse("a").unwrap(),
            user: UserId::parse("bob").unwrap(),
            device: DeviceId::parse(device).unwrap(),
            provider: PushProvider::Webhook,
            token: "t".into(),
            topic: None,
            conv: ConvId::parse(conv).unwrap(),
            msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-00000000000{seq}")).unwrap(),
            conv_seq: seq,
            from: UserId::parse("alice").unwrap(),
            preview: Some(format!("m{seq}")),
            badge: seq,
            count: 1,
            mention,
            ts: seq as i64,
        }
    }

    #[test]
    fn a_burst_per_device_and_conversation_becomes_one_job_with_the_newest_message() {
        let jobs = vec![
            job("phone", "d~alice~bob", 1, true),
            job("phone", "g~team", 2, false),
            job("phone", "d~alice~bob", 3, false),
            job("tablet", "d~alice~bob", 4, false),
            job("phone", "d~alice~bob", 5, false),
        ];
        let merged = collapse(jobs);
        let seen: Vec<(&str, &str, u64, u32, bool, u64)> = merged
            .iter()
            .map(|j| {
                let (d, c) = (j.device.as_str(), j.conv.as_str());
                (d, c, j.conv_seq, j.count, j.mention, j.badge)
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("phone", "d~alice~bob", 5, 3, true, 5),
                ("phone", "g~team", 2, 1, false, 2),
                ("tablet", "d~alice~bob", 4, 1, false, 4),
            ]
        );
    }
}
