//! The app changes (`app_created`, `app_secret_rotated`, `app_settings_changed`,
//! `app_disabled`): one struct for all of them, the type header names the change.
//!
//! Settings travel as a map of setting name to value, not as fixed fields: a setting added
//! later is a new key (read as its default from events that lack it), not a new wire version,
//! and a reader ignores keys it does not know.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tidings_domain::app::AppSettings;
use tidings_domain::conv::MessagingPolicy;
use tidings_domain::event::types::{
    APP_CREATED, APP_DISABLED, APP_SECRET_ROTATED, APP_SETTINGS_CHANGED,
};
use tidings_domain::event::{AppChange, AppChanged};
use tidings_domain::{AppId, Event};

/// Every app change, version 1; the event type header says which change it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppChangedV1 {
    pub app: String,
    /// `app_created` and `app_secret_rotated`: the (new) secret.
    pub secret: Option<String>,
    /// `app_secret_rotated`: until when (ms since the epoch) the replaced secret still signs.
    pub previous_valid_until: Option<i64>,
    /// `app_created` and `app_settings_changed`: every setting, by name.
    pub settings: Option<BTreeMap<String, serde_json::Value>>,
    pub ts: i64,
}

/// One entry per change; each names the change its type decodes to.
pub(crate) const ENTRIES: &[Entry] = &[
    v1(
        APP_CREATED,
        |p| {
            decode_v1(p, |w| {
                Ok(AppChange::Created {
                    secret: required(w.secret.clone(), "secret")?,
                    settings: settings(w.settings.clone())?,
                })
            })
        },
        || {
            sample_app(AppChange::Created {
                secret: "0123456789abcdef0123".into(),
                settings: AppSettings::default(),
            })
        },
    ),
    v1(
        APP_SECRET_ROTATED,
        |p| {
            decode_v1(p, |w| {
                Ok(AppChange::SecretRotated {
                    secret: required(w.secret.clone(), "secret")?,
                    previous_valid_until: required(w.previous_valid_until, "previous_valid_until")?,
                })
            })
        },
        || {
            sample_app(AppChange::SecretRotated {
                secret: "fedcba9876543210fedc".into(),
                previous_valid_until: sample::TS + 86_400_000,
            })
        },
    ),
    v1(
        APP_SETTINGS_CHANGED,
        |p| {
            decode_v1(p, |w| {
                Ok(AppChange::SettingsChanged {
                    settings: settings(w.settings.clone())?,
                })
            })
        },
        || {
            sample_app(AppChange::SettingsChanged {
                settings: AppSettings {
                    messaging: MessagingPolicy::FriendsOnly,
                    max_group_members: 500,
                    max_file_bytes: 1024 * 1024,
                    ..AppSettings::default()
                },
            })
        },
    ),
    v1(
        APP_DISABLED,
        |p| decode_v1(p, |_| Ok(AppChange::Disabled)),
        || sample_app(AppChange::Disabled),
    ),
];

/// Encodes any app change in the current version.
pub(crate) fn encode(a: &AppChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&AppChangedV1::from(a)))
}

const fn v1(
    event_type: &'static str,
    decode: fn(&[u8]) -> Result<Event, DecodeError>,
    sample: fn() -> Event,
) -> Entry {
    Entry {
        event_type,
        version: 1,
        decode,
        schema: schema::<AppChangedV1>,
        sample,
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, DecodeError> {
    value.ok_or_else(|| DecodeError::AppSettings(format!("missing {field}")))
}

/// The settings a map names; missing keys take their defaults, unknown keys are ignored.
fn settings(map: Option<BTreeMap<String, serde_json::Value>>) -> Result<AppSettings, DecodeError> {
    let object = serde_json::Value::Object(map.unwrap_or_default().into_iter().collect());
    serde_json::from_value(object).map_err(|e| DecodeError::AppSettings(e.to_string()))
}

fn settings_map(settings: &AppSettings) -> BTreeMap<String, serde_json::Value> {
    match serde_json::to_value(settings) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => unreachable!("settings serialize as an object"),
    }
}

fn decode_v1(
    payload: &[u8],
    change: impl FnOnce(&AppChangedV1) -> Result<AppChange, DecodeError>,
) -> Result<Event, DecodeError> {
    let w = rmp_serde::from_slice::<AppChangedV1>(payload)?;
    let change = change(&w)?;
    Ok(Event::AppChanged(AppChanged {
        app: AppId::parse(w.app)?,
        change,
        ts: w.ts,
    }))
}

fn sample_app(change: AppChange) -> Event {
    Event::AppChanged(AppChanged {
        app: sample::app(),
        change,
        ts: sample::TS,
    })
}

impl From<&AppChanged> for AppChangedV1 {
    fn from(a: &AppChanged) -> Self {
        let (secret, previous_valid_until, settings) = match &a.change {
            AppChange::Created { secret, settings } => {
                (Some(secret.clone()), None, Some(settings_map(settings)))
            }
            AppChange::SecretRotated {
                secret,
                previous_valid_until,
            } => (Some(secret.clone()), Some(*previous_valid_until), None),
            AppChange::SettingsChanged { settings } => (None, None, Some(settings_map(settings))),
            AppChange::Disabled => (None, None, None),
        };
        AppChangedV1 {
            app: a.app.to_string(),
            secret,
            previous_valid_until,
            settings,
            ts: a.ts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_added_later_read_as_their_defaults_and_unknown_ones_are_ignored() {
        let mut map = BTreeMap::new();
        map.insert("messaging".to_owned(), serde_json::json!("friends_only"));
        map.insert("a_setting_from_the_future".to_owned(), serde_json::json!(7));
        let read = settings(Some(map)).unwrap();
        assert_eq!(read.messaging, MessagingPolicy::FriendsOnly);
        assert_eq!(
            read.max_group_members,
            AppSettings::default().max_group_members
        );
    }
}
