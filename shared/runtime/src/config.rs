//! Typed configuration: compiled-in defaults, then a TOML file, then `TIDINGS_*` variables.
//! Read once at start-up and passed down.

use anyhow::Context;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::str::FromStr;

/// Reads `path` as TOML into `T`, or `T::default()` when no path is given.
pub fn load_file<T: DeserializeOwned + Default>(path: Option<&Path>) -> anyhow::Result<T> {
    match path {
        None => Ok(T::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
        }
    }
}

/// Overrides `field` with environment variable `name` when it is set.
pub fn env_override<T: FromStr>(field: &mut T, name: &str) -> anyhow::Result<()>
where
    T::Err: std::fmt::Display,
{
    if let Ok(raw) = std::env::var(name) {
        *field = raw
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}"))?;
    }
    Ok(())
}

/// Overrides an optional `field` with environment variable `name` when it is set.
pub fn env_override_opt<T: FromStr>(field: &mut Option<T>, name: &str) -> anyhow::Result<()>
where
    T::Err: std::fmt::Display,
{
    if let Ok(raw) = std::env::var(name) {
        *field = Some(
            raw.parse()
                .map_err(|e| anyhow::anyhow!("{name}={raw:?} is not valid: {e}"))?,
        );
    }
    Ok(())
}
