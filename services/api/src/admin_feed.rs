//! The admin API's view of the feed webhooks' dead letters: the records an app's webhook never
//! took, as parked on `tid.dlq.feed.<app>` with the reason, oldest first, paged by their
//! sequence in the dead-letter stream.

use crate::admin::AdminState;
use crate::error::{ApiError, ErrorCode};
use crate::json::ApiPath;
use async_nats::jetstream::stream::DirectGetErrorKind;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_domain::AppId;
use tidings_events::{headers, subjects};

/// Most dead letters one page holds.
pub const MAX_LIMIT: usize = 100;

/// The page asked for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Dead letters after this stream sequence (0: from the oldest).
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    MAX_LIMIT
}

/// `GET /v1/admin/apps/{key}/feed/dead-letters?after=SEQ&limit=N`.
pub async fn list(
    State(state): State<AdminState>,
    ApiPath(key): ApiPath<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let app = AppId::parse(key)?;
    let Query(page) = page.map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.body_text()))?;
    if !(1..=MAX_LIMIT).contains(&page.limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("limit must be 1-{MAX_LIMIT}"),
        ));
    }
    if state.apps().current(&app).await?.is_none() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("app {app} not found"),
        ));
    }
    let stream = state
        .js()
        .get_stream(subjects::DEAD_LETTER_STREAM)
        .await
        .map_err(|e| ApiError::unavailable("opening the dead-letter stream", e))?;
    let subject = subjects::dead_letter_feed(&app);
    let mut letters = Vec::new();
    let mut from = page.after + 1;
    while letters.len() < page.limit {
        let message = match stream
            .direct_get_next_for_subject(&subject, Some(from))
            .await
        {
            Ok(message) => message,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => break,
            Err(e) => return Err(ApiError::unavailable("reading dead letters", e)),
        };
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
        let record: Value = serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
        letters.push(json!({
            "seq": message.sequence,
            "reason": header(headers::DEAD_LETTER_REASON),
            "subject": header(headers::DEAD_LETTER_SUBJECT),
            "attempts": header("Tidings-Feed-Attempts").and_then(|a| a.parse::<u64>().ok()),
            "parked_at": message.time.unix_timestamp() * 1000,
            "record": record,
        }));
        from = message.sequence + 1;
    }
    let last_seq = letters
        .last()
        .map_or(page.after, |l| l["seq"].as_u64().unwrap_or(0));
    Ok(Json(
        json!({ "dead_letters": letters, "last_seq": last_seq }),
    ))
}
