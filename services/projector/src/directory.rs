//! The groups the projector has seen: each group's row and members, kept in memory so a group
//! message fans out to the members it had at that point of the stream. Loaded from the store
//! before a batch is folded, then changed by the fold itself; a failed batch restarts the
//! projector, which starts again from the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tidings_domain::{AppId, Event, GroupId, Recipient, UserId};
use tidings_events::Envelope;
use tidings_store::{ConversationStore, GroupRow, GroupStore, MemberRow, MessageView, StoreError};

/// One group as the fold sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Roster {
    pub row: GroupRow,
    pub members: BTreeMap<UserId, MemberRow>,
    /// The group's last message so far (its time and view), where a leaving member's row
    /// stops.
    pub last: Option<(i64, Arc<MessageView>)>,
    /// Whether no message came since the roster was created or loaded: the next one writes
    /// every member's conversation row (to create it, or to make sure it follows).
    pub rows_unwritten: bool,
    /// Members who joined since the group's last message: the next one writes their rows. Every
    /// other member's row exists and follows the group's timeline, so a message need not move
    /// it.
    pub newcomers: HashSet<UserId>,
}

impl Roster {
    /// A group's roster as created or loaded, no member's row known to follow yet.
    pub fn new(
        row: GroupRow,
        members: BTreeMap<UserId, MemberRow>,
        last: Option<(i64, Arc<MessageView>)>,
    ) -> Self {
        Self {
            row,
            members,
            last,
            rows_unwritten: true,
            newcomers: HashSet::new(),
        }
    }
}

/// Every group the projector knows.
#[derive(Debug, Default)]
pub struct Directory {
    groups: HashMap<(AppId, GroupId), Roster>,
}

pub(crate) fn group_of(envelope: &Envelope) -> Option<(AppId, GroupId)> {
    match &envelope.event {
        Event::GroupChanged(g) => Some((g.app.clone(), g.group.clone())),
        Event::MessageSent(m) => match &m.to {
            Recipient::Group(g) => Some((m.app.clone(), g.clone())),
            Recipient::User(_) | Recipient::Service(_) => None,
        },
        Event::ReactionAdded(r) | Event::ReactionRemoved(r) => {
            r.conv.group_id().map(|g| (r.app.clone(), g))
        }
        Event::MessagePinned(p) | Event::MessageUnpinned(p) => {
            p.conv.group_id().map(|g| (p.app.clone(), g))
        }
        _ => None,
    }
}

impl Directory {
    /// Loads the groups `envelopes` touch that are not in memory yet, with their last message.
    pub async fn preload<S: GroupStore + ConversationStore>(
        &mut self,
        store: &S,
        envelopes: &[Envelope],
    ) -> Result<(), StoreError> {
        for (app, group) in envelopes.iter().filter_map(group_of) {
            if self.groups.contains_key(&(app.clone(), group.clone())) {
                continue;
            }
            if let Some(row) = store.group(&app, &group).await? {
                let members = store
                    .members(&app, &group, None, usize::MAX)
                    .await?
                    .into_iter()
                    .map(|m| (m.user.clone(), m))
                    .collect();
                let last = store
                    .messages_before(&app, &row.conv, None, 1)
                    .await?
                    .pop()
                    .map(|t| (t.ts, t.message));
                self.groups
                    .insert((app, group), Roster::new(row, members, last));
            }
        }
        Ok(())
    }

    /// A group, if known.
    pub fn get(&self, app: &AppId, group: &GroupId) -> Option<&Roster> {
        self.groups.get(&(app.clone(), group.clone()))
    }

    /// A group to change, if known.
    pub fn get_mut(&mut self, app: &AppId, group: &GroupId) -> Option<&mut Roster> {
        self.groups.get_mut(&(app.clone(), group.clone()))
    }

    /// Records a new group.
    pub fn insert(&mut self, app: &AppId, roster: Roster) {
        self.groups
            .insert((app.clone(), roster.row.group.clone()), roster);
    }
}
