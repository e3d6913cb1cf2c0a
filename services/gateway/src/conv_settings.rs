//! Client REST for a user's conversation settings (pinned, muted until, draft, marked unread,
//! hidden), which follow the user across devices: change them, and list what changed since a
//! cursor (the stream sequence of a settings change), for a device that was away.

use crate::GatewayState;
use crate::errors::store_error;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use crate::rest::TokenQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use tidings_api::commands::SettingsRequest;
use tidings_api::error::ApiError;
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::event::ConvSettings;
use tidings_domain::{AppId, ConvId, UserId};
use tidings_store::{Conversation, ReadModels};

/// `rows` (a user's conversation list) as listed: each with the user's settings for it (all
/// off when never set). A hidden conversation is left out until a message newer than the one
/// it was hidden at arrives; from then on it is listed, as not hidden.
pub(crate) async fn listed<S: ReadModels>(
    store: &S,
    app: &AppId,
    user: &UserId,
    rows: Vec<Conversation>,
) -> Result<Vec<Value>, ApiError> {
    let mut settings: HashMap<ConvId, ConvSettings> = store
        .conv_settings(app, user)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| (row.conv, row.settings))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let mut mine = settings.remove(&row.conv).unwrap_or_default();
            if mine.hidden {
                if row.last_seq <= mine.hidden_up_to {
                    return None;
                }
                mine.hidden = false;
                mine.hidden_up_to = 0;
            }
            let mut row = json!(row);
            row["settings"] = json!(mine);
            Some(row)
        })
        .collect())
}

/// The settings routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/conversations/{conv}/settings", post(change::<S>))
        .route("/v1/conversations:changed", get(changed::<S>))
}

/// Changes the caller's settings for a conversation; answers all of them as they now are.
/// Immediate; the user's devices get a `settings` entry.
async fn change<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<SettingsRequest>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let settings = state
        .shared
        .commands
        .change_settings(&me.app, &me.user, &conv, body)
        .await?;
    let mut answer = json!(settings.value);
    answer["conv"] = json!(conv);
    answer["pos"] = json!(settings.pos);
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
struct ChangedQuery {
    #[serde(default)]
    since: u64,
    limit: Option<usize>,
    token: Option<String>,
}

/// The caller's conversations whose settings changed after `since`, oldest change first, and
/// the cursor to pass next. Eventual (honours `min_pos`).
async fn changed<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ChangedQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let limit = check_limit(query.limit, 100)?;
    let mut rows = state
        .shared
        .store
        .conv_settings(&me.app, &me.user)
        .await
        .map_err(store_error)?;
    rows.retain(|r| r.cursor > query.since);
    rows.sort_by(|a, b| a.cursor.cmp(&b.cursor).then_with(|| a.conv.cmp(&b.conv)));
    rows.truncate(limit);
    let cursor = rows.last().map_or(query.since, |r| r.cursor);
    let conversations: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({ "conv": r.conv, "settings": r.settings, "cursor": r.cursor }))
        .collect();
    Ok(Json(
        json!({ "conversations": conversations, "cursor": cursor }),
    ))
}
