//! Offline push settings of a user: one push registration per device (provider, token,
//! optional topic) and a user-wide do-not-disturb. Recorded on the user's subject as the whole
//! settings after each change (as conversation settings are), so the read model and the push
//! worker never need an earlier event; two devices changing them at once are ordered by the
//! subject's expected sequence.

use crate::{DeviceId, DomainError};
use serde::{Deserialize, Serialize};

/// Most devices with a push registration per user.
pub const MAX_PUSH_DEVICES: usize = 20;
/// Longest push token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 4_096;
/// Longest topic (APNs bundle id, FCM or app-defined topic), in bytes.
pub const MAX_TOPIC_BYTES: usize = 256;

/// Who delivers a device's notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushProvider {
    /// Apple Push Notification service.
    Apns,
    /// Firebase Cloud Messaging (HTTP v1).
    Fcm,
    /// The app server, through a signed HTTP webhook (app-defined delivery).
    Webhook,
}

impl PushProvider {
    /// The provider's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PushProvider::Apns => "apns",
            PushProvider::Fcm => "fcm",
            PushProvider::Webhook => "webhook",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "apns" => Some(PushProvider::Apns),
            "fcm" => Some(PushProvider::Fcm),
            "webhook" => Some(PushProvider::Webhook),
            _ => None,
        }
    }
}

/// One device's push registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRegistration {
    pub device: DeviceId,
    pub provider: PushProvider,
    pub token: String,
    /// APNs bundle id (the `apns-topic`), or a topic the app defines; `None`: the app's default.
    pub topic: Option<String>,
}

/// A user's push settings: registrations sorted by device, and do-not-disturb.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    pub devices: Vec<PushRegistration>,
    /// No notifications until this unix time in ms (`i64::MAX`: until turned off).
    pub dnd_until: Option<i64>,
}

/// One change to a user's push settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushChange {
    /// Register (or replace) a device's registration.
    Register(PushRegistration),
    /// Remove a device's registration (a no-op when it has none).
    Unregister(DeviceId),
    /// Set (`Some`) or clear do-not-disturb.
    DoNotDisturb(Option<i64>),
}

impl PushSettings {
    /// The registration of `device`, if it has one.
    pub fn device(&self, device: &DeviceId) -> Option<&PushRegistration> {
        self.devices.iter().find(|r| &r.device == device)
    }

    /// Whether do-not-disturb holds at `now` (unix ms).
    pub fn quiet_at(&self, now: i64) -> bool {
        self.dnd_until.is_some_and(|until| until > now)
    }

    /// The settings after `change`, or `None` when it changes nothing.
    pub fn after(&self, change: &PushChange) -> Result<Option<PushSettings>, DomainError> {
        let mut next = self.clone();
        match change {
            PushChange::Register(registration) => {
                check(registration)?;
                next.devices.retain(|r| r.device != registration.device);
                if next.devices.len() >= MAX_PUSH_DEVICES {
                    return Err(DomainError::Invalid(format!(
                        "at most {MAX_PUSH_DEVICES} devices may have a push registration"
                    )));
                }
                next.devices.push(registration.clone());
                next.devices.sort_by(|a, b| a.device.cmp(&b.device));
            }
            PushChange::Unregister(device) => next.devices.retain(|r| &r.device != device),
            PushChange::DoNotDisturb(until) => {
                if until.is_some_and(|u| u < 0) {
                    return Err(DomainError::Invalid(
                        "until must be a unix time in milliseconds".into(),
                    ));
                }
                next.dnd_until = *until;
            }
        }
        Ok((next != *self).then_some(next))
    }
}

fn check(registration: &PushRegistration) -> Result<(), DomainError> {
    if registration.token.is_empty() || registration.token.len() > MAX_TOKEN_BYTES {
        return Err(DomainError::Invalid(format!(
            "token must be 1-{MAX_TOKEN_BYTES} bytes"
        )));
    }
    if registration
        .topic
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_TOPIC_BYTES)
    {
        return Err(DomainError::Invalid(format!(
            "topic must be 1-{MAX_TOPIC_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(token: &str) -> PushChange {
        PushChange::Register(PushRegistration {
            device: DeviceId::parse("phone").unwrap(),
            provider: PushProvider::Apns,
            token: token.into(),
            topic: Some("com.example.chat".into()),
        })
    }

    #[test]
    fn registering_replaces_per_device_and_a_repeat_changes_nothing() {
        let s = PushSettings::default()
            .after(&phone("t1"))
            .unwrap()
            .unwrap();
        assert_eq!(s.after(&phone("t1")), Ok(None));
        let s = s.after(&phone("t2")).unwrap().unwrap();
        assert_eq!(s.devices.len(), 1);
        assert_eq!(s.devices[0].token, "t2");
        let gone = s
            .after(&PushChange::Unregister(DeviceId::parse("phone").unwrap()))
            .unwrap()
            .unwrap();
        assert!(gone.devices.is_empty());
        assert_eq!(
            gone.after(&PushChange::Unregister(DeviceId::parse("phone").unwrap())),
            Ok(None)
        );
    }

    #[test]
    fn do_not_disturb_holds_until_its_time_and_bad_input_is_refused() {
        let s = PushSettings::default()
            .after(&PushChange::DoNotDisturb(Some(100)))
            .unwrap()
            .unwrap();
        assert!(s.quiet_at(99));
        assert!(!s.quiet_at(100));
        assert!(s.after(&PushChange::DoNotDisturb(Some(-1))).is_err());
        assert!(s.after(&phone("")).is_err());
    }
}
