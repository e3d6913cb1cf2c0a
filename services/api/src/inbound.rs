//! Integrator requests over NATS: `tid.in.<app>.<command>` with a JSON body, the same bodies as
//! the signed server API. NATS itself authenticates the publisher (accounts and permissions),
//! so there is no signature here. A request with a reply subject gets the answer (or the error)
//! as JSON; a request that is malformed, or that fails with nobody to tell, is parked on the
//! dead-letter stream (`tid.dlq.in.<app>`) with the reason: never silently dropped.

use crate::commands::{Commands, SendRequest, UpsertUserRequest};
use crate::error::{ApiError, ErrorCode};
use crate::json::rejection_error;
use async_nats::{Subscriber, jetstream};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tidings_domain::{AppId, Body, UserId};
use tidings_events::{headers, subjects};
use tokio_util::sync::CancellationToken;

/// The queue group every api instance joins, so each request is handled once.
pub const QUEUE_GROUP: &str = "tidings-api";

/// The commands accepted on `tid.in.<app>.<command>`.
pub const COMMANDS: [&str; 3] = ["users.upsert", "messages.send", "system.send"];

#[derive(Debug, Deserialize)]
struct MessageRequest {
    from: UserId,
    #[serde(flatten)]
    message: SendRequest,
}

#[derive(Debug, Deserialize)]
struct SystemRequest {
    to: Vec<UserId>,
    body: Body,
}

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

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(payload).map_err(|e| Failure {
        malformed: true,
        error: rejection_error(&e.to_string()),
    })
}

fn malformed(code: ErrorCode, message: String) -> Failure {
    Failure {
        malformed: true,
        error: ApiError::new(code, message),
    }
}

async fn handle(commands: &Commands, subject: &str, payload: &[u8]) -> Result<Value, Failure> {
    let (app, command) = subjects::parse_inbound(subject)
        .ok_or_else(|| malformed(ErrorCode::InvalidRequest, format!("bad subject {subject}")))?;
    let unknown = || malformed(ErrorCode::UnknownApp, format!("unknown app {app:?}"));
    let app = AppId::parse(app).map_err(|_| unknown())?;
    match commands.apps().current(&app).await? {
        None => return Err(unknown()),
        Some((state, _)) if state.disabled => return Err(crate::apps::disabled(&app).into()),
        Some(_) => {}
    }
    match command {
        "users.upsert" => {
            let request: UpsertUserRequest = parse(payload)?;
            let user_id = request.user_id.clone();
            let version = commands.upsert_user(&app, request).await?;
            Ok(json!({ "user_id": user_id, "version": version.value, "pos": version.pos }))
        }
        "messages.send" => {
            let request: MessageRequest = parse(payload)?;
            let sent = commands.send(&app, &request.from, request.message).await?;
            Ok(sent.answer())
        }
        "system.send" => {
            let request: SystemRequest = parse(payload)?;
            let delivered = commands.send_system(&app, request.to, request.body).await?;
            Ok(json!({ "delivered_to": delivered.value, "pos": delivered.pos }))
        }
        other => Err(malformed(
            ErrorCode::NotFound,
            format!("unknown command {other:?}: one of {}", COMMANDS.join(", ")),
        )),
    }
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
    commands: Commands,
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
        let outcome = handle(&commands, &message.subject, &message.payload).await;
        let answer = match &outcome {
            Ok(value) => value.clone(),
            Err(failure) => {
                let error = &failure.error;
                tracing::info!(subject = %message.subject, code = ?error.code, message = %error.message, "integrator request refused");
                if failure.malformed || message.reply.is_none() {
                    dead_letter(&js, &message, &error.message).await;
                }
                json!({ "code": error.code, "message": error.message })
            }
        };
        if let Some(reply) = &message.reply
            && let Err(error) = client
                .publish(reply.clone(), answer.to_string().into())
                .await
        {
            tracing::warn!(%error, "could not answer an integrator request");
        }
    }
}
