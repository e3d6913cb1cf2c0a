//! A WebSocket client speaking Tidings' JSON (or MessagePack) frames.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long a test waits for one expected frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(15);

/// A connected client.
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    msgpack: bool,
}

/// Why a connection attempt failed: the HTTP status of the refused upgrade.
#[derive(Debug)]
pub struct Refused(pub u16);

impl WsClient {
    /// Connects with `?token=`; `msgpack` selects binary MessagePack frames.
    pub async fn connect(base_http: &str, token: &str, msgpack: bool) -> Result<Self, Refused> {
        let format = if msgpack { "&format=msgpack" } else { "" };
        let url = format!(
            "{}/v1/ws?token={token}{format}",
            base_http.replacen("http", "ws", 1)
        );
        Self::connect_request(url.into_client_request().expect("url"), msgpack).await
    }

    /// Connects with a prepared request (to set headers such as Origin).
    pub async fn connect_request(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
        msgpack: bool,
    ) -> Result<Self, Refused> {
        match connect_async(request).await {
            Ok((ws, _)) => Ok(Self { ws, msgpack }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(Refused(response.status().as_u16()))
            }
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: Value) {
        let message = if self.msgpack {
            Message::Binary(rmp_serde::to_vec_named(&frame).expect("msgpack").into())
        } else {
            Message::Text(frame.to_string().into())
        };
        self.ws.send(message).await.expect("ws send");
    }

    /// Sends raw text, for malformed-input tests.
    pub async fn send_raw(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("ws send");
    }

    /// The next data frame, `None` when the connection closed (with its close code).
    pub async fn next(&mut self) -> Result<Value, Option<u16>> {
        loop {
            let message = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("a frame within the timeout");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(&text).expect("json frame"));
                }
                Some(Ok(Message::Binary(bytes))) => {
                    return Ok(rmp_serde::from_slice(&bytes).expect("msgpack frame"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// The next frame, which must be of type `t`.
    pub async fn expect(&mut self, t: &str) -> Value {
        let frame = self
            .next()
            .await
            .unwrap_or_else(|code| panic!("connection closed ({code:?}) waiting for {t}"));
        assert_eq!(frame["t"], t, "expected a {t} frame, got {frame}");
        frame
    }

    /// Sends `hello{since}` and returns the `welcome`.
    pub async fn hello(&mut self, since: u64) -> Value {
        self.send(json!({ "t": "hello", "since": since })).await;
        self.expect("welcome").await
    }

    /// Reads entries until `synced`; returns the entries.
    pub async fn until_synced(&mut self) -> Vec<Value> {
        let mut entries = Vec::new();
        loop {
            let frame = self.next().await.expect("open connection");
            match frame["t"].as_str() {
                Some("entry") => entries.push(frame),
                Some("synced") => return entries,
                _ => panic!("unexpected frame during catch-up: {frame}"),
            }
        }
    }

    /// Sends a direct text message and returns the `sent` frame.
    pub async fn send_text(
        &mut self,
        id: &str,
        to: &str,
        client_msg_id: &str,
        text: &str,
    ) -> Value {
        self.send(json!({
            "t": "send", "id": id, "to": { "user": to },
            "client_msg_id": client_msg_id, "body": { "type": "text", "text": text }
        }))
        .await;
        self.expect_answer(id).await
    }

    /// Skips entry frames until the answer (`sent` or `error`) with this `id` arrives.
    pub async fn expect_answer(&mut self, id: &str) -> Value {
        loop {
            let frame = self.next().await.expect("open connection");
            if frame["id"] == id {
                return frame;
            }
            assert_eq!(frame["t"], "entry", "unexpected frame: {frame}");
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
