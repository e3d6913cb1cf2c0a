//! `tidings chat`: a minimal interactive WebSocket client, for trying Tidings by hand.
//! Lines typed as `@user text` are sent; every frame received is printed as one JSON line.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Connects with `token`, says hello from `since`, then relays stdin and prints frames.
pub async fn chat(url: &str, token: &str, since: u64) -> anyhow::Result<()> {
    let ws_url = format!("{}/v1/ws?token={token}", url.replacen("http", "ws", 1));
    let (ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {ws_url}: {e}"))?;
    let (mut write, mut read) = ws.split();
    let hello = serde_json::json!({"t": "hello", "since": since});
    write.send(Message::Text(hello.to_string().into())).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut n = 0u64;
    loop {
        tokio::select! {
            frame = read.next() => match frame {
                Some(Ok(Message::Text(text))) => println!("{text}"),
                Some(Ok(Message::Close(frame))) => {
                    println!("closed: {frame:?}");
                    return Ok(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => anyhow::bail!("connection failed: {e}"),
                None => return Ok(()),
            },
            line = lines.next_line() => {
                let Some(line) = line? else { return Ok(()) };
                let Some((to, text)) = line.trim().strip_prefix('@').and_then(|l| l.split_once(' ')) else {
                    eprintln!("type: @user text");
                    continue;
                };
                n += 1;
                let frame = serde_json::json!({
                    "t": "send", "id": n.to_string(), "to": {"user": to},
                    "client_msg_id": format!("chat-{}-{n}", std::process::id()),
                    "body": {"type": "text", "text": text},
                });
                write.send(Message::Text(frame.to_string().into())).await?;
            }
        }
    }
}
