//! The `app` aggregate: a tenant created at runtime, its secret (with the previous one honoured
//! until a grace deadline after a rotation), its settings, and whether it is disabled.

use crate::aggregate::Aggregate;
use crate::conv::MessagingPolicy;
use crate::event::{AppChange, AppChanged, Event};
use crate::hook::BeforeSendHook;
use crate::login::LoginPolicy;
use crate::presence_policy::{DEFAULT_MAX_WATCHED, MAX_WATCHED_CAP, PresencePolicy};
use crate::push_app::PushAppSettings;
use crate::{AppId, DomainError};
use serde::{Deserialize, Serialize};

/// Shortest app secret accepted.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest app secret accepted.
pub const MAX_SECRET_LEN: usize = 256;
/// The default member cap of a group.
pub const DEFAULT_GROUP_CAP: usize = 3000;
/// The default largest upload: 20 MiB.
pub const DEFAULT_FILE_CAP: u64 = 20 * 1024 * 1024;
/// The default recall window for senders: 2 minutes.
pub const DEFAULT_RECALL_WINDOW_SECS: u64 = 120;
/// The default edit window: 24 hours.
pub const DEFAULT_EDIT_WINDOW_SECS: u64 = 86_400;
/// The default cap on pinned messages per conversation.
pub const DEFAULT_MAX_PINS: usize = 10;

/// An app's settings. Every field has a default, so a setting added later reads as its default
/// from events and configuration written before it existed (events carry settings as a map).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    /// `open` (default) or `friends_only`.
    pub messaging: MessagingPolicy,
    /// Most members a group of this app may hold (default 3000).
    pub max_group_members: usize,
    /// Largest file a user of this app may upload, in bytes (default 20 MiB).
    pub max_file_bytes: u64,
    /// How long after sending a sender may recall a message, in seconds (default 120; 0: no
    /// limit). Group owners and admins, and the app server, are not bound by it.
    pub recall_window_secs: u64,
    /// How long after sending a sender may edit a text message, in seconds (default 86400;
    /// 0: no limit).
    pub edit_window_secs: u64,
    /// Most pinned messages per conversation (default 10).
    pub max_pins: usize,
    /// The reaction keys users may add (default: empty, any key of 1-32 bytes).
    pub reaction_keys: Vec<String>,
    /// How many devices of a user may be signed in at once: `multi` (default),
    /// `one_per_platform` or `single`.
    pub login_policy: LoginPolicy,
    /// Most users one `presence_subscribe` or presence query may name (default 1,000; at most
    /// 10,000).
    pub presence_max_watched: usize,
    /// A `presence_subscribe` naming no users watches the caller's friends (default off).
    pub presence_friends: bool,
    /// Typing is relayed in groups above the read-diffusion threshold too (default off).
    pub typing_in_large_groups: bool,
    /// The before-send hook (default: none).
    pub before_send: Option<BeforeSendHook>,
    /// Most messages one user may send per second, over all their devices and connections
    /// (default 0: no limit).
    pub user_msgs_per_sec: u32,
    /// Most signed server-API requests the app may make per second on each api instance
    /// (default 0: no limit).
    pub server_api_per_sec: u32,
    /// The app's events are published on the event feed, `tid.feed.v1.<app>.>` (default off:
    /// a record costs a second stored write per event). A `feed_webhook` turns it on too.
    pub feed: bool,
    /// Where the app's feed records are POSTed (default: nowhere).
    pub feed_webhook: Option<crate::feed_webhook::FeedWebhook>,
    /// Offline push: the webhook URL and APNs / FCM credentials (default: none).
    pub push: PushAppSettings,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            messaging: MessagingPolicy::default(),
            max_group_members: DEFAULT_GROUP_CAP,
            max_file_bytes: DEFAULT_FILE_CAP,
            recall_window_secs: DEFAULT_RECALL_WINDOW_SECS,
            edit_window_secs: DEFAULT_EDIT_WINDOW_SECS,
            max_pins: DEFAULT_MAX_PINS,
            reaction_keys: Vec::new(),
            login_policy: LoginPolicy::default(),
            presence_max_watched: DEFAULT_MAX_WATCHED,
            presence_friends: false,
            typing_in_large_groups: false,
            before_send: None,
            user_msgs_per_sec: 0,
            server_api_per_sec: 0,
            feed: false,
            feed_webhook: None,
            push: PushAppSettings::default(),
        }
    }
}

impl AppSettings {
    /// Whether the feed projector publishes the app's records.
    pub fn feeds(&self) -> bool {
        self.feed || self.feed_webhook.is_some()
    }

    /// The app's presence and typing switches.
    pub fn presence(&self) -> PresencePolicy {
        PresencePolicy {
            max_watched: self.presence_max_watched,
            friends_by_default: self.presence_friends,
            typing_in_large_groups: self.typing_in_large_groups,
        }
    }
}

/// Settings to change, by name (`{"messaging":"open"}`); unnamed ones keep their value.
pub type SettingsPatch = serde_json::Map<String, serde_json::Value>;

impl AppSettings {
    /// These settings with the values `patch` names. An unknown name or a value of the wrong
    /// type is refused, naming the settings there are.
    pub fn patched(&self, patch: &SettingsPatch) -> Result<AppSettings, DomainError> {
        let serde_json::Value::Object(mut current) =
            serde_json::to_value(self).expect("settings serialize")
        else {
            unreachable!("settings serialize as an object")
        };
        for (name, value) in patch {
            if !current.contains_key(name) {
                let known: Vec<&str> = current.keys().map(String::as_str).collect();
                return Err(DomainError::Invalid(format!(
                    "unknown setting {name:?} (settings: {})",
                    known.join(", ")
                )));
            }
            current.insert(name.clone(), value.clone());
        }
        let patched: AppSettings = serde_json::from_value(serde_json::Value::Object(current))
            .map_err(|e| DomainError::Invalid(format!("settings: {e}")))?;
        patched.validate()?;
        Ok(patched)
    }

    /// Refuses settings no app can work with.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.max_group_members < 2 {
            return Err(DomainError::Invalid(
                "max_group_members must be at least 2".into(),
            ));
        }
        if self.max_file_bytes == 0 {
            return Err(DomainError::Invalid(
                "max_file_bytes must be at least 1".into(),
            ));
        }
        if !(1..=MAX_WATCHED_CAP).contains(&self.presence_max_watched) {
            return Err(DomainError::Invalid(format!(
                "presence_max_watched must be 1-{MAX_WATCHED_CAP}"
            )));
        }
        for key in &self.reaction_keys {
            crate::conv::check_reaction_key(key, &[])
                .map_err(|e| DomainError::Invalid(format!("reaction_keys: {e}")))?;
        }
        if let Some(hook) = &self.before_send {
            hook.validate()?;
        }
        if let Some(hook) = &self.feed_webhook {
            hook.validate()?;
        }
        Ok(())
    }
}

/// Checks a secret's length (the key of an HMAC: any bytes, but not guessable).
pub fn validate_secret(secret: &str) -> Result<(), DomainError> {
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
        return Err(DomainError::Invalid(format!(
            "secret must be {MIN_SECRET_LEN}-{MAX_SECRET_LEN} bytes"
        )));
    }
    Ok(())
}

/// A secret replaced by a rotation, still accepted until `valid_until` (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub secret: String,
    pub valid_until: i64,
}

/// An app's state folded from its subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppState {
    pub created: bool,
    pub secret: String,
    pub previous: Option<PreviousSecret>,
    pub settings: AppSettings,
    pub disabled: bool,
    /// When the app was created (ms), and when its secret last changed.
    pub created_at: i64,
    pub secret_changed_at: i64,
}

impl AppState {
    /// The state of an app declared in configuration rather than recorded as events.
    pub fn configured(secret: String, settings: AppSettings) -> Self {
        Self {
            created: true,
            secret,
            settings,
            ..Self::default()
        }
    }

    /// The secrets that sign for the app at `now_ms`: the current one, then the previous one
    /// while its grace lasts.
    pub fn secrets_at(&self, now_ms: i64) -> impl Iterator<Item = &str> {
        let previous = self
            .previous
            .as_ref()
            .filter(|p| now_ms < p.valid_until)
            .map(|p| p.secret.as_str());
        std::iter::once(self.secret.as_str()).chain(previous)
    }
}

/// What may be asked of an app. Times and secrets are chosen by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum AppCommand {
    /// Create the app; `conflict` when it exists.
    Create {
        app: AppId,
        secret: String,
        /// Boxed: the settings are most of a command's size, and only creating carries them.
        settings: Box<AppSettings>,
        ts: i64,
    },
    /// Replace the secret; the current one stays valid until `previous_valid_until`.
    RotateSecret {
        app: AppId,
        secret: String,
        previous_valid_until: i64,
        ts: i64,
    },
    /// Change the settings `patch` names (a no-op when nothing changes). Decided on the
    /// current settings, so two concurrent changes of different settings both hold.
    SetSettings {
        app: AppId,
        patch: SettingsPatch,
        ts: i64,
    },
    /// Disable the app for good (a no-op when disabled).
    Disable { app: AppId, ts: i64 },
}

fn changed(app: &AppId, change: AppChange, ts: i64) -> Vec<Event> {
    vec![Event::AppChanged(AppChanged {
        app: app.clone(),
        change,
        ts,
    })]
}

impl AppState {
    fn live(&self, app: &AppId) -> Result<(), DomainError> {
        if !self.created {
            return Err(DomainError::NotFound(format!("app {app}")));
        }
        if self.disabled {
            return Err(DomainError::Forbidden(format!("app {app} is disabled")));
        }
        Ok(())
    }
}

impl Aggregate for AppState {
    const KIND: &'static str = "app";
    type Command = AppCommand;

    fn decide(&self, command: &AppCommand) -> Result<Vec<Event>, DomainError> {
        match command {
            AppCommand::Create {
                app,
                secret,
                settings,
                ts,
            } => {
                if self.created {
                    return Err(DomainError::Conflict(format!("app {app} already exists")));
                }
                validate_secret(secret)?;
                settings.validate()?;
                let change = AppChange::Created {
                    secret: secret.clone(),
                    settings: (**settings).clone(),
                };
                Ok(changed(app, change, *ts))
            }
            AppCommand::RotateSecret {
                app,
                secret,
                previous_valid_until,
                ts,
            } => {
                self.live(app)?;
                validate_secret(secret)?;
                if *secret == self.secret {
                    return Err(DomainError::Invalid(
                        "the new secret must differ from the current one".into(),
                    ));
                }
                let change = AppChange::SecretRotated {
                    secret: secret.clone(),
                    previous_valid_until: *previous_valid_until,
                };
                Ok(changed(app, change, *ts))
            }
            AppCommand::SetSettings { app, patch, ts } => {
                self.live(app)?;
                let settings = self.settings.patched(patch)?;
                if settings == self.settings {
                    return Ok(Vec::new());
                }
                let change = AppChange::SettingsChanged { settings };
                Ok(changed(app, change, *ts))
            }
            AppCommand::Disable { app, ts } => {
                if !self.created {
                    return Err(DomainError::NotFound(format!("app {app}")));
                }
                if self.disabled {
                    return Ok(Vec::new());
                }
                Ok(changed(app, AppChange::Disabled, *ts))
            }
        }
    }

    fn apply(&mut self, event: &Event) {
        let Event::AppChanged(e) = event else {
            return;
        };
        match &e.change {
            AppChange::Created { secret, settings } => {
                self.created = true;
                self.secret = secret.clone();
                self.settings = settings.clone();
                self.created_at = e.ts;
                self.secret_changed_at = e.ts;
            }
            AppChange::SecretRotated {
                secret,
                previous_valid_until,
            } => {
                // Only the secret being replaced keeps a grace: rotating twice ends the first
                // one's at once.
                self.previous = Some(PreviousSecret {
                    secret: std::mem::replace(&mut self.secret, secret.clone()),
                    valid_until: *previous_valid_until,
                });
                self.secret_changed_at = e.ts;
            }
            AppChange::SettingsChanged { settings } => self.settings = settings.clone(),
            AppChange::Disabled => self.disabled = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef";
    const NEXT: &str = "fedcba9876543210";

    fn app() -> AppId {
        AppId::parse("acme").unwrap()
    }

    fn run(state: &mut AppState, command: AppCommand) -> Result<usize, DomainError> {
        let events = state.decide(&command)?;
        for event in &events {
            state.apply(event);
        }
        Ok(events.len())
    }

    fn created() -> AppState {
        let mut state = AppState::default();
        let create = AppCommand::Create {
            app: app(),
            secret: SECRET.into(),
            settings: Box::default(),
            ts: 10,
        };
        assert_eq!(run(&mut state, create), Ok(1));
        state
    }

    #[test]
    fn create_records_the_app_once() {
        let mut state = created();
        assert!(state.created && !state.disabled);
        assert_eq!(state.secrets_at(0).collect::<Vec<_>>(), [SECRET]);
        let again = AppCommand::Create {
            app: app(),
            secret: NEXT.into(),
            settings: Box::default(),
            ts: 11,
        };
        assert!(matches!(
            run(&mut state, again),
            Err(DomainError::Conflict(_))
        ));
    }

    #[test]
    fn bad_secrets_and_settings_are_refused() {
        let state = AppState::default();
        let short = AppCommand::Create {
            app: app(),
            secret: "short".into(),
            settings: Box::default(),
            ts: 1,
        };
        assert!(matches!(state.decide(&short), Err(DomainError::Invalid(_))));
        let tiny_groups = AppCommand::Create {
            app: app(),
            secret: SECRET.into(),
            settings: Box::new(AppSettings {
                max_group_members: 1,
                ..AppSettings::default()
            }),
            ts: 1,
        };
        assert!(matches!(
            state.decide(&tiny_groups),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn a_patch_refuses_unknown_settings_wrong_types_and_bad_values() {
        let patch =
            |json: serde_json::Value| AppSettings::default().patched(json.as_object().unwrap());
        let unknown = patch(serde_json::json!({"colour": "blue"})).unwrap_err();
        assert!(unknown.to_string().contains("colour"), "{unknown}");
        assert!(patch(serde_json::json!({"messaging": "sometimes"})).is_err());
        assert!(patch(serde_json::json!({"max_file_bytes": 0})).is_err());
        assert_eq!(
            patch(serde_json::json!({"max_file_bytes": 5}))
                .unwrap()
                .max_file_bytes,
            5
        );
    }

    #[test]
    fn a_rotated_secret_keeps_the_old_one_until_its_deadline() {
        let mut state = created();
        let rotate = |secret: &str, until| AppCommand::RotateSecret {
            app: app(),
            secret: secret.into(),
            previous_valid_until: until,
            ts: 20,
        };
        assert_eq!(run(&mut state, rotate(NEXT, 100)), Ok(1));
        assert_eq!(state.secrets_at(99).collect::<Vec<_>>(), [NEXT, SECRET]);
        assert_eq!(state.secrets_at(100).collect::<Vec<_>>(), [NEXT]);
        assert!(matches!(
            run(&mut state, rotate(NEXT, 200)),
            Err(DomainError::Invalid(_))
        ));
        // A second rotation replaces the grace: the first secret is gone at once.
        let third = "0000111122223333";
        assert_eq!(run(&mut state, rotate(third, 300)), Ok(1));
        assert_eq!(state.secrets_at(50).collect::<Vec<_>>(), [third, NEXT]);
    }

    #[test]
    fn settings_change_only_when_different_and_disable_is_final() {
        let mut state = created();
        let set = |patch: serde_json::Value| AppCommand::SetSettings {
            app: app(),
            patch: patch.as_object().unwrap().clone(),
            ts: 30,
        };
        let open = serde_json::json!({"messaging": "open"});
        assert_eq!(run(&mut state, set(open.clone())), Ok(0));
        let strict = serde_json::json!({"messaging": "friends_only"});
        assert_eq!(run(&mut state, set(strict)), Ok(1));
        assert_eq!(state.settings.messaging, MessagingPolicy::FriendsOnly);
        // A patch names only what changes: the other settings keep their values.
        assert_eq!(
            run(&mut state, set(serde_json::json!({"max_group_members": 9}))),
            Ok(1)
        );
        assert_eq!(state.settings.messaging, MessagingPolicy::FriendsOnly);
        assert_eq!(state.settings.max_group_members, 9);

        let disable = AppCommand::Disable { app: app(), ts: 40 };
        assert_eq!(run(&mut state, disable.clone()), Ok(1));
        assert_eq!(run(&mut state, disable), Ok(0));
        assert!(matches!(
            run(&mut state, set(open)),
            Err(DomainError::Forbidden(_))
        ));
        let missing = AppCommand::Disable { app: app(), ts: 1 };
        assert!(matches!(
            AppState::default().decide(&missing),
            Err(DomainError::NotFound(_))
        ));
    }
}
