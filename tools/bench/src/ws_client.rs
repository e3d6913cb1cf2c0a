//! The bench's side of a WebSocket: connections with a small read buffer, said hello to.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bytes tungstenite reads at once. It zero-fills that much of its buffer before every read
/// (128 KiB by default), so with small frames at a high rate the default made `memset` ~19 %
/// of the bench's own CPU, taken from the server it shares the machine with.
const READ_BUFFER: usize = 16 * 1024;

/// A client connection's configuration.
pub(crate) fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// Opens `GET /v1/ws` on the server at `base` (`http://...`) as the token's user and waits
/// until it is synced.
pub(crate) async fn connect(base: &str, token: &str) -> anyhow::Result<Ws> {
    let url = format!("{}/v1/ws?token={token}", base.replacen("http", "ws", 1));
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config()), false).await?;
    hello(&mut ws).await?;
    Ok(ws)
}

/// Says hello (from the beginning) and reads until the server says the connection is synced.
pub(crate) async fn hello<S>(ws: &mut WebSocketStream<S>) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    #[derive(serde::Deserialize)]
    struct Frame<'a> {
        t: &'a str,
    }
    ws.send(Message::Text(r#"{"t":"hello","since":0}"#.into()))
        .await?;
    while let Some(frame) = ws.next().await {
        if let Message::Text(text) = frame?
            && serde_json::from_str::<Frame>(&text)?.t == "synced"
        {
            return Ok(());
        }
    }
    anyhow::bail!("connection closed before synced")
}
