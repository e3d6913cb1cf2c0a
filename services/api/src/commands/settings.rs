//! Conversation settings that follow a user across devices: the change is decided on the
//! user's `settings` subject, after checking that the user takes part in the conversation.

use super::{Commands, not_a_participant, now_millis, observed};
use crate::aggregate::Recorded;
use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Deserializer};
use tidings_domain::event::ConvSettings;
use tidings_domain::settings::{ChangeSettings, SettingsPatch};
use tidings_domain::{AppId, ConvId, UserId};

/// A present field, even `null` (`Some(None)`), as opposed to an absent one (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The body of a settings change (REST, server API and the `settings` frame): the fields to
/// set; an absent field keeps its value, `null` clears `muted_until` or `draft`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SettingsRequest {
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Muted until this unix time in ms (`null`: not muted).
    #[serde(default, deserialize_with = "present")]
    pub muted_until: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub draft: Option<Option<String>>,
    #[serde(default)]
    pub marked_unread: Option<bool>,
    #[serde(default)]
    pub hidden: Option<bool>,
}

impl SettingsRequest {
    fn patch(self) -> Result<SettingsPatch, ApiError> {
        if let Some(Some(until)) = self.muted_until
            && until < 0
        {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "muted_until must be a unix time in milliseconds",
            ));
        }
        Ok(SettingsPatch {
            pinned: self.pinned,
            muted_until: self.muted_until,
            draft: self.draft,
            marked_unread: self.marked_unread,
            hidden: self.hidden,
        })
    }
}

impl Commands {
    /// Changes `user`'s settings for `conv` (a participant only); answers all of them as they
    /// now are. A change that changes nothing records nothing.
    pub async fn change_settings(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        request: SettingsRequest,
    ) -> Result<Recorded<ConvSettings>, ApiError> {
        observed("settings", async {
            let patch = request.patch()?;
            let target = self.marker_target(app, user, conv, 0, true).await?;
            if !target.exists {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("conversation {conv} not found"),
                ));
            }
            if !target.member {
                return Err(not_a_participant());
            }
            let command = ChangeSettings {
                app: app.clone(),
                user: user.clone(),
                conv: conv.clone(),
                patch,
                last_conv_seq: target.last,
                ts: now_millis(),
            };
            self.0
                .settings
                .execute_then(app, user.as_str(), &command, |state| state.of(conv))
                .await
        })
        .await
    }
}
