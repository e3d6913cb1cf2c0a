//! The apps (tenants) this deployment serves, with their secrets.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tidings_domain::AppId;
use tidings_domain::conv::MessagingPolicy;

/// One app as configured.
#[derive(Debug, Clone, Deserialize)]
pub struct AppConfig {
    pub key: String,
    pub secret: String,
    /// `open` (default) or `friends_only`.
    #[serde(default)]
    pub messaging: MessagingPolicy,
}

#[derive(Debug)]
struct AppSettings {
    secret: String,
    messaging: MessagingPolicy,
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
            map.insert(
                key,
                AppSettings {
                    secret: app.secret.clone(),
                    messaging: app.messaging,
                },
            );
        }
        Ok(Self(Arc::new(map)))
    }

    /// The secret of `key`, if the app exists.
    pub fn secret(&self, key: &AppId) -> Option<&str> {
        self.0.get(key).map(|a| a.secret.as_str())
    }

    /// Who may message whom in the app (`open` for an unknown app, which has no users).
    pub fn messaging(&self, key: &AppId) -> MessagingPolicy {
        self.0.get(key).map(|a| a.messaging).unwrap_or_default()
    }
}
