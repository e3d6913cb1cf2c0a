//! `push_settings_changed`: a user changed their push settings (a device's push registration,
//! or do-not-disturb); the payload holds all of them after the change.

use crate::codec::to_vec;
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::PushSettingsChanged;
use tidings_domain::event::types::PUSH_SETTINGS_CHANGED;
use tidings_domain::push::{PushProvider, PushRegistration, PushSettings};
use tidings_domain::{AppId, DeviceId, Event, IdError, UserId};

/// One device's registration, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PushRegistrationV1 {
    pub device: String,
    /// `apns`, `fcm` or `webhook`.
    pub provider: String,
    pub token: String,
    pub topic: Option<String>,
}

/// `push_settings_changed`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PushSettingsChangedV1 {
    pub app: String,
    pub user: String,
    pub devices: Vec<PushRegistrationV1>,
    pub dnd_until: Option<i64>,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: PUSH_SETTINGS_CHANGED,
    version: 1,
    decode: |p| {
        Ok(Event::PushSettingsChanged(
            rmp_serde::from_slice::<PushSettingsChangedV1>(p)?.try_into()?,
        ))
    },
    schema: schema::<PushSettingsChangedV1>,
    sample: || {
        Event::PushSettingsChanged(PushSettingsChanged {
            app: sample::app(),
            user: sample::bob(),
            settings: PushSettings {
                devices: vec![PushRegistration {
                    device: DeviceId::parse("phone").expect("valid"),
                    provider: PushProvider::Apns,
                    token: "80f1c2d3e4".into(),
                    topic: Some("com.example.chat".into()),
                }],
                dnd_until: Some(sample::TS + 3_600_000),
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(c: &PushSettingsChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&PushSettingsChangedV1::from(c)))
}

impl TryFrom<PushSettingsChangedV1> for PushSettingsChanged {
    type Error = IdError;
    fn try_from(w: PushSettingsChangedV1) -> Result<Self, IdError> {
        let mut devices = Vec::with_capacity(w.devices.len());
        for d in w.devices {
            devices.push(PushRegistration {
                device: DeviceId::parse(d.device)?,
                // A provider this version does not know is kept as an app-defined one.
                provider: PushProvider::parse(&d.provider).unwrap_or(PushProvider::Webhook),
                token: d.token,
                topic: d.topic,
            });
        }
        Ok(PushSettingsChanged {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            settings: PushSettings {
                devices,
                dnd_until: w.dnd_until,
            },
            ts: w.ts,
        })
    }
}

impl From<&PushSettingsChanged> for PushSettingsChangedV1 {
    fn from(c: &PushSettingsChanged) -> Self {
        PushSettingsChangedV1 {
            app: c.app.to_string(),
            user: c.user.to_string(),
            devices: c
                .settings
                .devices
                .iter()
                .map(|r| PushRegistrationV1 {
                    device: r.device.to_string(),
                    provider: r.provider.as_str().to_owned(),
                    token: r.token.clone(),
                    topic: r.topic.clone(),
                })
                .collect(),
            dnd_until: c.settings.dnd_until,
            ts: c.ts,
        }
    }
}
