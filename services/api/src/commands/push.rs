//! Offline push settings: a device's push registration (provider, token, topic) and the user's
//! do-not-disturb, decided on the user's subject.

use super::{Commands, now_millis, observed};
use crate::aggregate::Recorded;
use crate::error::{ApiError, ErrorCode};
use serde::Deserialize;
use tidings_domain::push::{PushChange, PushProvider, PushRegistration, PushSettings};
use tidings_domain::user::UserCommand;
use tidings_domain::{AppId, DeviceId, UserId};

/// The body of a push registration: `provider` is `apns`, `fcm` or `webhook` (app-defined).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushRequest {
    pub provider: String,
    pub token: String,
    /// The APNs bundle id (`apns-topic`) or an app-defined topic.
    #[serde(default)]
    pub topic: Option<String>,
}

/// The body of a do-not-disturb change: `until` a unix time in ms, `null` to turn it off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DoNotDisturbRequest {
    pub until: Option<i64>,
}

impl PushRequest {
    fn registration(self, device: &DeviceId) -> Result<PushRegistration, ApiError> {
        let provider = PushProvider::parse(&self.provider).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "provider must be apns, fcm or webhook",
            )
        })?;
        Ok(PushRegistration {
            device: device.clone(),
            provider,
            token: self.token,
            topic: self.topic,
        })
    }
}

impl Commands {
    /// Changes `user`'s push settings; answers all of them as they now are. A change that
    /// changes nothing records nothing.
    async fn change_push(
        &self,
        app: &AppId,
        user: &UserId,
        change: PushChange,
    ) -> Result<Recorded<PushSettings>, ApiError> {
        let command = UserCommand::Push {
            app: app.clone(),
            user: user.clone(),
            change,
            ts: now_millis(),
        };
        self.0
            .users
            .execute_then(app, user.as_str(), &command, |state| state.push.clone())
            .await
    }

    /// Registers (or replaces) `device`'s push registration.
    pub async fn register_push(
        &self,
        app: &AppId,
        user: &UserId,
        device: &DeviceId,
        request: PushRequest,
    ) -> Result<Recorded<PushSettings>, ApiError> {
        observed("push_register", async {
            let registration = request.registration(device)?;
            self.change_push(app, user, PushChange::Register(registration))
                .await
        })
        .await
    }

    /// Removes `device`'s push registration (a no-op when it has none).
    pub async fn unregister_push(
        &self,
        app: &AppId,
        user: &UserId,
        device: &DeviceId,
    ) -> Result<Recorded<PushSettings>, ApiError> {
        observed("push_unregister", async {
            self.change_push(app, user, PushChange::Unregister(device.clone()))
                .await
        })
        .await
    }

    /// Sets or clears `user`'s do-not-disturb.
    pub async fn set_do_not_disturb(
        &self,
        app: &AppId,
        user: &UserId,
        request: DoNotDisturbRequest,
    ) -> Result<Recorded<PushSettings>, ApiError> {
        observed("do_not_disturb", async {
            self.change_push(app, user, PushChange::DoNotDisturb(request.until))
                .await
        })
        .await
    }

    /// `user`'s push settings as their subject holds them now.
    pub async fn push_settings(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> Result<PushSettings, ApiError> {
        self.0
            .users
            .read(app, user.as_str(), true, |state| state.push.clone())
            .await
    }
}
