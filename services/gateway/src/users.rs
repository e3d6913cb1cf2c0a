//! User rows as the edge needs them (profile lookups), cached and dropped when the projector
//! announces a change on `tid.inv.<app>.user.<user>`. Entries also expire, which bounds how
//! long a read racing a change can keep an old row, and each remembers the read models'
//! position when it was read, so a request naming a later `min_pos` reads the store again.

use crate::coverage::Coverage;

use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tidings_api::error::ApiError;
use tidings_domain::{AppId, UserId};
use tidings_events::subjects;
use tidings_store::{ReadModels, UserRow};

/// A cached row and the position the read models had reached before it was read.
#[derive(Clone)]
struct Cached {
    row: Option<Arc<UserRow>>,
    as_of: u64,
}

/// The cache of user rows.
pub struct Users<S> {
    store: S,
    coverage: Arc<Coverage<S>>,
    cache: moka::future::Cache<(AppId, UserId), Cached>,
}

impl<S: ReadModels> Users<S> {
    /// A cache over `store` holding up to `capacity` rows, each for at most `ttl` without a
    /// change notice.
    pub fn new(store: S, coverage: Arc<Coverage<S>>, capacity: u64, ttl: Duration) -> Self {
        Self {
            store,
            coverage,
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// A user's row as of at least `min_pos` (which the read models must already cover),
    /// `None` when unknown.
    pub async fn get(
        &self,
        app: &AppId,
        user: &UserId,
        min_pos: u64,
    ) -> Result<Option<Arc<UserRow>>, ApiError> {
        let key = (app.clone(), user.clone());
        if let Some(cached) = self.cache.get(&key).await {
            if cached.as_of >= min_pos {
                return Ok(cached.row);
            }
            self.cache.invalidate(&key).await;
        }
        let cached = self
            .cache
            .try_get_with(key, self.read(app, user))
            .await
            .map_err(|e| ApiError::unavailable("reading user profiles", e))?;
        if cached.as_of >= min_pos {
            return Ok(cached.row);
        }
        // Another request filled the slot from an older read meanwhile.
        Ok(self
            .read(app, user)
            .await
            .map_err(|e| ApiError::unavailable("reading user profiles", e))?
            .row)
    }

    async fn read(&self, app: &AppId, user: &UserId) -> Result<Cached, tidings_store::StoreError> {
        let as_of = self.coverage.known();
        let row = self.store.user(app, user).await?;
        Ok(Cached {
            row: row.map(Arc::new),
            as_of,
        })
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
