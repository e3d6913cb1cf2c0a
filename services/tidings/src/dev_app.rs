//! The development credentials `tidings up` serves: the development app, from
//! `TIDINGS_DEV_APP_KEY` and `TIDINGS_DEV_APP_SECRET`, else generated once and kept in the data
//! dir so restarts keep it; and, when no admin credential is configured, a development admin
//! credential generated once into the data dir (`dev-admin.toml`, readable by its owner only),
//! where `tidings apps` finds it.

use anyhow::Context;
use rand::Rng;
use serde::Deserialize;
use std::path::Path;
use tidings_api::admin::AdminCredential;
use tidings_api::apps::AppConfig;

const FILE: &str = "dev-app.toml";
/// Where `tidings up` keeps the development admin credential.
pub const ADMIN_FILE: &str = "dev-admin.toml";

#[derive(Deserialize)]
struct Stored {
    key: String,
    secret: String,
}

fn random_secret() -> String {
    let secret: [u8; 24] = rand::rng().random();
    hex::encode(secret)
}

/// Reads a key and secret kept in `path`, if there is such a file.
fn read(path: &Path) -> anyhow::Result<Option<Stored>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes a key and secret to `path`, readable by its owner only.
fn write(path: &Path, key: &str, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    write!(file, "key = {key:?}\nsecret = {secret:?}\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// The development app's key and secret.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<AppConfig> {
    if let (Ok(key), Ok(secret)) = (
        std::env::var("TIDINGS_DEV_APP_KEY"),
        std::env::var("TIDINGS_DEV_APP_SECRET"),
    ) {
        return Ok(AppConfig::new(key, secret));
    }
    let path = data_dir.join(FILE);
    if let Some(stored) = read(&path)? {
        return Ok(AppConfig::new(stored.key, stored.secret));
    }
    let app = AppConfig::new("dev", random_secret());
    write(&path, &app.key, &app.secret)?;
    Ok(app)
}

/// The development admin credential in `data_dir`, generated on first use.
pub fn admin_load_or_create(data_dir: &Path) -> anyhow::Result<AdminCredential> {
    let path = data_dir.join(ADMIN_FILE);
    if let Some(stored) = read(&path)? {
        return Ok(AdminCredential {
            key: stored.key,
            secret: stored.secret,
        });
    }
    let admin = AdminCredential {
        key: "dev-admin".into(),
        secret: random_secret(),
    };
    write(&path, &admin.key, &admin.secret)?;
    Ok(admin)
}

/// The development admin credential a `tidings up` on `data_dir` wrote, if any.
pub fn admin_in(data_dir: &Path) -> anyhow::Result<Option<AdminCredential>> {
    Ok(
        read(&data_dir.join(ADMIN_FILE))?.map(|stored| AdminCredential {
            key: stored.key,
            secret: stored.secret,
        }),
    )
}
