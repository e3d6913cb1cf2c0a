//! The `settings` aggregate: one user's settings for their conversations (pinned, muted until,
//! draft, marked unread, hidden from the list), which follow the user across devices. Its own
//! subject per user (`tid.evt.<app>.settings.<user>`), so a settings change never contends
//! with message sends or read markers; two devices changing settings at once are ordered by
//! the subject's expected sequence, and each change is merged onto the settings as they then
//! are (last writer wins per field).

use crate::aggregate::{Aggregate, Snapshotted};
use crate::event::{ConvSettings, ConversationSettingsChanged, Event};
use crate::{AppId, ConvId, DomainError, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The longest draft kept, in characters.
pub const MAX_DRAFT_CHARS: usize = 4_000;

/// A user's settings per conversation, folded from their settings subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingsState {
    convs: HashMap<ConvId, ConvSettings>,
}

impl SettingsState {
    /// The user's settings for `conv` (all off when never set).
    pub fn of(&self, conv: &ConvId) -> ConvSettings {
        self.convs.get(conv).cloned().unwrap_or_default()
    }
}

/// The fields a change sets; an absent field keeps its value. `muted_until` and `draft` are
/// cleared with `Some(None)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub pinned: Option<bool>,
    pub muted_until: Option<Option<i64>>,
    pub draft: Option<Option<String>>,
    pub marked_unread: Option<bool>,
    pub hidden: Option<bool>,
}

impl SettingsPatch {
    /// `settings` with this patch's fields set; hiding records up to which `conv_seq` (the
    /// conversation's newest, `last_conv_seq`) the conversation is hidden.
    fn onto(&self, settings: &ConvSettings, last_conv_seq: u64) -> ConvSettings {
        let (hidden, hidden_up_to) = match self.hidden {
            None => (settings.hidden, settings.hidden_up_to),
            Some(true) => (true, last_conv_seq),
            Some(false) => (false, 0),
        };
        ConvSettings {
            pinned: self.pinned.unwrap_or(settings.pinned),
            muted_until: self.muted_until.unwrap_or(settings.muted_until),
            draft: self.draft.clone().unwrap_or_else(|| settings.draft.clone()),
            marked_unread: self.marked_unread.unwrap_or(settings.marked_unread),
            hidden,
            hidden_up_to,
        }
    }
}

/// Changes the user's settings for `conv`. A change that changes nothing is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSettings {
    pub app: AppId,
    pub user: UserId,
    pub conv: ConvId,
    pub patch: SettingsPatch,
    /// The conversation's newest `conv_seq`, read from its aggregate beforehand.
    pub last_conv_seq: u64,
    pub ts: i64,
}

impl Aggregate for SettingsState {
    const KIND: &'static str = "settings";
    type Command = ChangeSettings;

    fn decide(&self, cmd: &ChangeSettings) -> Result<Vec<Event>, DomainError> {
        if let Some(Some(draft)) = &cmd.patch.draft
            && draft.chars().count() > MAX_DRAFT_CHARS
        {
            return Err(DomainError::Invalid(format!(
                "draft is longer than {MAX_DRAFT_CHARS} characters"
            )));
        }
        let now = self.of(&cmd.conv);
        let settings = cmd.patch.onto(&now, cmd.last_conv_seq);
        if settings == now {
            return Ok(Vec::new());
        }
        Ok(vec![Event::ConversationSettingsChanged(
            ConversationSettingsChanged {
                app: cmd.app.clone(),
                user: cmd.user.clone(),
                conv: cmd.conv.clone(),
                settings,
                ts: cmd.ts,
            },
        )])
    }

    fn apply(&mut self, event: &Event) {
        if let Event::ConversationSettingsChanged(c) = event {
            self.convs.insert(c.conv.clone(), c.settings.clone());
        }
    }
}

impl Snapshotted for SettingsState {
    /// 2: encoded positionally (no field names; the api's `snapshot` module).
    const SNAPSHOT_FORMAT: u32 = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(patch: SettingsPatch) -> ChangeSettings {
        ChangeSettings {
            app: AppId::parse("a").unwrap(),
            user: UserId::parse("u").unwrap(),
            conv: ConvId::parse("d~u~v").unwrap(),
            patch,
            last_conv_seq: 3,
            ts: 1,
        }
    }

    fn run(state: &mut SettingsState, patch: SettingsPatch) -> Result<usize, DomainError> {
        let events = state.decide(&change(patch))?;
        for e in &events {
            state.apply(e);
        }
        Ok(events.len())
    }

    #[test]
    fn a_change_merges_onto_the_settings_and_a_repeat_is_a_no_op() {
        let mut state = SettingsState::default();
        let pin = SettingsPatch {
            pinned: Some(true),
            draft: Some(Some("hi".into())),
            ..Default::default()
        };
        assert_eq!(run(&mut state, pin.clone()), Ok(1));
        assert_eq!(run(&mut state, pin), Ok(0));
        let clear_draft = SettingsPatch {
            draft: Some(None),
            muted_until: Some(Some(5)),
            ..Default::default()
        };
        assert_eq!(run(&mut state, clear_draft), Ok(1));
        let conv = ConvId::parse("d~u~v").unwrap();
        assert_eq!(
            state.of(&conv),
            ConvSettings {
                pinned: true,
                muted_until: Some(5),
                draft: None,
                marked_unread: false,
                hidden: false,
                hidden_up_to: 0,
            }
        );
    }

    #[test]
    fn hiding_records_the_newest_conv_seq_and_hiding_again_after_a_message_is_a_change() {
        let mut state = SettingsState::default();
        let hide = SettingsPatch {
            hidden: Some(true),
            ..Default::default()
        };
        assert_eq!(run(&mut state, hide.clone()), Ok(1));
        let conv = ConvId::parse("d~u~v").unwrap();
        assert_eq!(state.of(&conv).hidden_up_to, 3);
        assert_eq!(run(&mut state, hide.clone()), Ok(0));
        let mut later = change(hide);
        later.last_conv_seq = 5;
        assert_eq!(state.decide(&later).map(|e| e.len()), Ok(1));
        let show = SettingsPatch {
            hidden: Some(false),
            ..Default::default()
        };
        assert_eq!(run(&mut state, show), Ok(1));
        assert_eq!(state.of(&conv).hidden_up_to, 0);
    }

    #[test]
    fn an_overlong_draft_is_refused() {
        let long = SettingsPatch {
            draft: Some(Some("x".repeat(MAX_DRAFT_CHARS + 1))),
            ..Default::default()
        };
        assert!(matches!(
            SettingsState::default().decide(&change(long)),
            Err(DomainError::Invalid(_))
        ));
    }
}
