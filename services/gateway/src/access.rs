//! Ending sessions when their access ends: at once on the api's access-ended notices and, as a
//! safety net for a notice never sent (an api that stopped between recording the change and
//! announcing it), on the projector's user-change notices, checked against the user's subject.

use crate::sessions::Sessions;
use futures_util::StreamExt;
use tidings_api::commands::Commands;
use tidings_domain::{AppId, UserId};
use tidings_events::control::AccessEnded;
use tidings_events::subjects;
use tokio_util::sync::CancellationToken;

/// The two notice streams access follows.
pub struct Notices {
    ended: async_nats::Subscriber,
    changed: async_nats::Subscriber,
}

/// Subscribes to access-ended and user-change notices.
pub async fn subscribe(client: &async_nats::Client) -> Result<Notices, async_nats::SubscribeError> {
    Ok(Notices {
        ended: client.subscribe(subjects::ALL_ACCESS_ENDED).await?,
        changed: client.subscribe(subjects::ALL_USER_CHANGES).await?,
    })
}

fn ids(app: &str, user: &str) -> Option<(AppId, UserId)> {
    Some((AppId::parse(app).ok()?, UserId::parse(user).ok()?))
}

/// Ends the sessions the notices concern, until shutdown.
pub async fn follow(
    sessions: Sessions,
    commands: Commands,
    mut notices: Notices,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            notice = notices.ended.next() => {
                let Some(notice) = notice else { return };
                let parsed = subjects::parse_access_ended(&notice.subject)
                    .and_then(|(app, user)| ids(app, user));
                match (parsed, AccessEnded::decode(&notice.payload)) {
                    (Some((app, user)), Ok(ended)) => {
                        sessions.end(&app, &user, ended);
                    }
                    (_, result) => tracing::warn!(
                        subject = %notice.subject, error = ?result.err(),
                        "unreadable access-ended notice"
                    ),
                }
            }
            notice = notices.changed.next() => {
                let Some(notice) = notice else { return };
                let Some((app, user)) = subjects::parse_user_changed(&notice.subject)
                    .and_then(|(app, user)| ids(app, user))
                else {
                    continue;
                };
                if sessions.has(&app, &user) {
                    recheck(&sessions, &commands, app, user);
                }
            }
        }
    }
}

/// Checks a user's access on their subject and ends the sessions it no longer admits.
fn recheck(sessions: &Sessions, commands: &Commands, app: AppId, user: UserId) {
    let (sessions, commands) = (sessions.clone(), commands.clone());
    tokio::spawn(async move {
        match commands.access(&app, &user).await {
            Ok(access) if access.deactivated => {
                sessions.end(&app, &user, AccessEnded::Deactivated);
            }
            Ok(access) => {
                let revoked = AccessEnded::TokensRevoked {
                    epoch: access.token_epoch,
                };
                sessions.end(&app, &user, revoked);
            }
            Err(error) => tracing::warn!(%app, %user, %error, "rechecking access"),
        }
    });
}
