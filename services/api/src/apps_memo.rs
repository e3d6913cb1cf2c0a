//! A batch's view of the apps: each app's state read from [`Apps`] at most once, so a consumer
//! that handles events in batches (the feed projector, the push worker) pays one read per app
//! per batch, and a change to an app applies from the next batch.

use crate::apps::Apps;
use crate::error::ApiError;
use std::collections::HashMap;
use tidings_domain::AppId;
use tidings_domain::app::AppState;

pub struct AppsMemo<'a> {
    apps: &'a Apps,
    /// `None`: no such app.
    seen: HashMap<AppId, Option<AppState>>,
}

impl<'a> AppsMemo<'a> {
    pub fn new(apps: &'a Apps) -> Self {
        Self {
            apps,
            seen: HashMap::new(),
        }
    }

    /// `app`'s state as this batch first read it; `None` if there is no such app.
    pub async fn state(&mut self, app: &AppId) -> Result<Option<&AppState>, ApiError> {
        if !self.seen.contains_key(app) {
            let state = self.apps.current(app).await?.map(|(state, _)| state);
            self.seen.insert(app.clone(), state);
        }
        Ok(self.seen.get(app).and_then(Option::as_ref))
    }
}
