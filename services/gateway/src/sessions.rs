//! The sessions open on this gateway, per user, so that an access change (tokens revoked, user
//! deactivated, a device signed out) can end the ones it concerns wherever they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tidings_api::tokens::Principal;
use tidings_domain::login::Platform;
use tidings_domain::{AppId, UserId};
use tidings_events::control::{AccessEnded, Holder};
use tokio::sync::oneshot;

/// The close code of a session whose access ended; the reason says why.
pub const ACCESS_ENDED: u16 = 4401;
/// The close code of a session replaced by a newer login under the app's login policy.
pub const REPLACED: u16 = 4409;

/// Why a session must close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended(pub AccessEnded);

impl Ended {
    /// The close frame's reason.
    pub fn reason(&self) -> &'static str {
        match self.0 {
            AccessEnded::TokensRevoked { .. } => "token revoked",
            AccessEnded::Deactivated => "user deactivated",
            AccessEnded::AppDisabled => "app disabled",
            AccessEnded::DeviceSignedOut { .. } => "device signed out",
            AccessEnded::Replaced { .. } => "replaced by a newer login",
        }
    }

    /// The close code: `4409` for a replaced login, `4401` for every other end of access.
    pub fn code(&self) -> u16 {
        match self.0 {
            AccessEnded::Replaced { .. } => REPLACED,
            _ => ACCESS_ENDED,
        }
    }
}

struct Open {
    id: u64,
    /// Its id across gateways, a UUIDv7: later sessions sort after earlier ones.
    session: String,
    epoch: u64,
    issued_ms: i64,
    /// The device its hello named; `None` before the hello.
    device: Option<String>,
    platform: Platform,
    end: oneshot::Sender<Ended>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    users: HashMap<(AppId, UserId), Vec<Open>>,
}

/// Every open session of this gateway.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<Registry>>);

/// A session's place in the registry: `ended` resolves when its access ends. Dropping it
/// leaves the registry.
pub struct Registration {
    sessions: Sessions,
    key: (AppId, UserId),
    id: u64,
    session: String,
    pub ended: oneshot::Receiver<Ended>,
}

impl Sessions {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session of `principal`.
    pub fn register(&self, principal: &Principal) -> Registration {
        let (end, ended) = oneshot::channel();
        let key = (principal.app.clone(), principal.user.clone());
        let mut registry = self.registry();
        registry.next_id += 1;
        let id = registry.next_id;
        let session = uuid::Uuid::now_v7().to_string();
        registry.users.entry(key.clone()).or_default().push(Open {
            id,
            session: session.clone(),
            epoch: principal.epoch,
            issued_ms: principal.issued_ms,
            device: None,
            platform: Platform::default(),
            end,
        });
        Registration {
            sessions: self.clone(),
            key,
            id,
            session,
            ended,
        }
    }

    /// Whether `user` has a session here.
    pub fn has(&self, app: &AppId, user: &UserId) -> bool {
        self.registry()
            .users
            .contains_key(&(app.clone(), user.clone()))
    }

    /// Ends the sessions of `user` that `ended` concerns; returns how many.
    pub fn end(&self, app: &AppId, user: &UserId, ended: &AccessEnded) -> usize {
        let key = (app.clone(), user.clone());
        let mut registry = self.registry();
        let Some(open) = registry.users.get_mut(&key) else {
            return 0;
        };
        let (gone, kept): (Vec<Open>, Vec<Open>) = open.drain(..).partition(|open| {
            ended.ends(Holder {
                epoch: open.epoch,
                issued_ms: open.issued_ms,
                device: open.device.as_deref(),
                platform: open.platform,
                session: &open.session,
            })
        });
        *open = kept;
        if open.is_empty() {
            registry.users.remove(&key);
        }
        drop(registry);
        let count = gone.len();
        for session in gone {
            tracing::info!(%app, %user, session = session.id, ?ended, "ending a session");
            let _ = session.end.send(Ended(ended.clone()));
        }
        count
    }
}

impl Sessions {
    /// Ends every session of `app`'s users; returns how many.
    pub fn end_app(&self, app: &AppId) -> usize {
        let users: Vec<UserId> = self
            .registry()
            .users
            .keys()
            .filter(|(a, _)| a == app)
            .map(|(_, user)| user.clone())
            .collect();
        users
            .iter()
            .map(|user| self.end(app, user, &AccessEnded::AppDisabled))
            .sum()
    }
}

impl Registration {
    /// Names the device (and its platform) this session said hello as, so a sign-out of that
    /// device, or a newer login it gives way to, ends it.
    pub fn name_device(&self, device: &str, platform: Platform) {
        let mut registry = self.sessions.registry();
        let open = registry.users.get_mut(&self.key).into_iter().flatten();
        for session in open.filter(|session| session.id == self.id) {
            session.device = Some(device.to_owned());
            session.platform = platform;
        }
    }

    /// Its id across gateways.
    pub fn session(&self) -> &str {
        &self.session
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = self.sessions.registry();
        if let Some(open) = registry.users.get_mut(&self.key) {
            open.retain(|session| session.id != self.id);
            if open.is_empty() {
                registry.users.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user: &str, epoch: u64) -> Principal {
        Principal {
            app: AppId::parse("demo").unwrap(),
            user: UserId::parse(user).unwrap(),
            epoch,
            issued_ms: 0,
        }
    }

    #[test]
    fn ends_only_the_sessions_an_access_change_concerns() {
        let sessions = Sessions::default();
        let (old, new, other) = (
            principal("alice", 0),
            principal("alice", 1),
            principal("bob", 0),
        );
        let mut old_session = sessions.register(&old);
        let mut new_session = sessions.register(&new);
        let mut bob_session = sessions.register(&other);
        let (app, alice) = (old.app.clone(), old.user.clone());

        let revoked = AccessEnded::TokensRevoked { epoch: 1 };
        assert_eq!(sessions.end(&app, &alice, &revoked), 1);
        assert_eq!(old_session.ended.try_recv().unwrap(), Ended(revoked));
        assert!(new_session.ended.try_recv().is_err());

        assert_eq!(sessions.end(&app, &alice, &AccessEnded::Deactivated), 1);
        assert_eq!(
            new_session.ended.try_recv().unwrap().reason(),
            "user deactivated"
        );
        assert!(!sessions.has(&app, &alice));
        assert!(bob_session.ended.try_recv().is_err());

        drop(bob_session);
        assert!(!sessions.has(&app, &other.user));
        drop(old_session);
    }

    #[test]
    fn signing_a_device_out_ends_that_device_sessions_only() {
        let sessions = Sessions::default();
        let alice = principal("alice", 0);
        let (app, user) = (alice.app.clone(), alice.user.clone());
        let mut phone = sessions.register(&alice);
        let mut laptop = sessions.register(&alice);
        let mut before_hello = sessions.register(&alice);
        phone.name_device("phone", Platform::Ios);
        laptop.name_device("laptop", Platform::Desktop);
        let signed_out = AccessEnded::DeviceSignedOut {
            device: "phone".into(),
            at: None,
        };
        assert_eq!(sessions.end(&app, &user, &signed_out), 1);
        assert_eq!(
            phone.ended.try_recv().unwrap().reason(),
            "device signed out"
        );
        assert!(laptop.ended.try_recv().is_err());
        assert!(before_hello.ended.try_recv().is_err());
    }

    #[test]
    fn a_newer_login_replaces_the_older_sessions_of_other_devices() {
        let sessions = Sessions::default();
        let alice = principal("alice", 0);
        let (app, user) = (alice.app.clone(), alice.user.clone());
        let mut phone = sessions.register(&alice);
        let mut tablet = sessions.register(&alice);
        phone.name_device("phone", Platform::Ios);
        tablet.name_device("tablet", Platform::Ios);
        let replaced = AccessEnded::Replaced {
            keep: tablet.session().to_owned(),
            device: "tablet".into(),
            platform: None,
        };
        assert_eq!(sessions.end(&app, &user, &replaced), 1);
        let ended = phone.ended.try_recv().unwrap();
        assert_eq!(
            (ended.code(), ended.reason()),
            (REPLACED, "replaced by a newer login")
        );
        assert!(tablet.ended.try_recv().is_err());
    }

    #[test]
    fn disabling_an_app_ends_its_sessions_only() {
        let sessions = Sessions::default();
        let mut alice = sessions.register(&principal("alice", 0));
        let mut bob = sessions.register(&principal("bob", 3));
        let mut elsewhere = sessions.register(&Principal {
            app: AppId::parse("other").unwrap(),
            user: UserId::parse("alice").unwrap(),
            epoch: 0,
            issued_ms: 0,
        });
        assert_eq!(sessions.end_app(&AppId::parse("demo").unwrap()), 2);
        for session in [&mut alice, &mut bob] {
            assert_eq!(session.ended.try_recv().unwrap().reason(), "app disabled");
        }
        assert!(elsewhere.ended.try_recv().is_err());
    }
}
