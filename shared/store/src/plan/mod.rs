//! The row planner: the one fold from a batch's `Write`s to the rows it changes, shared by
//! every adapter. A batch is applied in three steps: `RowKeys::of` names the rows it rewrites,
//! the adapter loads them (`Loaded`), `plan` folds the writes over them into `Changes`, and the
//! adapter commits those with the checkpoint. The planner does no IO.
//!
//! Inbox numbering: a delivery takes the user's head `seq + 1`. A delivery whose cursor (its
//! event's stream sequence) is not past the cursor the head held before the batch was already
//! applied (a batch repeated after a crash, or a new partition layout starting from an older
//! checkpoint) and is skipped. One event's deliveries to a user always come in one batch, and
//! one event may deliver several entries to a user, so the head as it was before the batch
//! decides, not the head as the batch moves it.
//!
//! The user change feed (`users:changed`) holds one entry per user, at the cursor of the
//! user's last change: a batch that moves it deletes the entries at every cursor the user
//! held before or during the batch (stores that apply a batch in several writes can have
//! written any of them, see the Scylla adapter).

pub mod cache;
pub mod changes;
pub mod keys;

pub use cache::RowCache;
pub use changes::{Changes, Head, MemberChange, UserChange};
pub use keys::{Loaded, RowKeys};

use crate::annotations::{ReactionMark, ReactionRow};
use crate::model::{Entry, EntryItem, TimelineMessage, UserGroupRow, UserRow};
use crate::rows::{advance_conversation, advances, annotate, leave, mark_read, patch_relation};
use crate::write::{Delivery, Write};
use keys::{ConvKey, UserKey};
use std::sync::Arc;

/// Folds `writes` over the rows `loaded` holds into the changes that store the result, with
/// `through_seq` as the checkpoint.
pub fn plan(loaded: &Loaded, through_seq: u64, writes: Vec<Write>) -> Changes {
    let mut c = Changes {
        through_seq,
        ..Changes::default()
    };
    reserve(&mut c, &writes);
    for write in writes {
        match write {
            Write::Deliver {
                app,
                user,
                ts,
                item,
                cursor,
            } => deliver(&mut c, loaded, (app, user), ts, item, cursor),
            Write::ReactionEntry {
                app,
                user,
                notice,
                ts,
                cursor,
            } => {
                let key = keys::mark_key(&app, &user, &notice);
                let mark = c
                    .reaction_marks
                    .get(&key)
                    .or_else(|| loaded.reaction_marks.get(&key))
                    .copied();
                let added = notice.added;
                if ReactionMark::changes(mark, added, cursor) {
                    c.reaction_marks.insert(key, ReactionMark { added, cursor });
                    let item = EntryItem::Reaction(notice);
                    deliver(&mut c, loaded, (app, user), ts, item, cursor);
                }
            }
            Write::Reaction { app, notice, ts } => {
                let row = notice.added.then(|| ReactionRow {
                    conv: notice.conv.clone(),
                    conv_seq: notice.conv_seq,
                    key: notice.key.clone(),
                    user: notice.user.clone(),
                    ts,
                });
                // A repeated add rewrites the row with its own time: the last add's, however
                // events fall into batches.
                let key = (app, notice.conv, notice.conv_seq, notice.key, notice.user);
                c.reactions.insert(key, row);
            }
            Write::Pin {
                app,
                conv,
                conv_seq,
                row,
            } => {
                c.pins.insert((app, conv, conv_seq), row);
            }
            Write::Tag {
                app,
                user,
                tag,
                since,
            } => {
                c.tags.insert((app, user, tag), since);
            }
            Write::Broadcast { app, row } => {
                c.broadcasts.insert((app, row.bseq), row);
            }
            Write::Settings { app, user, row } => {
                c.settings.insert((app, user, row.conv.clone()), row);
            }
            Write::Device { app, user, row } => {
                c.devices.insert((app, user, row.device.clone()), row);
            }
            Write::DeviceRead { app, user, row } => {
                c.device_reads.insert((app, user, row.device.clone()), row);
            }
            Write::Push { app, user, row } => {
                c.push.insert((app, user), row);
            }
            Write::Timeline { app, ts, message } => {
                let key = (app, message.conv.clone(), message.conv_seq);
                c.timeline.insert(key, TimelineMessage { ts, message });
            }
            Write::Annotate {
                app,
                conv,
                conv_seq,
                annotation,
            } => {
                let key = (app, conv, conv_seq);
                let current = c.timeline.get(&key).or_else(|| loaded.timeline.get(&key));
                if let Some(mut row) = current.cloned() {
                    annotate(Arc::make_mut(&mut row.message), annotation);
                    c.timeline.insert(key, row);
                }
            }
            Write::ConversationMessage {
                app,
                user,
                ts,
                message,
            } => {
                let key = (app, user, message.conv.clone());
                let stored = c.convs.get(&key).or_else(|| loaded.convs.get(&key));
                if !advances(stored, &key.1, &message) {
                    continue;
                }
                // The batch's own row is taken out and put back advanced (a row is cloned
                // only the first time a batch touches it).
                let current = c
                    .convs
                    .remove(&key)
                    .or_else(|| loaded.convs.get(&key).cloned());
                let row = advance_conversation(current, &key.1, ts, &message);
                c.convs.insert(key, row);
            }
            Write::ConversationRead {
                app,
                user,
                conv,
                conv_seq,
            } => {
                let key = (app, user, conv);
                let current = c.convs.get(&key).or_else(|| loaded.convs.get(&key));
                // A read marker for a conversation the projection has no row of is moot.
                if let Some(row) = current.cloned() {
                    c.convs.insert(key, mark_read(row, conv_seq));
                }
            }
            Write::ConversationLeft {
                app,
                user,
                conv,
                last,
            } => {
                let key = (app, user, conv);
                let current = c.convs.get(&key).or_else(|| loaded.convs.get(&key));
                if let Some(row) = current.cloned() {
                    let last = last.as_ref().map(|(ts, m)| (*ts, &**m));
                    let row = leave(row, &key.1, last);
                    c.convs.insert(key, row);
                }
            }
            Write::Hide {
                app,
                user,
                conv,
                conv_seq,
            } => {
                let key = (app, user, conv);
                removal_mark(&mut c, loaded, &key);
                let (app, user, conv) = key;
                c.hidden.insert((app, user, conv, conv_seq));
            }
            Write::Clear {
                app,
                user,
                conv,
                up_to,
            } => {
                // Never backwards (the reads aggregate records only higher marks anyway).
                let mark = removal_mark(&mut c, loaded, &(app, user, conv));
                *mark = (*mark).max(up_to);
            }
            Write::PutUser { profile, cursor } => {
                let key = (profile.app.clone(), profile.user.clone());
                match user(&mut c, loaded, &key) {
                    Some(change) => {
                        change.row.profile = profile;
                        change.row.cursor = cursor;
                    }
                    None => {
                        let row = UserRow {
                            profile,
                            deactivated: false,
                            token_epoch: 0,
                            cursor,
                        };
                        let change = UserChange {
                            row,
                            stale_cursors: Default::default(),
                        };
                        c.users.insert(key, change);
                    }
                }
            }
            Write::UserStatus {
                app,
                user: id,
                deactivated,
                token_epoch,
                cursor,
            } => {
                // Status events always follow registration on the user's subject.
                if let Some(change) = user(&mut c, loaded, &(app, id)) {
                    let row = &mut change.row;
                    row.deactivated = deactivated.unwrap_or(row.deactivated);
                    row.token_epoch = token_epoch.unwrap_or(row.token_epoch);
                    row.cursor = cursor;
                }
            }
            Write::Relation {
                app,
                user,
                other,
                patch,
                ts,
                cursor,
            } => {
                let key = (app, user, other);
                let current = c
                    .relations
                    .get(&key)
                    .or_else(|| loaded.relations.get(&key))
                    .cloned();
                let row = patch_relation(current, &key.2, patch, ts, cursor);
                c.relations.insert(key, row);
            }
            Write::PutGroup { app, row } => {
                c.groups.insert((app, row.group.clone()), row);
            }
            Write::PutMember {
                app,
                group,
                member,
                cursor,
            } => {
                let mine = UserGroupRow {
                    group: group.clone(),
                    role: Some(member.role),
                    cursor,
                };
                c.user_groups
                    .insert((app.clone(), member.user.clone(), group.clone()), mine);
                let change = MemberChange {
                    cursor,
                    row: Some(member.clone()),
                };
                c.members.insert((app, group, member.user), change);
            }
            Write::RemoveMember {
                app,
                group,
                user,
                cursor,
            } => {
                let left = UserGroupRow {
                    group: group.clone(),
                    role: None,
                    cursor,
                };
                c.user_groups
                    .insert((app.clone(), user.clone(), group.clone()), left);
                c.members
                    .insert((app, group, user), MemberChange { cursor, row: None });
            }
        }
    }
    for change in c.users.values_mut() {
        change.stale_cursors.remove(&change.row.cursor);
    }
    c
}

/// Appends an entry to a user's inbox, unless its event was already applied there.
fn deliver(c: &mut Changes, loaded: &Loaded, key: UserKey, ts: i64, item: EntryItem, cursor: u64) {
    let stored = loaded.heads.get(&key).copied().unwrap_or_default();
    if cursor <= stored.cursor {
        return;
    }
    let head = match c.heads.get_mut(&key) {
        Some(head) => head,
        None => c.heads.entry(key.clone()).or_insert(stored),
    };
    *head = Head {
        seq: head.seq + 1,
        cursor,
    };
    let entry = Entry {
        seq: head.seq,
        ts,
        item,
    };
    let (app, user) = key;
    c.entries.push(Delivery {
        app,
        user,
        entry,
        cursor,
    });
}

/// Sizes the changes that grow with every message up front: entries and timeline rows are
/// large, and growing their collections would move each of them again.
fn reserve(c: &mut Changes, writes: &[Write]) {
    let (mut entries, mut timeline) = (0, 0);
    for write in writes {
        match write {
            Write::Deliver { .. } | Write::ReactionEntry { .. } => entries += 1,
            Write::Timeline { .. } => timeline += 1,
            _ => {}
        }
    }
    c.entries.reserve(entries);
    c.timeline.reserve(timeline);
}

/// A user's removal mark in a conversation as the batch has it so far (created at 0, "only
/// hidden messages", when the user had none).
fn removal_mark<'c>(c: &'c mut Changes, loaded: &Loaded, key: &ConvKey) -> &'c mut u64 {
    if !c.cleared.contains_key(key) {
        let stored = loaded.cleared.get(key).copied().unwrap_or(0);
        c.cleared.insert(key.clone(), stored);
    }
    c.cleared.get_mut(key).expect("inserted above")
}

/// A user's row as the batch has changed it so far (`None`: not registered), its current
/// change-feed cursor recorded as one the batch moves away from.
fn user<'c>(c: &'c mut Changes, loaded: &Loaded, key: &UserKey) -> Option<&'c mut UserChange> {
    if !c.users.contains_key(key) {
        let row = loaded.users.get(key)?.clone();
        let change = UserChange {
            stale_cursors: [row.cursor].into(),
            row,
        };
        c.users.insert(key.clone(), change);
    }
    let change = c.users.get_mut(key)?;
    change.stale_cursors.insert(change.row.cursor);
    Some(change)
}

#[cfg(test)]
mod tests;
