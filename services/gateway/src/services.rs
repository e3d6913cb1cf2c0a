//! Client REST for customer-service accounts, for the business side (the service account and
//! its agents): the service's agents and queue, answering a customer, taking, transferring and
//! closing sessions, an agent's availability, and the service account's history queries (a
//! customer across all agents, or one agent with one customer). Customers write with the
//! ordinary `send` (`to: {"service": ID}`) and read their conversation like any other.

use crate::GatewayState;
use crate::errors::store_error;
use crate::paging::check_limit;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::json::{ApiPath, JsonBody};
use tidings_domain::{Body, ClientMsgId, ConvId, UserId};
use tidings_store::{HistoryOrder, HistoryQuery, ReadModels, TimelineMessage, visibility};

/// The service routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/services/{service}", get(show::<S>))
        .route(
            "/v1/services/{service}/availability",
            post(availability::<S>),
        )
        .route(
            "/v1/services/{service}/customers/{customer}/messages",
            get(history::<S>).post(answer::<S>),
        )
        .route(
            "/v1/services/{service}/customers/{customer}/take",
            post(take::<S>),
        )
        .route(
            "/v1/services/{service}/customers/{customer}/transfer",
            post(transfer::<S>),
        )
        .route(
            "/v1/services/{service}/customers/{customer}/close",
            post(close::<S>),
        )
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn ids(service: String, customer: String) -> Result<(UserId, UserId), ApiError> {
    let (service, customer) = (UserId::parse(service)?, UserId::parse(customer)?);
    if service == customer {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "a service is not its own customer",
        ));
    }
    Ok((service, customer))
}

/// The service's agents (capacity, availability, load) and its queue.
async fn show<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(service): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let service = UserId::parse(service)?;
    let view = state
        .shared
        .commands
        .service_view(&me.app, &service, &me.user)
        .await?;
    Ok(Json(json!({ "service": view })))
}

/// The body of `POST /v1/services/{service}/availability`.
#[derive(Debug, Deserialize)]
pub struct AvailabilityBody {
    available: bool,
}

/// An agent sets itself available or away.
async fn availability<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(service): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<AvailabilityBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let service = UserId::parse(service)?;
    let view = state
        .shared
        .commands
        .set_agent_available(&me.app, &service, &me.user, body.available)
        .await?;
    Ok(Json(json!({ "service": view.value, "pos": view.pos })))
}

/// The body of `POST /v1/services/{service}/customers/{customer}/messages`.
#[derive(Debug, Deserialize)]
pub struct AnswerBody {
    client_msg_id: ClientMsgId,
    body: Body,
}

/// The agent serving the customer, or the service account, writes to the customer.
async fn answer<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath((service, customer)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<AnswerBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (service, customer) = ids(service, customer)?;
    if me.user == customer {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "customers write with send, to: {\"service\": ID}",
        ));
    }
    let sent = state
        .shared
        .commands
        .service_send(
            &me.app,
            &service,
            &customer,
            &me.user,
            body.client_msg_id,
            body.body,
        )
        .await?;
    Ok(Json(sent.answer()))
}

/// The service account takes a queued customer.
async fn take<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath((service, customer)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (service, customer) = ids(service, customer)?;
    if me.user != service {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the service account takes customers",
        ));
    }
    let session = state
        .shared
        .commands
        .take_customer(&me.app, &service, &customer)
        .await?;
    Ok(Json(
        json!({ "session": session.value, "pos": session.pos }),
    ))
}

/// The body of `POST /v1/services/{service}/customers/{customer}/transfer`.
#[derive(Debug, Deserialize)]
pub struct TransferBody {
    to: UserId,
    #[serde(default)]
    note: Option<String>,
}

/// The agent serving the customer, or the service account, hands the session to another agent.
async fn transfer<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath((service, customer)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    JsonBody(body): JsonBody<TransferBody>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (service, customer) = ids(service, customer)?;
    let session = state
        .shared
        .commands
        .transfer_customer(&me.app, &service, &me.user, &customer, &body.to, body.note)
        .await?;
    Ok(Json(
        json!({ "session": session.value, "pos": session.pos }),
    ))
}

/// The agent serving the customer, or the service account, ends the session.
async fn close<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath((service, customer)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (service, customer) = ids(service, customer)?;
    let session = state
        .shared
        .commands
        .close_session(&me.app, &service, &me.user, &customer)
        .await?;
    Ok(Json(
        json!({ "session": session.value, "pos": session.pos }),
    ))
}

#[derive(Debug, Deserialize)]
struct HistoryParams {
    /// Only the messages this agent handled.
    agent: Option<UserId>,
    /// Messages below this `conv_seq` (the previous page's `next_before`).
    before: Option<u64>,
    limit: Option<usize>,
    token: Option<String>,
}

/// Most timeline pages one agent-filtered history page reads before answering with what it
/// found and a cursor to go on from.
const MAX_SCANS: usize = 10;

/// The customer's conversation with the service, newest first, across all agents or for one
/// agent (`agent`), every message with its agent and session; the business side only.
async fn history<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath((service, customer)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HistoryParams>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let (service, customer) = ids(service, customer)?;
    let limit = check_limit(query.limit, 50)?;
    state
        .shared
        .commands
        .require_business(&me.app, &service, &me.user)
        .await?;
    let conv = ConvId::service(&service, &customer);
    let store = &state.shared.store;
    let mut found: Vec<TimelineMessage> = Vec::new();
    // The `conv_seq` of the last message looked at: where the next page goes on from.
    let mut next_before = query.before;
    let mut done = false;
    'scan: for _ in 0..MAX_SCANS {
        let page = visibility::history(
            store,
            &me.app,
            &me.user,
            &conv,
            HistoryQuery {
                since: None,
                until: None,
                order: HistoryOrder::Newest,
                cursor: next_before,
                limit,
            },
        )
        .await
        .map_err(store_error)?;
        for message in page.messages {
            if found.len() == limit {
                break 'scan;
            }
            next_before = Some(message.message.conv_seq);
            let wanted = query
                .agent
                .as_ref()
                .is_none_or(|a| message.message.agent.as_ref() == Some(a));
            if wanted {
                found.push(message);
            }
        }
        if page.next.is_none() {
            done = true;
            break;
        }
    }
    let next_before = if done { None } else { next_before };
    Ok(Json(
        json!({ "conv": conv, "messages": found, "next_before": next_before }),
    ))
}
