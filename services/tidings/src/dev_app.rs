//! The development app that `tidings up` serves: from `TIDINGS_DEV_APP_KEY` and
//! `TIDINGS_DEV_APP_SECRET`, else generated once and kept in the data dir so restarts keep it.

use anyhow::Context;
use rand::Rng;
use serde::Deserialize;
use std::path::Path;
use tidings_api::apps::AppConfig;

const FILE: &str = "dev-app.toml";

#[derive(Deserialize)]
struct Stored {
    key: String,
    secret: String,
}

/// The development app's key and secret.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<AppConfig> {
    if let (Ok(key), Ok(secret)) = (
        std::env::var("TIDINGS_DEV_APP_KEY"),
        std::env::var("TIDINGS_DEV_APP_SECRET"),
    ) {
        return Ok(AppConfig {
            key,
            secret,
            messaging: Default::default(),
            max_group_members: tidings_api::apps::DEFAULT_GROUP_CAP,
            max_file_bytes: tidings_api::apps::DEFAULT_FILE_CAP,
            max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
            reaction_keys: Vec::new(),
            recall_window_secs: tidings_api::apps::DEFAULT_RECALL_WINDOW_SECS,
            edit_window_secs: tidings_api::apps::DEFAULT_EDIT_WINDOW_SECS,
        });
    }
    let path = data_dir.join(FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let stored: Stored =
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        return Ok(AppConfig {
            key: stored.key,
            secret: stored.secret,
            messaging: Default::default(),
            max_group_members: tidings_api::apps::DEFAULT_GROUP_CAP,
            max_file_bytes: tidings_api::apps::DEFAULT_FILE_CAP,
            max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
            reaction_keys: Vec::new(),
            recall_window_secs: tidings_api::apps::DEFAULT_RECALL_WINDOW_SECS,
            edit_window_secs: tidings_api::apps::DEFAULT_EDIT_WINDOW_SECS,
        });
    }
    let secret: [u8; 24] = rand::rng().random();
    let app = AppConfig {
        key: "dev".into(),
        secret: hex::encode(secret),
        messaging: Default::default(),
        max_group_members: tidings_api::apps::DEFAULT_GROUP_CAP,
        max_file_bytes: tidings_api::apps::DEFAULT_FILE_CAP,
        max_pins: tidings_api::apps::DEFAULT_MAX_PINS,
        reaction_keys: Vec::new(),
        recall_window_secs: tidings_api::apps::DEFAULT_RECALL_WINDOW_SECS,
        edit_window_secs: tidings_api::apps::DEFAULT_EDIT_WINDOW_SECS,
    };
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(
        &path,
        format!("key = {:?}\nsecret = {:?}\n", app.key, app.secret),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(app)
}
