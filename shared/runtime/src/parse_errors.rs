//! hyper answers a request head it cannot parse (`400`, `414`, `431`) by itself, before any
//! router sees it, with an empty body; it offers no hook. `JsonParseErrors` wraps a
//! connection's IO and gives exactly those answers the protocol's `{"code","message"}` body:
//! a write that is a complete response head of one of those statuses with `content-length: 0`
//! and no `content-type` (every answer the routers write has one) is replaced by the same head
//! with a JSON body. Everything else passes through untouched, upgraded WebSockets included.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's IO whose parse-error answers carry a JSON body.
pub struct JsonParseErrors<T> {
    inner: T,
    /// A rewritten answer and how much of it is written: hyper was told the original was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> JsonParseErrors<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The code and message for a status hyper answers by itself.
fn error_for(status: &[u8]) -> Option<(&'static str, &'static str)> {
    match status {
        b"400" => Some((
            "invalid_request",
            "the request line or headers could not be parsed",
        )),
        b"414" => Some(("too_large", "the request target is too long")),
        b"431" => Some(("too_large", "the request headers are too large or too many")),
        _ => None,
    }
}

/// `head` with a JSON error body, when it is one of hyper's own parse-error answers.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let (code, message) = error_for(status)?;
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    let empty = lines
        .iter()
        .any(|l| l.eq_ignore_ascii_case("content-length: 0"));
    let typed = lines
        .iter()
        .any(|l| l.to_ascii_lowercase().starts_with("content-type:"));
    if !empty || typed || text.matches("\r\n\r\n").count() != 1 {
        return None;
    }
    let body = format!(r#"{{"code":"{code}","message":"{message}"}}"#);
    let mut out = String::with_capacity(head.len() + body.len() + 64);
    out.push_str(lines[0]);
    out.push_str("\r\ncontent-type: application/json");
    for line in &lines[1..] {
        if line.eq_ignore_ascii_case("content-length: 0") {
            out.push_str(&format!("\r\ncontent-length: {}", body.len()));
        } else {
            out.push_str("\r\n");
            out.push_str(line);
        }
    }
    out.push_str("\r\n\r\n");
    out.push_str(&body);
    tracing::info!(code, status = %String::from_utf8_lossy(status), "unparsable request head");
    Some(out.into_bytes())
}

impl<T: AsyncWrite + Unpin> JsonParseErrors<T> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            if *written == bytes.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` as written if it is a parse-error answer, queuing its rewrite.
    fn poll_intercept(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Option<Poll<std::io::Result<usize>>> {
        let rewritten = rewrite(buf)?;
        self.pending = Some((rewritten, 0));
        // Written or not yet, it is ours to finish: flush and shutdown drain it.
        Some(match self.poll_pending(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(buf.len())),
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonParseErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(done) = self.poll_intercept(cx, buf) {
            return done;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // hyper's head is the first slice; a parse-error answer has nothing after it.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(done) = self.poll_intercept(cx, only)
        {
            return done;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "date: Tue, 01 Dec 2026 16:00:00 GMT";

    #[test]
    fn hypers_parse_error_answers_get_a_json_body() {
        for (status, code) in [
            ("400 Bad Request", "invalid_request"),
            ("414 URI Too Long", "too_large"),
            ("431 Request Header Fields Too Large", "too_large"),
        ] {
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n{DATE}\r\n\r\n");
            let out = String::from_utf8(rewrite(head.as_bytes()).unwrap()).unwrap();
            let (head, body) = out.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{out}");
            assert!(head.contains("content-type: application/json"), "{out}");
            assert!(head.contains(DATE), "{out}");
            assert!(
                head.contains(&format!("content-length: {}", body.len())),
                "{out}"
            );
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["code"], code);
            assert!(body["message"].is_string());
        }
    }

    #[test]
    fn every_other_write_passes_untouched() {
        for other in [
            // The routers' answers carry a type (and a body).
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"
            ),
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n{DATE}\r\n\r\nhello"),
            format!("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"),
            format!("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"),
            // Half a head, and WebSocket bytes.
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n".to_owned(),
            "\u{1}HTTP/1.1 400".to_owned(),
        ] {
            assert!(rewrite(other.as_bytes()).is_none(), "{other:?}");
        }
    }

    #[tokio::test]
    async fn a_rewritten_answer_is_written_whole_through_small_writes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A pipe that takes 7 bytes at a time.
        let (client, server) = tokio::io::duplex(7);
        let mut io = JsonParseErrors::new(server);
        let head = format!(
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n{DATE}\r\n\r\n"
        );
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.unwrap();
            String::from_utf8(all).unwrap()
        });
        io.write_all(head.as_bytes()).await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        let received = reader.await.unwrap();
        assert!(
            received.ends_with(
                r#""code":"too_large","message":"the request headers are too large or too many"}"#
            ),
            "{received}"
        );
    }
}
