//! The apps (tenants) this deployment serves, with their secrets.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tidings_domain::AppId;
use tidings_domain::conv::{MessagingPolicy, check_reaction_key};

/// One app as configured.
#[derive(Debug, Clone, Deserialize)]
pub struct AppConfig {
    pub key: String,
    pub secret: String,
    /// `open` (default) or `friends_only`.
    #[serde(default)]
    pub messaging: MessagingPolicy,
    /// Most members a group of this app may hold (default 3000).
    #[serde(default = "default_group_cap")]
    pub max_group_members: usize,
    /// Largest file a user of this app may upload, in bytes (default 20 MiB).
    #[serde(default = "default_file_cap")]
    pub max_file_bytes: u64,
    /// Most pinned messages per conversation (default 10).
    #[serde(default = "default_max_pins")]
    pub max_pins: usize,
    /// The reaction keys users may add (default: empty, any key of 1-32 bytes).
    #[serde(default)]
    pub reaction_keys: Vec<String>,
    /// How long after sending a sender may recall a message, in seconds (default 120; 0: no
    /// limit). Group owners and admins, and the app server, are not bound by it.
    #[serde(default = "default_recall_window")]
    pub recall_window_secs: u64,
    /// How long after sending a sender may edit a text message, in seconds (default 86400;
    /// 0: no limit).
    #[serde(default = "default_edit_window")]
    pub edit_window_secs: u64,
}

/// The default recall window: 2 minutes.
pub const DEFAULT_RECALL_WINDOW_SECS: u64 = 120;

fn default_recall_window() -> u64 {
    DEFAULT_RECALL_WINDOW_SECS
}

/// The default edit window: 24 hours.
pub const DEFAULT_EDIT_WINDOW_SECS: u64 = 86_400;

fn default_edit_window() -> u64 {
    DEFAULT_EDIT_WINDOW_SECS
}

/// The default member cap of a group.
pub const DEFAULT_GROUP_CAP: usize = 3000;

fn default_group_cap() -> usize {
    DEFAULT_GROUP_CAP
}

/// The default largest upload: 20 MiB.
pub const DEFAULT_FILE_CAP: u64 = 20 * 1024 * 1024;

fn default_file_cap() -> u64 {
    DEFAULT_FILE_CAP
}

/// The default cap on pinned messages per conversation.
pub const DEFAULT_MAX_PINS: usize = 10;

fn default_max_pins() -> usize {
    DEFAULT_MAX_PINS
}

#[derive(Debug)]
struct AppSettings {
    secret: String,
    messaging: MessagingPolicy,
    max_group_members: usize,
    max_file_bytes: u64,
    max_pins: usize,
    reaction_keys: Vec<String>,
    recall_window_secs: u64,
    edit_window_secs: u64,
}

/// Looks up apps by key.
#[derive(Debug, Clone, Default)]
pub struct Apps(Arc<HashMap<AppId, AppSettings>>);

impl Apps {
    /// Builds the registry, refusing invalid keys and empty secrets.
    pub fn new(apps: &[AppConfig]) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for app in apps {
            let key = AppId::parse(app.key.clone())?;
            anyhow::ensure!(
                app.secret.len() >= 16,
                "app {key}: secret must be at least 16 characters"
            );
            for reaction in &app.reaction_keys {
                check_reaction_key(reaction, &[])
                    .map_err(|e| anyhow::anyhow!("app {key}: reaction_keys: {e}"))?;
            }
            map.insert(
                key,
                AppSettings {
                    secret: app.secret.clone(),
                    messaging: app.messaging,
                    max_group_members: app.max_group_members,
                    max_file_bytes: app.max_file_bytes,
                    max_pins: app.max_pins,
                    reaction_keys: app.reaction_keys.clone(),
                    recall_window_secs: app.recall_window_secs,
                    edit_window_secs: app.edit_window_secs,
                },
            );
        }
        Ok(Self(Arc::new(map)))
    }

    /// The secret of `key`, if the app exists.
    pub fn secret(&self, key: &AppId) -> Option<&str> {
        self.0.get(key).map(|a| a.secret.as_str())
    }

    /// The member cap of the app's groups.
    pub fn max_group_members(&self, key: &AppId) -> usize {
        self.0
            .get(key)
            .map_or(DEFAULT_GROUP_CAP, |a| a.max_group_members)
    }

    /// The largest upload the app's users may make.
    pub fn max_file_bytes(&self, key: &AppId) -> u64 {
        self.0
            .get(key)
            .map_or(DEFAULT_FILE_CAP, |a| a.max_file_bytes)
    }

    /// The cap on pinned messages per conversation of the app.
    pub fn max_pins(&self, key: &AppId) -> usize {
        self.0.get(key).map_or(DEFAULT_MAX_PINS, |a| a.max_pins)
    }

    /// The reaction keys the app allows (empty: any).
    pub fn reaction_keys(&self, key: &AppId) -> &[String] {
        self.0.get(key).map_or(&[], |a| a.reaction_keys.as_slice())
    }

    /// The app's recall window for senders, in seconds (0: no limit).
    pub fn recall_window_secs(&self, key: &AppId) -> u64 {
        self.0
            .get(key)
            .map_or(DEFAULT_RECALL_WINDOW_SECS, |a| a.recall_window_secs)
    }

    /// The app's edit window, in seconds (0: no limit).
    pub fn edit_window_secs(&self, key: &AppId) -> u64 {
        self.0
            .get(key)
            .map_or(DEFAULT_EDIT_WINDOW_SECS, |a| a.edit_window_secs)
    }

    /// Who may message whom in the app (`open` for an unknown app, which has no users).
    pub fn messaging(&self, key: &AppId) -> MessagingPolicy {
        self.0.get(key).map(|a| a.messaging).unwrap_or_default()
    }
}
