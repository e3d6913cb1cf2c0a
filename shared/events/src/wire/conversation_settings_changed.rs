//! `conversation_settings_changed`: a user changed their settings for a conversation (pinned,
//! muted until, draft, marked unread, hidden); the payload holds all of them after the change.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::CONVERSATION_SETTINGS_CHANGED;
use tidings_domain::event::{ConvSettings, ConversationSettingsChanged};
use tidings_domain::{AppId, ConvId, Event, IdError, UserId};

/// `conversation_settings_changed`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationSettingsChangedV1 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub pinned: bool,
    pub muted_until: Option<i64>,
    pub draft: Option<String>,
    pub marked_unread: bool,
    pub hidden: bool,
    pub hidden_up_to: u64,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: CONVERSATION_SETTINGS_CHANGED,
    version: 1,
    decode: |p| {
        Ok(Event::ConversationSettingsChanged(
            rmp_serde::from_slice::<ConversationSettingsChangedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<ConversationSettingsChangedV1>,
    sample: || {
        Event::ConversationSettingsChanged(ConversationSettingsChanged {
            app: sample::app(),
            user: sample::bob(),
            conv: ConvId::group(&sample::team()),
            settings: ConvSettings {
                pinned: true,
                muted_until: Some(sample::TS + 3_600_000),
                draft: Some("see you at".into()),
                marked_unread: false,
                hidden: true,
                hidden_up_to: 7,
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(c: &ConversationSettingsChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&ConversationSettingsChangedV1::from(c)))
}

impl TryFrom<ConversationSettingsChangedV1> for ConversationSettingsChanged {
    type Error = IdError;
    fn try_from(w: ConversationSettingsChangedV1) -> Result<Self, IdError> {
        Ok(ConversationSettingsChanged {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            conv: ConvId::parse(w.conv)?,
            settings: ConvSettings {
                pinned: w.pinned,
                muted_until: w.muted_until,
                draft: w.draft,
                marked_unread: w.marked_unread,
                hidden: w.hidden,
                hidden_up_to: w.hidden_up_to,
            },
            ts: w.ts,
        })
    }
}

impl From<&ConversationSettingsChanged> for ConversationSettingsChangedV1 {
    fn from(c: &ConversationSettingsChanged) -> Self {
        ConversationSettingsChangedV1 {
            app: c.app.to_string(),
            user: c.user.to_string(),
            conv: c.conv.to_string(),
            pinned: c.settings.pinned,
            muted_until: c.settings.muted_until,
            draft: c.settings.draft.clone(),
            marked_unread: c.settings.marked_unread,
            hidden: c.settings.hidden,
            hidden_up_to: c.settings.hidden_up_to,
            ts: c.ts,
        }
    }
}
