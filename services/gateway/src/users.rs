//! User rows as the edge needs them (token checks, profile lookups), cached and dropped when
//! the projector announces a change on `tid.inv.<app>.user.<user>`. Entries also expire, which
//! bounds how long a read racing a change can keep an old row.

use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tidings_api::error::ApiError;
use tidings_domain::{AppId, UserId};
use tidings_events::subjects;
use tidings_store::{ReadModels, UserRow};

/// The cache of user rows.
pub struct Users<S> {
    store: S,
    cache: moka::future::Cache<(AppId, UserId), Option<Arc<UserRow>>>,
}

impl<S: ReadModels> Users<S> {
    /// A cache over `store` holding up to `capacity` rows, each for at most `ttl` without a
    /// change notice.
    pub fn new(store: S, capacity: u64, ttl: Duration) -> Self {
        Self {
            store,
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// A user's row, `None` when unknown.
    pub async fn get(&self, app: &AppId, user: &UserId) -> Result<Option<Arc<UserRow>>, ApiError> {
        let store = &self.store;
        self.cache
            .try_get_with((app.clone(), user.clone()), async move {
                store.user(app, user).await.map(|row| row.map(Arc::new))
            })
            .await
            .map_err(|e| ApiError::unavailable("reading user profiles", e))
    }

    /// Drops a user's cached row.
    pub async fn invalidate(&self, app: &AppId, user: &UserId) {
        self.cache.invalidate(&(app.clone(), user.clone())).await;
    }
}

/// Listens for change notices and drops the rows they name, until shutdown.
pub async fn follow_changes<S: ReadModels>(
    users: Arc<Users<S>>,
    mut notices: async_nats::Subscriber,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let notice = tokio::select! {
            _ = shutdown.cancelled() => return,
            notice = notices.next() => match notice {
                Some(notice) => notice,
                None => return,
            },
        };
        let Some((app, user)) = subjects::parse_user_changed(notice.subject.as_str()) else {
            continue;
        };
        if let (Ok(app), Ok(user)) = (AppId::parse(app), UserId::parse(user)) {
            users.invalidate(&app, &user).await;
        }
    }
}

/// Subscribes to every user change notice.
pub async fn subscribe_changes(
    client: &async_nats::Client,
) -> Result<async_nats::Subscriber, async_nats::SubscribeError> {
    client.subscribe(subjects::ALL_USER_CHANGES).await
}
