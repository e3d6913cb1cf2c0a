//! The axum WebSocket adapter: authenticate before the upgrade, then bridge axum's socket to
//! the library-independent session.

use crate::GatewayState;
use crate::auth::origin_allowed;
use crate::frames::{Encoded, Format};
use crate::query::ApiQuery;
use crate::session::{self, Incoming, Outgoing};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_store::ReadModels;

/// Initial read buffer of a connection.
const READ_BUFFER: usize = 1024;

/// Query parameters of `GET /v1/ws`.
#[derive(Debug, Deserialize)]
pub struct WsParams {
    token: Option<String>,
    format: Option<String>,
}

/// `GET /v1/ws`: checks Origin and token, then upgrades.
pub async fn upgrade<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<WsParams>,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state.config.allowed_origins, &headers) {
        return ApiError::new(ErrorCode::Forbidden, "origin not allowed").into_response();
    }
    let principal = match state.me(&headers, params.token.as_deref()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let format = match params.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("msgpack") => Format::MessagePack,
        Some(other) => {
            return ApiError::new(
                ErrorCode::InvalidRequest,
                format!("unknown format {other:?}: use json or msgpack"),
            )
            .into_response();
        }
    };
    let max = state.config.max_frame_bytes;
    // Small buffers: an idle connection should cost kilobytes, not the library's 128 KiB
    // defaults. Frames are read into a growing buffer anyway, and sessions flush themselves.
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve(state, principal, format, socket))
}

fn incoming(message: Result<Message, axum::Error>) -> Incoming {
    match message {
        Ok(Message::Text(text)) => Incoming::Text(text.as_str().to_owned()),
        Ok(Message::Binary(bytes)) => Incoming::Binary(bytes.to_vec()),
        Ok(Message::Ping(_) | Message::Pong(_)) => Incoming::Control,
        Ok(Message::Close(_)) => Incoming::Closed,
        Err(e) => {
            let text = e.to_string();
            if text.contains("Space limit exceeded") || text.contains("too long") {
                Incoming::TooLarge
            } else {
                Incoming::Closed
            }
        }
    }
}

fn outgoing(out: Outgoing) -> Message {
    match out {
        Outgoing::Frame(Encoded::Text(text)) => Message::Text(text.into()),
        Outgoing::Frame(Encoded::Binary(bytes)) => Message::Binary(bytes.into()),
        Outgoing::Close { code, reason } => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    }
}

async fn serve<S: ReadModels>(
    state: GatewayState<S>,
    principal: tidings_api::tokens::Principal,
    format: Format,
    socket: WebSocket,
) {
    let (sink, stream) = socket.split();
    let sink = sink.with(|out: Outgoing| async move { Ok::<_, axum::Error>(outgoing(out)) });
    let stream = stream.map(incoming);
    session::run(
        state.shared.clone(),
        principal,
        format,
        Box::pin(stream),
        Box::pin(sink),
    )
    .await;
}
