//! The WebSocket transport, over a TCP stream that counts every byte in and
//! out (HTTP upgrade, WebSocket framing and TLS included).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};

/// Bytes moved by the transport since the client was opened.
#[derive(Debug, Default)]
pub struct TransportStats {
    sent: AtomicU64,
    received: AtomicU64,
    connections: AtomicU64,
}

/// A snapshot of [`TransportStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransportCounters {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connections: u64,
}

impl TransportCounters {
    /// Bytes in both directions.
    pub fn total(&self) -> u64 {
        self.bytes_sent + self.bytes_received
    }
}

impl TransportStats {
    pub fn snapshot(&self) -> TransportCounters {
        TransportCounters {
            bytes_sent: self.sent.load(Ordering::Relaxed),
            bytes_received: self.received.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

/// A TCP stream that adds what it reads and writes to [`TransportStats`].
pub struct CountingStream {
    inner: TcpStream,
    stats: Arc<TransportStats>,
}

impl AsyncRead for CountingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.stats.received.fetch_add(n as u64, Ordering::Relaxed);
        res
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &res {
            self.stats.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An open sync WebSocket.
pub type SyncSocket = WebSocketStream<MaybeTlsStream<CountingStream>>;

/// The sync endpoint for a server base URL (`http(s)://host[:port]`).
pub fn sync_url(server_url: &str) -> Result<String> {
    let base = server_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        return Err(Error::InvalidInput(format!(
            "server URL must start with http:// or https://: {server_url:?}"
        )));
    };
    Ok(format!("{ws}/api/v1/sync"))
}

/// Opens the sync WebSocket.
pub async fn connect(
    server_url: &str,
    stats: Arc<TransportStats>,
    max_frame: usize,
) -> Result<SyncSocket> {
    let url = sync_url(server_url)?;
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| Error::InvalidInput(format!("bad server URL: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| Error::InvalidInput("server URL has no host".into()))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| Error::Offline(format!("cannot reach {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let stream = CountingStream { inner: tcp, stats };
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame));
    let (socket, _resp) =
        tokio_tungstenite::client_async_tls_with_config(url.as_str(), stream, Some(config), None)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(resp) => Error::Protocol(format!(
                    "server refused the sync upgrade: HTTP {}",
                    resp.status()
                )),
                other => Error::Offline(format!("sync handshake failed: {other}")),
            })?;
    Ok(socket)
}
