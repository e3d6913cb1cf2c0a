//! Devices and how many of a user's devices may be signed in at once.

use serde::{Deserialize, Serialize};

/// The kind of device a session runs on, as its `hello` says (`other` when it does not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Ios,
    Android,
    Web,
    Desktop,
    #[default]
    Other,
}

/// An app's rule for a new login while the user is signed in on other devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginPolicy {
    /// Any number of devices at once.
    #[default]
    Multi,
    /// One device per platform: a new login closes the older sessions of other devices of
    /// the same platform.
    OnePerPlatform,
    /// One device at a time: a new login closes the older sessions of every other device.
    Single,
}

impl LoginPolicy {
    /// The platform whose other devices a new login on `platform` replaces: `None` for all of
    /// them, and nothing to replace under `multi`.
    pub fn replaces(self, platform: Platform) -> Option<Option<Platform>> {
        match self {
            LoginPolicy::Multi => None,
            LoginPolicy::OnePerPlatform => Some(Some(platform)),
            LoginPolicy::Single => Some(None),
        }
    }
}
