//! Ending sessions when their access ends: at once on the api's access-ended notices and, as a
//! safety net for a notice never sent or missed (an api that stopped between recording the
//! change and announcing it; a gateway that was disconnected from NATS), on the projector's
//! user-change notices, checked against the user's subject (tokens, deactivation, signed-out
//! devices).
//! App changes are followed on the apps' own subjects in the events stream: each one refreshes
//! this instance's view of the app, and a disabled app's sessions end.

use crate::sessions::Sessions;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures_util::StreamExt;
use tidings_api::commands::Commands;
use tidings_domain::{AppId, UserId};
use tidings_events::control::AccessEnded;
use tidings_events::subjects;
use tokio_util::sync::CancellationToken;

/// The notice streams access follows.
pub struct Notices {
    ended: async_nats::Subscriber,
    changed: async_nats::Subscriber,
    apps: async_nats::jetstream::consumer::pull::Ordered,
}

/// Subscribes to access-ended and user-change notices, and to app changes from now on (an
/// ordered consumer: it survives reconnects and never skips one).
pub async fn subscribe(client: &async_nats::Client) -> anyhow::Result<Notices> {
    let stream = async_nats::jetstream::new(client.clone())
        .get_stream(subjects::EVENTS_STREAM)
        .await?;
    let apps = stream
        .create_consumer(OrderedConfig {
            filter_subject: subjects::ALL_APPS.to_owned(),
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await?
        .messages()
        .await?;
    Ok(Notices {
        ended: client.subscribe(subjects::ALL_ACCESS_ENDED).await?,
        changed: client.subscribe(subjects::ALL_USER_CHANGES).await?,
        apps,
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
                        sessions.end(&app, &user, &ended);
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
            change = notices.apps.next() => {
                let subject = match change {
                    Some(Ok(message)) => message.subject.clone(),
                    Some(Err(error)) => {
                        tracing::warn!(%error, "following app changes");
                        continue;
                    }
                    None => return,
                };
                match subjects::parse_app(&subject).and_then(|app| AppId::parse(app).ok()) {
                    Some(app) => recheck_app(&sessions, &commands, app),
                    None => tracing::warn!(%subject, "app change on an unexpected subject"),
                }
            }
        }
    }
}

/// Reads an app again (refreshing the settings commands use) and, once it is disabled, ends
/// its sessions.
fn recheck_app(sessions: &Sessions, commands: &Commands, app: AppId) {
    let (sessions, commands) = (sessions.clone(), commands.clone());
    tokio::spawn(async move {
        match commands.apps().current(&app).await {
            Ok(Some((state, _))) if state.disabled => {
                let ended = sessions.end_app(&app);
                tracing::info!(%app, sessions = ended, "app disabled: its sessions ended");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%app, %error, "rechecking an app"),
        }
    });
}

/// Checks a user's access on their subject and ends the sessions it no longer admits.
fn recheck(sessions: &Sessions, commands: &Commands, app: AppId, user: UserId) {
    let (sessions, commands) = (sessions.clone(), commands.clone());
    tokio::spawn(async move {
        match commands.access(&app, &user).await {
            Ok(access) if access.app_disabled => {
                sessions.end(&app, &user, &AccessEnded::AppDisabled);
            }
            Ok(access) if access.deactivated => {
                sessions.end(&app, &user, &AccessEnded::Deactivated);
            }
            Ok(access) => {
                let revoked = AccessEnded::TokensRevoked {
                    epoch: access.token_epoch,
                };
                sessions.end(&app, &user, &revoked);
                match commands.signed_out_devices(&app, &user).await {
                    Ok(signed_out) => signed_out.iter().for_each(|ended| {
                        sessions.end(&app, &user, ended);
                    }),
                    Err(error) => tracing::warn!(%app, %user, %error, "rechecking devices"),
                }
            }
            Err(error) => tracing::warn!(%app, %user, %error, "rechecking access"),
        }
    });
}
