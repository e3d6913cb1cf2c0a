//! `device_registered` and `device_signed_out`: one struct, told apart by the type header.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::DeviceChange;
use tidings_domain::event::types::{DEVICE_REGISTERED, DEVICE_SIGNED_OUT};
use tidings_domain::login::Platform;
use tidings_domain::{AppId, DeviceId, Event, IdError, UserId};

/// `device_registered` / `device_signed_out`, version 1. `platform` is `ios`, `android`,
/// `web`, `desktop` or `other` (a name this version does not know reads as `other`); `ts` is
/// in milliseconds (a sign-out refuses tokens issued up to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceChangeV1 {
    pub app: String,
    pub user: String,
    pub device: String,
    pub platform: String,
    pub ts: i64,
}

pub(crate) const ENTRIES: &[Entry] = &[
    v1(
        DEVICE_REGISTERED,
        |p| Ok(Event::DeviceRegistered(decode_v1(p)?)),
        || Event::DeviceRegistered(sample_device()),
    ),
    v1(
        DEVICE_SIGNED_OUT,
        |p| Ok(Event::DeviceSignedOut(decode_v1(p)?)),
        || Event::DeviceSignedOut(sample_device()),
    ),
];

const fn v1(
    event_type: &'static str,
    decode: fn(&[u8]) -> Result<Event, DecodeError>,
    sample: fn() -> Event,
) -> Entry {
    Entry {
        event_type,
        version: 1,
        decode,
        schema: schema::<DeviceChangeV1>,
        sample,
    }
}

fn decode_v1(p: &[u8]) -> Result<DeviceChange, DecodeError> {
    Ok(rmp_serde::from_slice::<DeviceChangeV1>(p)?.try_into()?)
}

fn sample_device() -> DeviceChange {
    DeviceChange {
        app: sample::app(),
        user: sample::alice(),
        device: DeviceId::parse("phone").expect("valid"),
        platform: Platform::Ios,
        ts: sample::TS,
    }
}

/// Encodes a device change in the current version.
pub(crate) fn encode(d: &DeviceChange) -> (u32, Vec<u8>) {
    (1, to_vec(&DeviceChangeV1::from(d)))
}

fn platform_name(platform: Platform) -> String {
    serde_json::to_value(platform)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("a platform is a string")
}

impl TryFrom<DeviceChangeV1> for DeviceChange {
    type Error = IdError;
    fn try_from(w: DeviceChangeV1) -> Result<Self, IdError> {
        Ok(DeviceChange {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            device: DeviceId::parse(w.device)?,
            platform: serde_json::from_value(serde_json::Value::String(w.platform))
                .unwrap_or_default(),
            ts: w.ts,
        })
    }
}

impl From<&DeviceChange> for DeviceChangeV1 {
    fn from(d: &DeviceChange) -> Self {
        DeviceChangeV1 {
            app: d.app.to_string(),
            user: d.user.to_string(),
            device: d.device.to_string(),
            platform: platform_name(d.platform),
            ts: d.ts,
        }
    }
}
