//! A user's devices on the user's subject: registered at a device's first hello, signed out by
//! the user or the app server. A sign-out is recorded before it is announced, so a gateway
//! that misses the announcement still ends the device's sessions on the projector's
//! user-change notice, and a token minted up to the sign-out no longer says hello as it.

use super::{Commands, now_millis, observed};
use crate::error::{ApiError, ErrorCode};
use tidings_domain::device::{DeviceCommand, SIGNED_OUT};
use tidings_domain::login::Platform;
use tidings_domain::user::UserCommand;
use tidings_domain::{AppId, DeviceId, UserId};
use tidings_events::control::AccessEnded;

impl Commands {
    /// Admits a hello as `device` with a token minted at `issued_ms`, registering the device
    /// the first time (one read of the user's subject when it is known, a write otherwise).
    /// A device signed out after the token was minted is `unauthorized`.
    pub async fn hello_device(
        &self,
        app: &AppId,
        user: &UserId,
        device: &DeviceId,
        platform: Platform,
        issued_ms: i64,
    ) -> Result<(), ApiError> {
        let command = UserCommand::RegisterDevice {
            device: DeviceCommand {
                app: app.clone(),
                user: user.clone(),
                device: device.clone(),
                platform,
                ts: now_millis(),
            },
            issued_ms,
        };
        match self.0.users.execute(app, user.as_str(), &command).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::Forbidden && e.message == SIGNED_OUT => {
                Err(ApiError::new(ErrorCode::Unauthorized, SIGNED_OUT))
            }
            Err(e) => Err(e),
        }
    }

    /// Signs one registered device of a user out: recorded on the user's subject (tokens
    /// minted up to now no longer open sessions as it), then every gateway closes the
    /// sessions that said hello as it.
    pub async fn sign_out_device(
        &self,
        app: &AppId,
        user: &UserId,
        device: &DeviceId,
    ) -> Result<(), ApiError> {
        observed("sign_out_device", async {
            self.require_active(app, user).await?;
            let ts = now_millis();
            let command = UserCommand::SignOutDevice(DeviceCommand {
                app: app.clone(),
                user: user.clone(),
                device: device.clone(),
                platform: Platform::default(),
                ts,
            });
            self.0.users.execute(app, user.as_str(), &command).await?;
            let ended = AccessEnded::DeviceSignedOut {
                device: device.to_string(),
                at: Some(ts),
            };
            self.announce(app, user, ended).await;
            Ok(())
        })
        .await
    }

    /// The devices of `user` signed out (and not registered again since), with when: what a
    /// gateway ends on a user-change notice. Read from the state `access` just caught up.
    pub async fn signed_out_devices(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> Result<Vec<AccessEnded>, ApiError> {
        self.0
            .users
            .read(app, user.as_str(), false, |state| {
                state
                    .devices
                    .iter()
                    .filter_map(|(device, record)| {
                        record.signed_out_at.map(|at| AccessEnded::DeviceSignedOut {
                            device: device.to_string(),
                            at: Some(at),
                        })
                    })
                    .collect()
            })
            .await
    }
}
