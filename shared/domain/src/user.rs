//! The `user` aggregate: registration, profile, deactivation, the token epoch and push
//! settings.

use crate::aggregate::Aggregate;
use crate::device::{self, DeviceCommand, DeviceRecord};
use crate::event::{Event, PushSettingsChanged, UserDeactivated, UserProfile, UserTokensRevoked};
use crate::push::{PushChange, PushSettings};
use crate::tags::{SetTags, decide_tags};
use crate::{AppId, DeviceId, DomainError, Tag, UserId};
use litemap::LiteMap;
use std::collections::BTreeSet;

/// Longest display name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest avatar URL, in bytes.
pub const MAX_AVATAR_URL_BYTES: usize = 2048;
/// Largest `extra` object, JSON-encoded.
pub const MAX_EXTRA_BYTES: usize = 4096;

/// A user's state folded from their subject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserState {
    pub profile: Option<UserProfile>,
    pub deactivated: bool,
    /// Tokens carrying an older epoch are revoked.
    pub token_epoch: u64,
    /// The devices that said hello, and when each was last signed out: a sorted vector (a
    /// user has a few), held for every user in the api's aggregate cache.
    pub devices: LiteMap<DeviceId, DeviceRecord>,
    /// Push registrations per device and do-not-disturb.
    pub push: PushSettings,
    /// The tags the app server set on the user.
    pub tags: BTreeSet<Tag>,
}

impl UserState {
    /// Whether the user exists (deactivated users still exist).
    pub fn is_registered(&self) -> bool {
        self.profile.is_some()
    }

    /// Whether the user exists and may act and be reached.
    pub fn is_active(&self) -> bool {
        self.is_registered() && !self.deactivated
    }

    /// The current profile version, 0 before registration.
    pub fn version(&self) -> u64 {
        self.profile.as_ref().map_or(0, |p| p.version)
    }
}

/// Register a user or update their profile (an idempotent upsert).
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertUser {
    pub app: AppId,
    pub user: UserId,
    pub name: String,
    pub avatar_url: Option<String>,
    pub extra: Option<serde_json::Value>,
    pub ts: i64,
}

/// What may be asked of a user.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// Register or update the profile; a no-op when it is unchanged.
    Upsert(UpsertUser),
    /// Deactivate; a no-op when already deactivated.
    Deactivate { app: AppId, user: UserId, ts: i64 },
    /// Revoke every token minted so far by moving to the next epoch.
    RevokeTokens { app: AppId, user: UserId, ts: i64 },
    /// Register a device at a hello with a token minted at `issued_ms`; a no-op for a device
    /// already registered, refused for one signed out since then.
    RegisterDevice {
        device: DeviceCommand,
        issued_ms: i64,
    },
    /// Sign a registered device out.
    SignOutDevice(DeviceCommand),
    /// Change the push settings; a no-op when nothing changes.
    Push {
        app: AppId,
        user: UserId,
        change: PushChange,
        ts: i64,
    },
    /// Add and remove tags; a no-op when nothing changes.
    SetTags(SetTags),
}

impl Aggregate for UserState {
    const KIND: &'static str = "user";
    type Command = UserCommand;

    fn decide(&self, command: &UserCommand) -> Result<Vec<Event>, DomainError> {
        match command {
            UserCommand::Upsert(upsert) => decide_upsert(self, upsert),
            UserCommand::Deactivate { app, user, ts } => decide_deactivate(self, app, user, *ts),
            UserCommand::RevokeTokens { app, user, ts } => {
                decide_revoke_tokens(self, app, user, *ts)
            }
            UserCommand::RegisterDevice { device, issued_ms } => {
                device::decide_register(self, device, *issued_ms)
            }
            UserCommand::SignOutDevice(cmd) => device::decide_sign_out(self, cmd),
            UserCommand::Push {
                app,
                user,
                change,
                ts,
            } => decide_push(self, app, user, change, *ts),
            UserCommand::SetTags(set) => decide_tags(self, set),
        }
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::UserRegistered(p) | Event::UserProfileUpdated(p) => {
                self.profile = Some(p.clone());
            }
            Event::UserDeactivated(_) => self.deactivated = true,
            Event::UserTokensRevoked(r) => self.token_epoch = r.epoch,
            Event::DeviceRegistered(_) | Event::DeviceSignedOut(_) => device::apply(self, event),
            Event::PushSettingsChanged(p) => self.push = p.settings.clone(),
            Event::UserTagsChanged(t) => {
                for tag in &t.removed {
                    self.tags.remove(tag);
                }
                self.tags.extend(t.added.iter().cloned());
            }
            _ => {}
        }
    }
}

fn decide_upsert(state: &UserState, cmd: &UpsertUser) -> Result<Vec<Event>, DomainError> {
    if state.deactivated {
        return Err(DomainError::Forbidden(format!(
            "user {} is deactivated",
            cmd.user
        )));
    }
    if cmd.name.is_empty() || cmd.name.len() > MAX_NAME_BYTES {
        return Err(DomainError::Invalid(format!(
            "name must be 1-{MAX_NAME_BYTES} bytes"
        )));
    }
    if cmd
        .avatar_url
        .as_ref()
        .is_some_and(|u| u.len() > MAX_AVATAR_URL_BYTES)
    {
        return Err(DomainError::Invalid(format!(
            "avatar_url must be at most {MAX_AVATAR_URL_BYTES} bytes"
        )));
    }
    if let Some(extra) = &cmd.extra {
        let len = serde_json::to_vec(extra).map_or(usize::MAX, |v| v.len());
        if len > MAX_EXTRA_BYTES {
            return Err(DomainError::Invalid(format!(
                "extra must be at most {MAX_EXTRA_BYTES} bytes encoded"
            )));
        }
    }
    if let Some(p) = &state.profile
        && p.name == cmd.name
        && p.avatar_url == cmd.avatar_url
        && p.extra == cmd.extra
    {
        return Ok(Vec::new());
    }
    let profile = UserProfile {
        app: cmd.app.clone(),
        user: cmd.user.clone(),
        name: cmd.name.clone(),
        avatar_url: cmd.avatar_url.clone(),
        extra: cmd.extra.clone(),
        version: state.version() + 1,
        ts: cmd.ts,
    };
    Ok(vec![if state.is_registered() {
        Event::UserProfileUpdated(profile)
    } else {
        Event::UserRegistered(profile)
    }])
}

fn decide_deactivate(
    state: &UserState,
    app: &AppId,
    user: &UserId,
    ts: i64,
) -> Result<Vec<Event>, DomainError> {
    if !state.is_registered() {
        return Err(DomainError::NotFound(format!("user {user}")));
    }
    Ok(if state.deactivated {
        Vec::new()
    } else {
        vec![Event::UserDeactivated(UserDeactivated {
            app: app.clone(),
            user: user.clone(),
            ts,
        })]
    })
}

fn decide_revoke_tokens(
    state: &UserState,
    app: &AppId,
    user: &UserId,
    ts: i64,
) -> Result<Vec<Event>, DomainError> {
    if !state.is_registered() {
        return Err(DomainError::NotFound(format!("user {user}")));
    }
    Ok(vec![Event::UserTokensRevoked(UserTokensRevoked {
        app: app.clone(),
        user: user.clone(),
        epoch: state.token_epoch + 1,
        ts,
    })])
}

fn decide_push(
    state: &UserState,
    app: &AppId,
    user: &UserId,
    change: &PushChange,
    ts: i64,
) -> Result<Vec<Event>, DomainError> {
    if !state.is_active() {
        return Err(DomainError::Forbidden(format!("user {user} is not active")));
    }
    Ok(match state.push.after(change)? {
        None => Vec::new(),
        Some(settings) => vec![Event::PushSettingsChanged(PushSettingsChanged {
            app: app.clone(),
            user: user.clone(),
            settings,
            ts,
        })],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(name: &str) -> UserCommand {
        UserCommand::Upsert(UpsertUser {
            app: AppId::parse("app").unwrap(),
            user: UserId::parse("alice").unwrap(),
            name: name.into(),
            avatar_url: None,
            extra: None,
            ts: 1,
        })
    }

    fn run(state: &mut UserState, command: UserCommand) -> Result<usize, DomainError> {
        let events = state.decide(&command)?;
        events.iter().for_each(|e| state.apply(e));
        Ok(events.len())
    }

    #[test]
    fn register_then_update_then_noop() {
        let mut state = UserState::default();
        let events = state.decide(&upsert("Alice")).unwrap();
        assert!(matches!(&events[..], [Event::UserRegistered(p)] if p.version == 1));
        events.iter().for_each(|e| state.apply(e));

        assert!(state.decide(&upsert("Alice")).unwrap().is_empty());

        let events = state.decide(&upsert("Alice B")).unwrap();
        assert!(matches!(&events[..], [Event::UserProfileUpdated(p)] if p.version == 2));
    }

    #[test]
    fn deactivation_and_revocation() {
        let (app, user) = (
            AppId::parse("app").unwrap(),
            UserId::parse("alice").unwrap(),
        );
        let deactivate = |ts| UserCommand::Deactivate {
            app: app.clone(),
            user: user.clone(),
            ts,
        };
        let mut state = UserState::default();
        assert!(run(&mut state, deactivate(1)).is_err());
        run(&mut state, upsert("Alice")).unwrap();
        let revoke = UserCommand::RevokeTokens {
            app: app.clone(),
            user: user.clone(),
            ts: 2,
        };
        run(&mut state, revoke).unwrap();
        assert_eq!(state.token_epoch, 1);
        assert_eq!(run(&mut state, deactivate(3)), Ok(1));
        assert!(!state.is_active());
        assert_eq!(run(&mut state, deactivate(4)), Ok(0));
        assert!(matches!(
            run(&mut state, upsert("A")),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn bad_profiles_are_refused() {
        let state = UserState::default();
        assert!(state.decide(&upsert("")).is_err());
        assert!(state.decide(&upsert(&"n".repeat(300))).is_err());
    }
}
