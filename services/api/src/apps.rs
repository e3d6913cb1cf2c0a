//! The apps (tenants) this deployment serves: those declared in configuration (`[[api.apps]]`,
//! read-only) and those created at runtime through the admin API, an aggregate on its own
//! subject (`tid.evt.<app>.app.<app>`) read by every instance.
//!
//! Authentication (`current`) reads a runtime app's subject on every call, so a create,
//! rotation or disable answered by any instance holds for the next request anywhere. Settings
//! used while deciding commands (`settings` and the accessors) come from the state this
//! instance last read, which every authentication refreshes and the gateways' app follower
//! refreshes on every change.

use crate::aggregate::Repository;
use crate::error::{ApiError, ErrorCode};
use async_nats::jetstream::stream::DirectGetErrorKind;
use futures_util::StreamExt;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tidings_domain::AppId;
use tidings_domain::app::{AppCommand, AppState, SettingsPatch};
use tidings_domain::conv::MessagingPolicy;
use tidings_domain::presence_policy::PresencePolicy;
use tidings_events::subjects;

pub use tidings_domain::app::{AppSettings, DEFAULT_FILE_CAP, DEFAULT_GROUP_CAP};

/// One app as configured.
#[derive(Debug, Clone, Deserialize)]
pub struct AppConfig {
    pub key: String,
    pub secret: String,
    /// Every setting, each with its default (`messaging`, `max_group_members`, ...), written
    /// beside `key` and `secret` in `[[api.apps]]`.
    #[serde(flatten)]
    pub settings: AppSettings,
}

impl AppConfig {
    /// An app with default settings.
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            secret: secret.into(),
            settings: AppSettings::default(),
        }
    }
}

/// Where an app comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `[[api.apps]]`: read-only at runtime.
    Config,
    /// Created through the admin API.
    Admin,
}

impl Source {
    /// Its name in admin answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Admin => "admin",
        }
    }
}

struct Inner {
    configured: HashMap<AppId, AppState>,
    /// Runtime apps as this instance last read them, with the stream sequence of the app's
    /// last event when it was read (the state covers at least that event).
    seen: RwLock<HashMap<AppId, (AppState, u64)>>,
    runtime: Option<Runtime>,
}

struct Runtime {
    repository: Repository<AppState>,
    stream: async_nats::jetstream::stream::Stream,
}

/// Looks up apps by key.
#[derive(Clone)]
pub struct Apps(Arc<Inner>);

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Apps {
    /// The configured apps only, refusing invalid keys and short secrets.
    pub fn new(apps: &[AppConfig]) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(Inner {
            configured: configured(apps)?,
            seen: RwLock::default(),
            runtime: None,
        })))
    }

    /// The configured apps and those recorded on the events stream (which must exist).
    pub async fn open(
        apps: &[AppConfig],
        js: async_nats::jetstream::Context,
        cache_capacity: u64,
    ) -> anyhow::Result<Self> {
        let stream = js.get_stream(subjects::EVENTS_STREAM).await?;
        Ok(Self(Arc::new(Inner {
            configured: configured(apps)?,
            seen: RwLock::default(),
            runtime: Some(Runtime {
                repository: Repository::new(js, stream.clone(), cache_capacity),
                stream,
            }),
        })))
    }

    fn remember(&self, app: &AppId, state: &AppState, version: u64) {
        let mut seen = self.0.seen.write().unwrap_or_else(|e| e.into_inner());
        if state.created {
            seen.insert(app.clone(), (state.clone(), version));
        } else {
            seen.remove(app);
        }
    }

    /// The app as it is now (a runtime app read from its subject), if it exists.
    pub async fn current(&self, app: &AppId) -> Result<Option<(AppState, Source)>, ApiError> {
        if let Some(state) = self.0.configured.get(app) {
            return Ok(Some((state.clone(), Source::Config)));
        }
        let Some(runtime) = &self.0.runtime else {
            return Ok(None);
        };
        // One direct get of the subject's last event, without the repository's lock: every
        // authentication of an app asks this, concurrently, and only a change is folded.
        let last = match runtime
            .stream
            .direct_get_last_for_subject(subjects::app(app))
            .await
        {
            Ok(message) => message.sequence,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => return Ok(None),
            Err(e) => return Err(ApiError::unavailable("reading an app", e)),
        };
        let cached = {
            let seen = self.0.seen.read().unwrap_or_else(|e| e.into_inner());
            seen.get(app)
                .filter(|(_, version)| *version >= last)
                .map(|(state, _)| state.clone())
        };
        let state = match cached {
            Some(state) => state,
            None => {
                let state = runtime
                    .repository
                    .read(app, app.as_str(), true, AppState::clone)
                    .await?;
                self.remember(app, &state, last);
                state
            }
        };
        Ok(state.created.then_some((state, Source::Admin)))
    }

    /// The secret new tokens are signed with, as this instance last read the app.
    pub fn signing_secret(&self, app: &AppId) -> Option<String> {
        self.known(app)
            .filter(|state| !state.disabled)
            .map(|state| state.secret)
    }

    fn known(&self, app: &AppId) -> Option<AppState> {
        if let Some(state) = self.0.configured.get(app) {
            return Some(state.clone());
        }
        let seen = self.0.seen.read().unwrap_or_else(|e| e.into_inner());
        seen.get(app).map(|(state, _)| state.clone())
    }

    /// The app's settings as this instance last read them (defaults for an unknown app, which
    /// has no users).
    pub fn settings(&self, app: &AppId) -> AppSettings {
        self.with_settings(app, AppSettings::clone)
    }

    /// `read` of the app's settings as [`Apps::settings`] finds them, without copying them
    /// (the accessors below run on every command).
    fn with_settings<T>(&self, app: &AppId, read: impl FnOnce(&AppSettings) -> T) -> T {
        if let Some(state) = self.0.configured.get(app) {
            return read(&state.settings);
        }
        let seen = self.0.seen.read().unwrap_or_else(|e| e.into_inner());
        match seen.get(app) {
            Some((state, _)) => read(&state.settings),
            None => read(&AppSettings::default()),
        }
    }

    /// The member cap of the app's groups.
    pub fn max_group_members(&self, app: &AppId) -> usize {
        self.with_settings(app, |s| s.max_group_members)
    }

    /// The largest upload the app's users may make.
    pub fn max_file_bytes(&self, app: &AppId) -> u64 {
        self.with_settings(app, |s| s.max_file_bytes)
    }

    /// The app's recall window for senders, in seconds (0: no limit).
    pub fn recall_window_secs(&self, app: &AppId) -> u64 {
        self.with_settings(app, |s| s.recall_window_secs)
    }

    /// The app's edit window, in seconds (0: no limit).
    pub fn edit_window_secs(&self, app: &AppId) -> u64 {
        self.with_settings(app, |s| s.edit_window_secs)
    }

    /// The app's presence and typing switches.
    pub fn presence_policy(&self, app: &AppId) -> PresencePolicy {
        self.with_settings(app, AppSettings::presence)
    }

    /// The cap on pinned messages per conversation of the app.
    pub fn max_pins(&self, app: &AppId) -> usize {
        self.with_settings(app, |s| s.max_pins)
    }

    /// The reaction keys the app allows (empty: any).
    pub fn reaction_keys(&self, app: &AppId) -> Vec<String> {
        self.with_settings(app, |s| s.reaction_keys.clone())
    }

    /// The app's per-user message limit per second (0: none).
    pub fn user_msgs_per_sec(&self, app: &AppId) -> u32 {
        self.with_settings(app, |s| s.user_msgs_per_sec)
    }

    /// The app's server-API request limit per second and instance (0: none).
    pub fn server_api_per_sec(&self, app: &AppId) -> u32 {
        self.with_settings(app, |s| s.server_api_per_sec)
    }

    /// The app's before-send hook, if it has one.
    pub fn before_send(&self, app: &AppId) -> Option<tidings_domain::hook::BeforeSendHook> {
        self.with_settings(app, |s| s.before_send.clone())
    }

    /// Who may message whom in the app.
    pub fn messaging(&self, app: &AppId) -> MessagingPolicy {
        self.with_settings(app, |s| s.messaging)
    }

    fn runtime(&self) -> Result<&Runtime, ApiError> {
        self.0.runtime.as_ref().ok_or_else(|| {
            ApiError::new(ErrorCode::Unavailable, "runtime apps are not served here")
        })
    }

    fn writable(&self, app: &AppId) -> Result<&Runtime, ApiError> {
        if self.0.configured.contains_key(app) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "app {app} is declared in the server's configuration ([[api.apps]]): change it there"
                ),
            ));
        }
        self.runtime()
    }

    async fn execute(&self, app: &AppId, command: AppCommand) -> Result<AppState, ApiError> {
        let runtime = self.writable(app)?;
        let recorded = runtime
            .repository
            .execute_then(app, app.as_str(), &command, AppState::clone)
            .await?;
        self.remember(app, &recorded.value, recorded.pos);
        Ok(recorded.value)
    }

    /// Creates a runtime app.
    pub async fn create(
        &self,
        app: &AppId,
        secret: String,
        settings: AppSettings,
    ) -> Result<AppState, ApiError> {
        if self.0.configured.contains_key(app) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("app {app} already exists (in the server's configuration)"),
            ));
        }
        let ts = now_millis();
        self.execute(
            app,
            AppCommand::Create {
                app: app.clone(),
                secret,
                settings: Box::new(settings),
                ts,
            },
        )
        .await
    }

    /// Replaces an app's secret; the old one signs for `grace_secs` more.
    pub async fn rotate_secret(
        &self,
        app: &AppId,
        secret: String,
        grace_secs: u64,
    ) -> Result<AppState, ApiError> {
        let ts = now_millis();
        let grace_ms = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let command = AppCommand::RotateSecret {
            app: app.clone(),
            secret,
            previous_valid_until: ts.saturating_add(grace_ms),
            ts,
        };
        self.execute(app, command).await
    }

    /// Applies `patch` (setting name to value; unnamed settings keep their value).
    pub async fn set(&self, app: &AppId, patch: SettingsPatch) -> Result<AppState, ApiError> {
        // A patch that could never apply is refused before the app is looked up.
        AppSettings::default().patched(&patch)?;
        let command = AppCommand::SetSettings {
            app: app.clone(),
            patch,
            ts: now_millis(),
        };
        self.execute(app, command).await
    }

    /// Disables an app for good.
    pub async fn disable(&self, app: &AppId) -> Result<AppState, ApiError> {
        let command = AppCommand::Disable {
            app: app.clone(),
            ts: now_millis(),
        };
        self.execute(app, command).await
    }

    /// Every app: the configured ones, then every runtime app recorded on the stream.
    pub async fn list(&self) -> Result<Vec<(AppId, AppState, Source)>, ApiError> {
        let mut apps: Vec<(AppId, AppState, Source)> = self
            .0
            .configured
            .iter()
            .map(|(app, state)| (app.clone(), state.clone(), Source::Config))
            .collect();
        if let Some(runtime) = &self.0.runtime {
            let mut subjects = runtime
                .stream
                .info_with_subjects(subjects::ALL_APPS)
                .await
                .map_err(|e| ApiError::unavailable("listing apps", e))?;
            let mut keys = Vec::new();
            while let Some(entry) = subjects.next().await {
                let (subject, _) = entry.map_err(|e| ApiError::unavailable("listing apps", e))?;
                if let Some(app) = subjects::parse_app(&subject).and_then(|a| AppId::parse(a).ok())
                    && !self.0.configured.contains_key(&app)
                {
                    keys.push(app);
                }
            }
            for app in keys {
                if let Some((state, source)) = self.current(&app).await? {
                    apps.push((app, state, source));
                }
            }
        }
        apps.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Ok(apps)
    }
}

/// The refusal of a disabled app's request.
pub fn disabled(app: &AppId) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, format!("app {app} is disabled"))
}

fn configured(apps: &[AppConfig]) -> anyhow::Result<HashMap<AppId, AppState>> {
    let mut map = HashMap::new();
    for app in apps {
        let key = AppId::parse(app.key.clone())?;
        anyhow::ensure!(
            app.secret.len() >= tidings_domain::app::MIN_SECRET_LEN,
            "app {key}: secret must be at least {} characters",
            tidings_domain::app::MIN_SECRET_LEN
        );
        app.settings
            .validate()
            .map_err(|e| anyhow::anyhow!("app {key}: {e}"))?;
        map.insert(
            key,
            AppState::configured(app.secret.clone(), app.settings.clone()),
        );
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_apps_serve_their_settings_and_secret() {
        let mut acme = AppConfig::new("acme", "0123456789abcdef");
        acme.settings.messaging = MessagingPolicy::FriendsOnly;
        let apps = Apps::new(&[acme]).unwrap();
        let key = AppId::parse("acme").unwrap();
        assert_eq!(apps.messaging(&key), MessagingPolicy::FriendsOnly);
        assert_eq!(apps.signing_secret(&key).unwrap(), "0123456789abcdef");
        assert!(Apps::new(&[AppConfig::new("short", "0123")]).is_err());
    }
}
