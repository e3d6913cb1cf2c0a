//! The apps (tenants) this deployment serves, with their secrets.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tidings_domain::AppId;

/// One app as configured.
#[derive(Debug, Clone, Deserialize)]
pub struct AppConfig {
    pub key: String,
    pub secret: String,
}

/// Looks up apps by key.
#[derive(Debug, Clone, Default)]
pub struct Apps(Arc<HashMap<AppId, String>>);

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
            map.insert(key, app.secret.clone());
        }
        Ok(Self(Arc::new(map)))
    }

    /// The secret of `key`, if the app exists.
    pub fn secret(&self, key: &AppId) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}
