//! The byte stream under one connection: plain TCP, a Unix-domain socket, or TLS over TCP,
//! behind one `AsyncRead + AsyncWrite` type so the negotiation driver and the session need not
//! care which; and where the connection came from.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_openssl::SslStream;

use crate::tls::{PrefixedStream, TlsFacts};

/// Where a connection came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A Unix-domain socket client.
    Local,
}

impl Peer {
    /// The client address, if TCP.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Tcp(a) => Some(a.ip()),
            Self::Local => None,
        }
    }
}

/// One connection's stream.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Tcp(TcpStream),
    /// A Unix-domain socket.
    Unix(UnixStream),
    /// TLS over TCP.
    Tls(Box<SslStream<PrefixedStream<TcpStream>>>),
}

impl Transport {
    /// What the TLS handshake negotiated, if TLS is in use.
    pub fn tls_facts(&self) -> Option<TlsFacts> {
        match self {
            Self::Tls(s) => Some(TlsFacts::of(s.ssl())),
            Self::Tcp(_) | Self::Unix(_) => None,
        }
    }

    /// Closes the connection: a TLS `close_notify` first where TLS is up, as PostgreSQL's
    /// `secure_close` does. Errors are ignored: the peer may already be gone.
    pub async fn close(mut self) {
        let _ = self.shutdown().await;
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
