//! A user's devices on the user's subject: registered at their first hello, signed out by the
//! user or the app server. A sign-out refuses every token issued up to it for that device.

use crate::event::{DeviceChange, Event};
use crate::login::Platform;
use crate::user::UserState;
use crate::{AppId, DeviceId, DomainError, UserId};

/// One device as the user's subject records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRecord {
    pub platform: Platform,
    /// When it was last signed out (milliseconds), unless it registered again since.
    pub signed_out_at: Option<i64>,
}

impl DeviceRecord {
    /// Whether a token issued at `issued_ms` may open sessions as this device.
    pub fn admits(&self, issued_ms: i64) -> bool {
        self.signed_out_at.is_none_or(|at| issued_ms > at)
    }
}

/// A device command: register on hello, or sign out.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCommand {
    pub app: AppId,
    pub user: UserId,
    pub device: DeviceId,
    pub platform: Platform,
    pub ts: i64,
}

impl DeviceCommand {
    fn change(&self, platform: Platform) -> DeviceChange {
        DeviceChange {
            app: self.app.clone(),
            user: self.user.clone(),
            device: self.device.clone(),
            platform,
            ts: self.ts,
        }
    }
}

/// What a refused hello's error says.
pub const SIGNED_OUT: &str = "device signed out";

/// Registers a device the user has not got: a hello from a known device records nothing, so
/// reconnects cost no writes. A device signed out after `issued_ms` (the hello's token) is
/// refused (`Forbidden`, [`SIGNED_OUT`]); one signed out before it registers again.
pub(crate) fn decide_register(
    state: &UserState,
    cmd: &DeviceCommand,
    issued_ms: i64,
) -> Result<Vec<Event>, DomainError> {
    if !state.is_active() {
        return Err(DomainError::NotFound(format!("user {}", cmd.user)));
    }
    Ok(match state.devices.get(&cmd.device) {
        Some(known) if !known.admits(issued_ms) => {
            return Err(DomainError::Forbidden(SIGNED_OUT.into()));
        }
        Some(known) if known.signed_out_at.is_none() => Vec::new(),
        _ => vec![Event::DeviceRegistered(cmd.change(cmd.platform))],
    })
}

/// Signs a registered device out at `ts` (again, when it already was: a later sign-out also
/// refuses the tokens issued between the two).
pub(crate) fn decide_sign_out(
    state: &UserState,
    cmd: &DeviceCommand,
) -> Result<Vec<Event>, DomainError> {
    if !state.is_registered() {
        return Err(DomainError::NotFound(format!("user {}", cmd.user)));
    }
    let known = state.devices.get(&cmd.device).ok_or_else(|| {
        DomainError::NotFound(format!("device {} of user {}", cmd.device, cmd.user))
    })?;
    Ok(vec![Event::DeviceSignedOut(cmd.change(known.platform))])
}

/// Folds a device event into the user's state.
pub(crate) fn apply(state: &mut UserState, event: &Event) {
    match event {
        Event::DeviceRegistered(d) => {
            let record = DeviceRecord {
                platform: d.platform,
                signed_out_at: None,
            };
            state.devices.insert(d.device.clone(), record);
        }
        Event::DeviceSignedOut(d) => {
            let record = DeviceRecord {
                platform: d.platform,
                signed_out_at: Some(d.ts),
            };
            state.devices.insert(d.device.clone(), record);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregate;
    use crate::user::{UpsertUser, UserCommand};

    fn command(ts: i64) -> DeviceCommand {
        DeviceCommand {
            app: AppId::parse("app").unwrap(),
            user: UserId::parse("alice").unwrap(),
            device: DeviceId::parse("phone").unwrap(),
            platform: Platform::Ios,
            ts,
        }
    }

    fn run(state: &mut UserState, command: UserCommand) -> Vec<Event> {
        let events = state.decide(&command).unwrap();
        events.iter().for_each(|e| state.apply(e));
        events
    }

    fn registered() -> UserState {
        let mut state = UserState::default();
        run(
            &mut state,
            UserCommand::Upsert(UpsertUser {
                app: AppId::parse("app").unwrap(),
                user: UserId::parse("alice").unwrap(),
                name: "Alice".into(),
                avatar_url: None,
                extra: None,
                ts: 1,
            }),
        );
        state
    }

    fn hello(ts: i64, issued_ms: i64) -> UserCommand {
        UserCommand::RegisterDevice {
            device: command(ts),
            issued_ms,
        }
    }

    #[test]
    fn a_device_registers_once_and_again_after_a_sign_out() {
        let mut state = registered();
        let first = run(&mut state, hello(10, 5));
        assert!(matches!(&first[..], [Event::DeviceRegistered(d)] if d.platform == Platform::Ios));
        assert!(run(&mut state, hello(11, 5)).is_empty());

        let out = run(&mut state, UserCommand::SignOutDevice(command(20)));
        assert!(matches!(&out[..], [Event::DeviceSignedOut(d)] if d.ts == 20));
        let phone = state.devices[&command(0).device];
        assert!(!phone.admits(20) && !phone.admits(19) && phone.admits(21));
        let stale = state.decide(&hello(25, 20));
        assert!(matches!(stale, Err(DomainError::Forbidden(m)) if m == SIGNED_OUT));

        let again = run(&mut state, hello(30, 21));
        assert_eq!(again.len(), 1);
        assert!(state.devices[&command(0).device].admits(0));
    }

    #[test]
    fn signing_out_an_unknown_device_or_user_is_not_found() {
        let state = registered();
        let unknown = state.decide(&UserCommand::SignOutDevice(command(1)));
        assert!(matches!(unknown, Err(DomainError::NotFound(_))));
        let nobody = UserState::default().decide(&hello(1, 1));
        assert!(matches!(nobody, Err(DomainError::NotFound(_))));
    }
}
