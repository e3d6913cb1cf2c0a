//! The WebSocket adapter: authenticate before the upgrade, upgrade, then bridge the socket to
//! the library-independent session. The upgrade is done here rather than by axum's extractor so
//! that a refused handshake answers the protocol's error shape, and so that the closing
//! connection can linger (below).

use crate::GatewayState;
use crate::auth::origin_allowed;
use crate::frames::{Encoded, Format};
use crate::query::ApiQuery;
use crate::session::{self, Incoming, Outgoing};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::time::Duration;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_runtime::metrics as metrics_names;
use tidings_store::ReadModels;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Initial read buffer of a connection.
const READ_BUFFER: usize = 1024;
/// Frames a session emits are gathered up to this many bytes and written when it flushes (after
/// each answer, and after each burst of pushes): one `send(2)` per burst instead of one per
/// frame. The buffer grows only as far as a burst needs, so an idle connection keeps little.
const WRITE_BUFFER: usize = 4096;
/// Longest a closed connection waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes read and discarded while lingering.
const LINGER_BYTES: usize = 1024 * 1024;

type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Query parameters of `GET /v1/ws`.
#[derive(Debug, Deserialize)]
pub struct WsParams {
    token: Option<String>,
    format: Option<String>,
}

/// A refused upgrade, counted by its code.
fn refuse(error: ApiError) -> Response {
    metrics::counter!(metrics_names::HANDSHAKES, "outcome" => error.code.as_str()).increment(1);
    error.into_response()
}

/// `GET /v1/ws`: checks Origin, token and format, then the handshake, then upgrades.
pub async fn upgrade<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    ApiQuery(params): ApiQuery<WsParams>,
    mut request: Request,
) -> Response {
    let on_upgrade = request.extensions_mut().remove::<OnUpgrade>();
    let headers = request.headers();
    if !origin_allowed(&state.config.allowed_origins, headers) {
        return refuse(ApiError::new(ErrorCode::Forbidden, "origin not allowed"));
    }
    let principal = match state.me(headers, params.token.as_deref()).await {
        Ok(p) => p,
        Err(e) => return refuse(e),
    };
    let format = match params.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("msgpack") => Format::MessagePack,
        Some(other) => {
            return refuse(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("unknown format {other:?}: use json or msgpack"),
            ));
        }
    };
    let accept = match accept_key(headers) {
        Ok(accept) => accept,
        Err(e) => return refuse(e),
    };
    let Some(on_upgrade) = on_upgrade else {
        return refuse(ApiError::new(
            ErrorCode::InvalidRequest,
            "this connection cannot be upgraded (HTTP/1.1 required)",
        ));
    };
    let max = state.config.max_frame_bytes;
    // Small buffers: an idle connection should cost kilobytes, not the library's 128 KiB
    // defaults. Frames are read into a growing buffer anyway, and sessions flush themselves.
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER);
    metrics::counter!(metrics_names::HANDSHAKES, "outcome" => "accepted").increment(1);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "websocket upgrade failed");
                return;
            }
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        serve(state, principal, format, socket).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "websocket")
        .header(SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .expect("valid response")
}

/// The `Sec-WebSocket-Accept` answering a valid RFC 6455 handshake.
fn accept_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let refuse = |what: &str| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("not a WebSocket handshake: {what}"),
        )
    };
    let has_token = |name, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(CONNECTION, "upgrade") {
        return Err(refuse("Connection must include upgrade"));
    }
    if !has_token(UPGRADE, "websocket") {
        return Err(refuse("Upgrade must be websocket"));
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err(refuse("Sec-WebSocket-Version must be 13"));
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .ok_or_else(|| refuse("Sec-WebSocket-Key is missing"))?;
    Ok(derive_accept_key(key.as_bytes()))
}

fn incoming(message: Result<Message, WsError>) -> Incoming {
    match message {
        Ok(Message::Text(text)) => Incoming::Text(text.as_str().to_owned()),
        Ok(Message::Binary(bytes)) => Incoming::Binary(bytes.to_vec()),
        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Incoming::Control,
        Ok(Message::Close(_)) => Incoming::Closed,
        Err(WsError::Capacity(_)) => Incoming::TooLarge,
        Err(_) => Incoming::Closed,
    }
}

fn outgoing(out: Outgoing) -> Message {
    match out {
        Outgoing::Frame(Encoded::Text(text)) => Message::Text(text.into()),
        Outgoing::Frame(Encoded::Binary(bytes)) => Message::Binary(bytes.into()),
        Outgoing::Close { code, reason } => Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })),
    }
}

async fn serve<S: ReadModels>(
    state: GatewayState<S>,
    principal: tidings_api::tokens::Principal,
    format: Format,
    socket: Socket,
) {
    let (mut sink, stream) = socket.split();
    let mut stream = stream.map(incoming as fn(_) -> _);
    let mut out =
        Box::pin((&mut sink).with(|out: Outgoing| async move { Ok::<_, WsError>(outgoing(out)) }));
    // Boxed too: admitting asks NATS, a future that need not outlive the handshake.
    let admitted = Box::pin(session::admit(&state.shared, &principal)).await;
    match admitted {
        Ok(registration) => {
            session::run(
                state.shared.clone(),
                principal,
                registration,
                format,
                &mut stream,
                out,
            )
            .await;
        }
        Err(close) => {
            let _ = out.send(close).await;
        }
    }
    // Lingering needs only the socket: the store and the rest are released now, so a server
    // that stops does not wait for its clients' sockets.
    drop(state);
    if let Ok(socket) = sink.reunite(stream.into_inner()) {
        // Boxed: its read buffer would otherwise be part of every connection's task for the
        // connection's whole life (4 KiB of an idle connection's ~20, docs/benchmarks.md).
        Box::pin(linger(socket)).await;
    }
}

/// Ends a connection the way RFC 6455 (7.1.1) and HTTP servers' lingering close do: finish
/// the close handshake, shut our side, then read and discard what the client still sends until
/// it closes its side (bounded in time and bytes). Dropping a socket with unread input resets
/// it, and a reset can destroy the close frame (say 1009 after an oversize frame) before the
/// client has read it.
async fn linger(mut socket: Socket) {
    let _ = tokio::time::timeout(LINGER, async {
        let _ = socket.close(None).await;
        let io = socket.get_mut();
        let _ = io.shutdown().await;
        let mut buf = [0u8; 4096];
        let mut read = 0;
        while read < LINGER_BYTES {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}
