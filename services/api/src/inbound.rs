//! Integrator requests over NATS: `tid.in.<app>.<operation>` with a JSON body, one subject per
//! server-API operation (`operations`), carried out by the server API's own routes, so bodies,
//! answers and error codes are the HTTP ones. NATS itself authenticates the publisher (accounts and permissions),
//! so there is no signature here. A request with a reply subject gets the answer (or the error)
//! as JSON; a request that is malformed, or that fails with nobody to tell, is parked on the
//! dead-letter stream (`tid.dlq.in.<app>`) with the reason: never silently dropped.

use crate::apps::Apps;
use crate::error::{ApiError, ErrorCode};
use crate::operations;
use crate::signature::SignedBy;
use async_nats::{Subscriber, jetstream};
use axum::body::Body;
use axum::http::{Method, Request, header};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;
use tidings_domain::AppId;
use tidings_events::{headers, subjects};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// The queue group every api instance joins, so each request is handled once.
pub const QUEUE_GROUP: &str = "tidings-api";

/// Largest answer read back from a route (answers are small JSON objects).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// A failure: whether the request itself was malformed, and the error.
struct Failure {
    malformed: bool,
    error: ApiError,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure {
            malformed: false,
            error,
        }
    }
}

fn malformed(error: ApiError) -> Failure {
    Failure {
        malformed: true,
        error,
    }
}

/// Carries out one request through the server API's own route: the answer's JSON body, or
/// the failure. Bodies the route refuses as unreadable (`400`) count as malformed.
async fn handle(
    apps: &Apps,
    routes: &axum::Router,
    subject: &str,
    payload: &Bytes,
) -> Result<Bytes, Failure> {
    let (app, name) = subjects::parse_inbound(subject).ok_or_else(|| {
        malformed(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("bad subject {subject}"),
        ))
    })?;
    let unknown = || {
        malformed(ApiError::new(
            ErrorCode::UnknownApp,
            format!("unknown app {app:?}"),
        ))
    };
    let app = AppId::parse(app).map_err(|_| unknown())?;
    match apps.current(&app).await? {
        None => return Err(unknown()),
        Some((state, _)) if state.disabled => return Err(crate::apps::disabled(&app).into()),
        Some(_) => {}
    }
    let operation = operations::find(name).ok_or_else(|| {
        malformed(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "unknown command {name:?}: one of {}",
                operations::names().join(", ")
            ),
        ))
    })?;
    let (path, body) = operation.request(payload).map_err(malformed)?;
    let (method, body) = match operation.method {
        "GET" => (Method::GET, Vec::new()),
        _ => (Method::POST, body),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(|e| malformed(ApiError::new(ErrorCode::InvalidRequest, e.to_string())))?;
    request.extensions_mut().insert(SignedBy(app));
    // A router is always ready: no `poll_ready` needed before `call`.
    let response = match routes.clone().call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let answer = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
        .await
        .map_err(|e| ApiError::unavailable("reading a route's answer", e))?;
    if status.is_success() {
        return Ok(answer);
    }
    let error: ApiError = serde_json::from_slice::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| {
            let code = serde_json::from_value(v["code"].clone()).ok()?;
            Some(ApiError::new(
                code,
                v["message"].as_str().unwrap_or_default(),
            ))
        })
        .unwrap_or_else(|| ApiError::new(ErrorCode::Internal, format!("answered {status}")));
    Err(Failure {
        malformed: status == axum::http::StatusCode::BAD_REQUEST,
        error,
    })
}

async fn dead_letter(js: &jetstream::Context, message: &async_nats::Message, reason: &str) {
    let app = subjects::parse_inbound(&message.subject).map_or("unknown", |(app, _)| app);
    let app = if AppId::parse(app).is_ok() {
        app
    } else {
        "unknown"
    };
    let mut h = message.headers.clone().unwrap_or_default();
    h.insert(headers::DEAD_LETTER_REASON, reason);
    h.insert(headers::DEAD_LETTER_SUBJECT, message.subject.as_str());
    let parked = async {
        js.publish_with_headers(
            subjects::dead_letter_inbound(app),
            h,
            message.payload.clone(),
        )
        .await?
        .await
    };
    match parked.await {
        Ok(_) => metrics::counter!(tidings_runtime::metrics::DEAD_LETTERS, "source" => "inbound")
            .increment(1),
        Err(error) => {
            tracing::error!(%error, subject = %message.subject, reason, "could not dead-letter a request")
        }
    }
}

/// Subscribes to integrator requests; once this returns, the server knows the subscription,
/// so a process that says it is ready after it answers every request.
pub async fn subscribe(client: &async_nats::Client) -> Result<Subscriber, async_nats::Error> {
    let requests = client
        .queue_subscribe(subjects::ALL_INBOUND, QUEUE_GROUP.into())
        .await?;
    client.flush().await?;
    Ok(requests)
}

/// Serves the integrator requests of `requests` (from [`subscribe`]) until `shutdown`.
pub async fn serve(
    client: async_nats::Client,
    mut requests: Subscriber,
    apps: Apps,
    routes: axum::Router,
    shutdown: CancellationToken,
) -> Result<(), async_nats::Error> {
    let js = jetstream::new(client.clone());
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            message = requests.next() => match message {
                Some(message) => message,
                None => return Ok(()),
            },
        };
        let outcome = handle(&apps, &routes, &message.subject, &message.payload).await;
        let answer = match outcome {
            Ok(answer) => answer,
            Err(failure) => {
                let error = &failure.error;
                tracing::info!(subject = %message.subject, code = ?error.code, message = %error.message, "integrator request refused");
                if failure.malformed || message.reply.is_none() {
                    dead_letter(&js, &message, &error.message).await;
                }
                json!({ "code": error.code, "message": error.message })
                    .to_string()
                    .into()
            }
        };
        if let Some(reply) = &message.reply
            && let Err(error) = client.publish(reply.clone(), answer).await
        {
            tracing::warn!(%error, "could not answer an integrator request");
        }
    }
}
