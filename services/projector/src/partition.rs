//! Which rows a projector instance writes. The fold runs over every event in every partition;
//! each partition keeps only the writes whose row it owns, so exactly one partition writes any
//! given row: a user's inbox, conversation rows, relations and profile belong to the user's
//! partition, a timeline to its conversation's, a group's row and member list to the group's.

use tidings_domain::{AppId, ConvId, GroupId, UserId};
use tidings_store::Write;

/// One share of the work: `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

/// FNV-1a, 64 bits: a published, stable function, so every instance and every release maps a
/// key to the same partition (std's hasher is allowed to change between releases).
fn fnv1a(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

impl Partition {
    /// The whole stream: one projector writes everything.
    pub const WHOLE: Partition = Partition { index: 0, count: 1 };

    /// Every partition of a layout with `count` of them.
    pub fn all(count: u32) -> impl Iterator<Item = Partition> {
        (0..count).map(move |index| Partition { index, count })
    }

    /// The checkpoint keys of every partition of a layout with `count` of them: the read
    /// models cover an event once all of them do.
    pub fn projections(count: u32) -> Vec<String> {
        Self::all(count).map(|p| p.projection()).collect()
    }

    /// The projection name: its checkpoint key. The whole stream keeps the historical name.
    pub fn projection(&self) -> String {
        if self.count == 1 {
            crate::PROJECTION.to_owned()
        } else {
            format!("{}.p{}of{}", crate::PROJECTION, self.index, self.count)
        }
    }

    /// The durable consumer's name.
    pub fn consumer(&self, base: &str) -> String {
        if self.count == 1 {
            base.to_owned()
        } else {
            format!("{base}-p{}of{}", self.index, self.count)
        }
    }

    fn owns(&self, app: &AppId, key: &str) -> bool {
        self.count == 1
            || fnv1a(&[app.as_str(), key]) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether `user`'s rows are this partition's.
    pub fn owns_user(&self, app: &AppId, user: &UserId) -> bool {
        self.owns(app, user.as_str())
    }

    fn owns_conv(&self, app: &AppId, conv: &ConvId) -> bool {
        self.owns(app, conv.as_str())
    }

    fn owns_group(&self, app: &AppId, group: &GroupId) -> bool {
        self.owns_conv(app, &ConvId::group(group))
    }

    /// Whether an event's subject is this partition's, for work done once per event (such as
    /// dead-lettering it).
    pub fn owns_subject(&self, subject: &str) -> bool {
        self.count == 1 || fnv1a(&[subject]) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether this partition writes `write`'s row.
    pub fn owns_write(&self, write: &Write) -> bool {
        match write {
            Write::Deliver { app, user, .. }
            | Write::ConversationMessage { app, user, .. }
            | Write::ConversationRead { app, user, .. }
            | Write::ConversationLeft { app, user, .. }
            | Write::Hide { app, user, .. }
            | Write::Clear { app, user, .. }
            | Write::UserStatus { app, user, .. }
            | Write::Relation { app, user, .. }
            | Write::ReactionEntry { app, user, .. }
            | Write::Settings { app, user, .. }
            | Write::Device { app, user, .. }
            | Write::DeviceRead { app, user, .. } => self.owns_user(app, user),
            Write::Push { app, user, .. } => self.owns_user(app, user),
            Write::Tag { app, user, .. } => self.owns_user(app, user),
            // `~` is in no user or conversation id: the app's broadcast timeline has a key
            // of its own.
            Write::Broadcast { app, .. } => self.owns(app, "~broadcasts"),
            Write::PutUser { profile, .. } => self.owns_user(&profile.app, &profile.user),
            Write::Timeline { app, message, .. } => self.owns_conv(app, &message.conv),
            Write::Reaction { app, notice, .. } => self.owns_conv(app, &notice.conv),
            Write::Pin { app, conv, .. } => self.owns_conv(app, conv),
            Write::Annotate { app, conv, .. } => self.owns_conv(app, conv),
            // A member row and the member's row in their group list change together, from the
            // group's partition: each of those rows still has exactly one writer.
            Write::PutGroup { app, row } => self.owns_group(app, &row.group),
            Write::PutMember { app, group, .. } | Write::RemoveMember { app, group, .. } => {
                self.owns_group(app, group)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn every_user_has_exactly_one_partition() {
        let app = AppId::parse("demo").unwrap();
        for count in [1, 2, 3, 8] {
            let mut per_partition = vec![0; count as usize];
            for i in 0..1000 {
                let u = user(&format!("user{i}"));
                let owners: Vec<u32> = Partition::all(count)
                    .filter(|p| p.owns_user(&app, &u))
                    .map(|p| p.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{u} in {count} partitions");
                per_partition[owners[0] as usize] += 1;
            }
            // Spread evenly enough that no partition holds twice its share.
            assert!(per_partition.iter().all(|n| *n * count as usize <= 2000));
        }
    }

    #[test]
    fn the_mapping_is_stable() {
        // Rows already written belong to these partitions: the mapping must never change.
        assert_eq!(fnv1a(&[""]), 0xaf63_bd4c_8601_b7df);
        assert_eq!(fnv1a(&["demo", "alice"]), 0xb69e_a5a4_f045_e0d6);
        let app = AppId::parse("demo").unwrap();
        assert!(Partition { index: 6, count: 8 }.owns_user(&app, &user("alice")));
        assert_eq!(Partition { index: 2, count: 4 }.projection(), "inbox.p2of4");
        assert_eq!(Partition::WHOLE.projection(), "inbox");
        assert_eq!(
            Partition { index: 0, count: 4 }.consumer("projector-inbox"),
            "projector-inbox-p0of4"
        );
    }
}
