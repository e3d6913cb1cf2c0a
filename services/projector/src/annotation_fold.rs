//! Reactions and pins as read-model writes. A reaction sets or deletes its row (the
//! conversation's) and asks to tell each recipient, which the planner does only when it
//! changes what they were last told (see `tidings_store::annotations`). Recipients: a direct
//! conversation's two users; a group's members, except in read-diffusion groups, where only the
//! message's sender and the reactor are told (the others see counts in history). Pins are rare
//! and change what every member sees first, so every participant is told.

use crate::directory::Directory;
use tidings_domain::event::{Pin, Reaction};
use tidings_domain::{AppId, ConvId, UserId};
use tidings_store::{Diffusion, EntryItem, PinNotice, PinRow, ReactionNotice, Write};

/// Who takes part in `conv` at this point of the stream; `None` for a group the projection
/// never saw created.
fn participants<'d>(
    directory: &'d Directory,
    app: &AppId,
    conv: &ConvId,
) -> Option<(Vec<UserId>, Diffusion)> {
    match conv.group_id() {
        None => Some((conv.direct_users(), Diffusion::Write)),
        Some(group) => {
            let roster = directory.get(app, &group)?;
            let users = roster.members.keys().cloned().collect();
            Some((users, roster.row.diffusion))
        }
    }
}

/// The writes of an added (`added`) or removed reaction.
pub fn project_reaction(
    r: &Reaction,
    added: bool,
    cursor: u64,
    directory: &Directory,
) -> Vec<Write> {
    let notice = ReactionNotice {
        conv: r.conv.clone(),
        conv_seq: r.conv_seq,
        msg_id: r.msg_id.clone(),
        user: r.user.clone(),
        key: r.key.clone(),
        added,
    };
    let mut writes = vec![Write::Reaction {
        app: r.app.clone(),
        notice: notice.clone(),
        ts: r.ts,
    }];
    let Some((members, diffusion)) = participants(directory, &r.app, &r.conv) else {
        tracing::error!(conv = %r.conv, "reaction in a group the projection never saw created");
        return writes;
    };
    let told = members
        .into_iter()
        .filter(|user| diffusion == Diffusion::Write || user == &r.sender || user == &r.user);
    for user in told {
        writes.push(Write::ReactionEntry {
            app: r.app.clone(),
            user,
            notice: notice.clone(),
            ts: r.ts,
            cursor,
        });
    }
    writes
}

/// The writes of a pin (`pinned`) or unpin.
pub fn project_pin(p: &Pin, pinned: bool, cursor: u64, directory: &Directory) -> Vec<Write> {
    let row = pinned.then(|| PinRow {
        conv_seq: p.conv_seq,
        msg_id: p.msg_id.clone(),
        by: p.by.clone(),
        ts: p.ts,
    });
    let mut writes = vec![Write::Pin {
        app: p.app.clone(),
        conv: p.conv.clone(),
        conv_seq: p.conv_seq,
        row,
    }];
    let notice = PinNotice {
        conv: p.conv.clone(),
        conv_seq: p.conv_seq,
        msg_id: p.msg_id.clone(),
        by: p.by.clone(),
    };
    let item = if pinned {
        EntryItem::Pinned(notice)
    } else {
        EntryItem::Unpinned(notice)
    };
    let Some((members, _)) = participants(directory, &p.app, &p.conv) else {
        tracing::error!(conv = %p.conv, "pin in a group the projection never saw created");
        return writes;
    };
    for user in members {
        writes.push(Write::Deliver {
            app: p.app.clone(),
            user,
            ts: p.ts,
            item: item.clone(),
            cursor,
        });
    }
    writes
}
