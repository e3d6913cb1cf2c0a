//! Client REST: a user's inbox, conversations and history, read from the store.

use crate::GatewayState;
use crate::annotations::annotate;
use crate::conv_settings;
use crate::errors::store_error;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use crate::{quotes, service_view};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::json::ApiPath;
use tidings_domain::{AppId, ConvId, DeviceId, UserId};
use tidings_store::visibility;
use tidings_store::{HistoryOrder, HistoryQuery, ReadModels};

/// The client REST routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/inbox", get(inbox::<S>))
        .route("/v1/conversations", get(conversations::<S>))
        .route("/v1/conversations/{conv}/messages", get(messages::<S>))
        .route("/v1/conversations/{conv}/read", post(read::<S>))
        .route("/v1/conversations/{conv}/hide", post(hide::<S>))
        .route("/v1/conversations/{conv}/clear", post(clear::<S>))
}

/// A page after a cursor, for a token-authenticated read.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenQueryAfter {
    #[serde(default)]
    pub(crate) after: u64,
    pub(crate) limit: Option<usize>,
    pub(crate) token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
    token: Option<String>,
}

async fn inbox<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let limit = check_limit(query.limit, 100)?;
    let store = &state.shared.store;
    let mut entries = visibility::inbox_page(store, &me.app, &me.user, query.after, limit)
        .await
        .map_err(store_error)?;
    quotes::resolve(store, &me.app, quotes::in_entries(&mut entries)).await?;
    service_view::mask(quotes::in_entries(&mut entries), &me.user);
    let last_seq = store
        .inbox_last_seq(&me.app, &me.user)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "entries": entries, "last_seq": last_seq })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenQuery {
    pub(crate) token: Option<String>,
}

async fn conversations<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let store = &state.shared.store;
    let mut rows = visibility::conversations(store, &me.app, &me.user)
        .await
        .map_err(store_error)?;
    let last = rows
        .iter_mut()
        .filter_map(|r| r.last_message.as_mut())
        .collect();
    quotes::resolve(store, &me.app, last).await?;
    let last = rows.iter_mut().filter_map(|r| r.last_message.as_mut());
    service_view::mask(last, &me.user);
    let rows = conv_settings::listed(store, &me.app, &me.user, rows).await?;
    Ok(Json(json!({ "conversations": rows })))
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    /// Newest first: messages below this `conv_seq` (the previous page's `next_before`).
    before: Option<u64>,
    /// Oldest first: messages above this `conv_seq` (the previous page's `next_after`).
    after: Option<u64>,
    /// Messages at or after this time (milliseconds, inclusive).
    since_ts: Option<i64>,
    /// Messages before this time (milliseconds, exclusive).
    until_ts: Option<i64>,
    #[serde(default)]
    order: HistoryOrder,
    limit: Option<usize>,
    token: Option<String>,
}

impl MessagesQuery {
    /// The store's query, or why the parameters do not go together.
    fn history(&self) -> Result<HistoryQuery, ApiError> {
        let invalid = |message: &str| Err(ApiError::new(ErrorCode::InvalidRequest, message));
        let cursor = match (self.order, self.before, self.after) {
            (HistoryOrder::Newest, before, None) => before,
            (HistoryOrder::Oldest, None, after) => after,
            (HistoryOrder::Newest, _, Some(_)) => {
                return invalid("after pages oldest first: use it with order=oldest");
            }
            (HistoryOrder::Oldest, Some(_), _) => {
                return invalid("before pages newest first: use after with order=oldest");
            }
        };
        if let (Some(since), Some(until)) = (self.since_ts, self.until_ts)
            && since >= until
        {
            return invalid("since_ts must be less than until_ts");
        }
        Ok(HistoryQuery {
            since: self.since_ts,
            until: self.until_ts,
            order: self.order,
            cursor,
            limit: check_limit(self.limit, 50)?,
        })
    }
}

/// A conversation's history: newest or oldest first, optionally within a time range, a page
/// at a time. `next_before` or `next_after` (by order) continues it; null at the end.
async fn messages<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let history = query.history()?;
    let store = &state.shared.store;
    let commands = &state.shared.commands;
    match commands
        .service_participant(&me.app, &me.user, &conv)
        .await?
    {
        Some((true, _)) => {}
        Some((false, _)) => return Err(not_a_participant()),
        None => require_participant(store, &me.app, &me.user, &conv).await?,
    }
    let mut page = visibility::history(store, &me.app, &me.user, &conv, history)
        .await
        .map_err(store_error)?;
    service_view::mask(quotes::in_rows(&mut page.messages), &me.user);
    let key = match history.order {
        HistoryOrder::Newest => "next_before",
        HistoryOrder::Oldest => "next_after",
    };
    let messages = annotate(store, &me.app, &conv, &me.user, page.messages).await?;
    Ok(Json(json!({ "messages": messages, key: page.next })))
}

/// A user reads only conversations they take part in: a group's while a member.
pub(crate) async fn require_participant<S: ReadModels>(
    store: &S,
    app: &AppId,
    user: &UserId,
    conv: &ConvId,
) -> Result<(), ApiError> {
    let member = match conv.group_id() {
        Some(group) => store
            .member(app, &group, user)
            .await
            .map_err(store_error)?
            .is_some(),
        None => store
            .conversation(app, user, conv)
            .await
            .map_err(store_error)?
            .is_some(),
    };
    if member {
        Ok(())
    } else {
        Err(not_a_participant())
    }
}

fn not_a_participant() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "not a conversation of this user")
}

/// The body of `POST /v1/conversations/{conv}/read`.
#[derive(Debug, Deserialize)]
pub struct ReadBody {
    conv_seq: u64,
    /// The device reading, for its per-device read position (optional).
    #[serde(default)]
    device: Option<String>,
}

/// Marks a conversation read up to `conv_seq` (the REST twin of the `read` frame).
async fn read<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    tidings_api::json::JsonBody(body): tidings_api::json::JsonBody<ReadBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let device = body.device.map(DeviceId::parse).transpose()?;
    let pos = state
        .shared
        .commands
        .read(&me.app, &me.user, &conv, body.conv_seq, device.as_ref())
        .await?;
    Ok(Json(
        json!({ "conv": conv, "read_seq": body.conv_seq, "pos": pos }),
    ))
}

/// The body of `POST /v1/conversations/{conv}/hide`.
#[derive(Debug, Deserialize)]
pub struct HideBody {
    conv_seq: u64,
}

/// Delete for me: hides one message from the caller's own view (the REST twin of `hide`).
async fn hide<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    tidings_api::json::JsonBody(body): tidings_api::json::JsonBody<HideBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let pos = state
        .shared
        .commands
        .hide(&me.app, &me.user, &conv, body.conv_seq)
        .await?;
    Ok(Json(
        json!({ "conv": conv, "conv_seq": body.conv_seq, "pos": pos }),
    ))
}

/// The body of `POST /v1/conversations/{conv}/clear`.
#[derive(Debug, Deserialize)]
pub struct ClearBody {
    /// Clear up to this `conv_seq`; the newest message when absent.
    #[serde(default)]
    up_to: Option<u64>,
}

/// Clear for me: removes a conversation from the caller's own view up to a `conv_seq` (the
/// REST twin of `clear`).
async fn clear<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    tidings_api::json::JsonBody(body): tidings_api::json::JsonBody<ClearBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let mark = state
        .shared
        .commands
        .clear(&me.app, &me.user, &conv, body.up_to)
        .await?;
    Ok(Json(
        json!({ "conv": conv, "up_to": mark.value, "pos": mark.pos }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<HistoryQuery, ErrorCode> {
        let uri: axum::http::Uri = format!("/v1/conversations/c/messages?{query}")
            .parse()
            .unwrap();
        let axum::extract::Query(query) =
            axum::extract::Query::<MessagesQuery>::try_from_uri(&uri).unwrap();
        query.history().map_err(|e| e.code)
    }

    #[test]
    fn history_parameters_that_do_not_go_together_are_refused() {
        let newest = parse("before=9&since_ts=5&until_ts=6&limit=3").unwrap();
        assert_eq!(
            newest,
            HistoryQuery {
                since: Some(5),
                until: Some(6),
                order: HistoryOrder::Newest,
                cursor: Some(9),
                limit: 3
            }
        );
        let oldest = parse("order=oldest&after=4").unwrap();
        assert_eq!(
            (oldest.order, oldest.cursor, oldest.limit),
            (HistoryOrder::Oldest, Some(4), 50)
        );
        assert_eq!(parse("order=newest").unwrap().cursor, None);
        for bad in [
            "after=3",
            "order=newest&after=3",
            "order=oldest&before=3",
            "since_ts=5&until_ts=5",
            "since_ts=6&until_ts=5",
            "limit=0",
        ] {
            assert_eq!(parse(bad), Err(ErrorCode::InvalidRequest), "{bad}");
        }
    }
}
