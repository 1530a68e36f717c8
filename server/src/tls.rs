//! TLS at the edge: building the OpenSSL server context from the settings, in PostgreSQL's
//! load order and with its messages, and running one handshake over a socket whose first
//! bytes may already have been read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use openssl::bn::BigNum;
use openssl::dh::Dh;
use openssl::ssl::{
    AlpnError, ErrorCode, Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslMode,
    SslOptions, SslRef, SslSessionCacheMode,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_openssl::SslStream;

use crate::config::Settings;
use crate::error::{Error, strerror};
use crate::negotiate::TlsFailure;
use crate::profile::Profile;
use crate::wire::ALPN_POSTGRESQL;

/// The ALPN list the server offers: just `postgresql`, length-prefixed.
const ALPN_WIRE: &[u8] = b"\x0apostgresql";

/// Builds the server's TLS context from `settings`, in the order PostgreSQL's `be_tls_init`
/// loads things; the first failure is returned with PostgreSQL's message.
pub fn build_context(settings: &Settings) -> Result<SslContext, Error> {
    let tls_error = |message: String| Error::Tls {
        message,
        detail: None,
    };
    let mut ctx = SslContextBuilder::new(SslMethod::tls_server()).map_err(|e| {
        tls_error(format!(
            "could not create SSL context: {}",
            first_reason(&e)
        ))
    })?;

    // 1. Certificate (with any chain after the leaf).
    let cert = &settings.ssl_cert_file;
    ctx.set_certificate_chain_file(settings.resolve(cert))
        .map_err(|e| {
            tls_error(format!(
                "could not load server certificate file \"{cert}\": {}",
                first_reason(&e)
            ))
        })?;

    // 2. and 3. Key: it must be there before OpenSSL reads it.
    let key = &settings.ssl_key_file;
    let key_path = settings.resolve(key);
    if let Err(e) = std::fs::metadata(&key_path) {
        return Err(tls_error(format!(
            "could not access private key file \"{key}\": {}",
            strerror(&e)
        )));
    }
    ctx.set_private_key_file(&key_path, SslFiletype::PEM)
        .map_err(|e| {
            tls_error(format!(
                "could not load private key file \"{key}\": {}",
                first_reason(&e)
            ))
        })?;

    // 4. Key and certificate belong together.
    ctx.check_private_key()
        .map_err(|e| tls_error(format!("check of private key failed: {}", first_reason(&e))))?;

    // 5. Protocol range.
    ctx.set_min_proto_version(Some(settings.ssl_min_protocol_version.to_openssl()))
        .map_err(|_| tls_error("could not set minimum SSL protocol version".into()))?;
    if let Some(max) = settings.ssl_max_protocol_version {
        ctx.set_max_proto_version(Some(max.to_openssl()))
            .map_err(|_| tls_error("could not set maximum SSL protocol version".into()))?;
        if settings.ssl_min_protocol_version > max {
            return Err(Error::Tls {
                message: "could not set SSL protocol version range".into(),
                detail: Some(
                    "\"ssl_min_protocol_version\" cannot be higher than \"ssl_max_protocol_version\""
                        .into(),
                ),
            });
        }
    }

    // 6. No tickets, no session cache, no compression, no renegotiation.
    ctx.set_options(
        SslOptions::NO_TICKET | SslOptions::NO_COMPRESSION | SslOptions::NO_RENEGOTIATION,
    );
    ctx.set_session_cache_mode(SslSessionCacheMode::OFF);
    ctx.set_mode(SslMode::ACCEPT_MOVING_WRITE_BUFFER);

    // 7. DH (the built-in 2048-bit group; ssl_dh_params_file arrives with postgresql.conf
    // support), then the ECDH groups.
    let dh = BigNum::get_rfc3526_prime_2048()
        .and_then(|p| Dh::from_pqg(p, None, BigNum::from_u32(2)?))
        .map_err(|e| {
            tls_error(format!(
                "DH: could not set DH parameters: {}",
                first_reason(&e)
            ))
        })?;
    ctx.set_tmp_dh(&dh).map_err(|e| {
        tls_error(format!(
            "DH: could not set DH parameters: {}",
            first_reason(&e)
        ))
    })?;
    set_groups(&mut ctx, settings)?;

    // 8. Ciphers for TLS 1.2 and below.
    ctx.set_cipher_list(&settings.ssl_ciphers).map_err(|_| {
        tls_error("could not set the cipher list (no valid ciphers available)".into())
    })?;
    if settings.ssl_prefer_server_ciphers {
        ctx.set_options(SslOptions::CIPHER_SERVER_PREFERENCE);
    }

    if settings.profile.rules().alpn {
        ctx.set_alpn_select_callback(|_, client| {
            openssl::ssl::select_next_proto(ALPN_WIRE, client).ok_or(AlpnError::ALERT_FATAL)
        });
    }
    Ok(ctx.build())
}

fn set_groups(ctx: &mut SslContextBuilder, settings: &Settings) -> Result<(), Error> {
    let groups = &settings.ssl_groups;
    ctx.set_groups_list(groups)
        .map_err(|e| match settings.profile {
            Profile::Pg18 => Error::Tls {
                message: format!(
                    "could not set group names specified in ssl_groups: {}",
                    e.errors()
                        .first()
                        .and_then(|e| e.reason())
                        .unwrap_or("No valid groups found")
                ),
                detail: None,
            },
            Profile::Seed | Profile::Pg15 => Error::Tls {
                message: format!("ECDH: unrecognized curve name: {groups}"),
                detail: None,
            },
        })
}

/// The reason text of the earliest error on the stack, as PostgreSQL's `SSLerrmessage`
/// reports it.
fn first_reason(stack: &openssl::error::ErrorStack) -> String {
    match stack.errors().first() {
        Some(e) => e
            .reason()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("SSL error code {}", e.code())),
        None => "no SSL error reported".into(),
    }
}

/// OpenSSL reasons that earn PostgreSQL's "does not support any SSL protocol version" HINT.
const PROTOCOL_REASONS: &[&str] = &[
    "no protocols available",
    "unsupported protocol",
    "bad protocol version number",
    "unknown protocol",
    "unknown ssl version",
    "unsupported ssl version",
    "wrong ssl version",
    "wrong version number",
    "tlsv1 alert protocol version",
    "version too high",
    "version too low",
];

/// Classifies a failed handshake the way PostgreSQL's `be_tls_open_server` reports it.
pub fn classify_failure(err: &openssl::ssl::Error) -> TlsFailure {
    match err.code() {
        ErrorCode::ZERO_RETURN => TlsFailure::Eof,
        ErrorCode::SYSCALL => match err.io_error() {
            Some(io) if io.kind() != io::ErrorKind::UnexpectedEof => TlsFailure::Io(strerror(io)),
            _ => TlsFailure::Eof,
        },
        ErrorCode::SSL => {
            let reason = err
                .ssl_error()
                .and_then(|stack| stack.errors().first())
                .and_then(|e| e.reason())
                .unwrap_or("no SSL error reported")
                .to_owned();
            let protocol_hint = PROTOCOL_REASONS.contains(&reason.as_str());
            TlsFailure::Refused {
                reason,
                protocol_hint,
            }
        }
        other => TlsFailure::Refused {
            reason: format!("unrecognized SSL error code: {}", other.as_raw()),
            protocol_hint: false,
        },
    }
}

/// What a finished handshake negotiated, as `pg_stat_ssl` and the connection log show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFacts {
    /// `TLSv1.3`...
    pub version: String,
    /// OpenSSL's cipher name, e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// Secret bits of the cipher.
    pub bits: i32,
    /// The ALPN protocol selected.
    pub alpn: Option<Vec<u8>>,
}

impl TlsFacts {
    /// Reads the facts off an established connection.
    pub fn of(ssl: &SslRef) -> Self {
        let (cipher, bits) = ssl.current_cipher().map_or((String::new(), 0), |c| {
            (c.name().to_owned(), c.bits().secret)
        });
        Self {
            version: ssl.version_str().to_owned(),
            cipher,
            bits,
            alpn: ssl.selected_alpn_protocol().map(<[u8]>::to_vec),
        }
    }

    /// ALPN selected `postgresql`.
    pub fn alpn_is_postgresql(&self) -> bool {
        self.alpn.as_deref() == Some(ALPN_POSTGRESQL)
    }
}

/// A stream that yields `prefix` before reading from `inner`: how bytes the server read before
/// TLS started are handed to the TLS library (PostgreSQL 17+'s `raw_buf`).
#[derive(Debug)]
pub struct PrefixedStream<S> {
    prefix: Vec<u8>,
    consumed: usize,
    inner: S,
}

impl<S> PrefixedStream<S> {
    /// Wraps `inner` so that `prefix` is read first.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            consumed: 0,
            inner,
        }
    }

    /// Prefix bytes not read yet.
    pub fn unread_prefix(&self) -> usize {
        self.prefix.len() - self.consumed
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PrefixedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.consumed < this.prefix.len() {
            let rest = &this.prefix[this.consumed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.consumed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PrefixedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A failed handshake: why, and how much of the prefix TLS left unread.
#[derive(Debug)]
pub struct HandshakeError {
    /// Why.
    pub failure: TlsFailure,
    /// Prefix bytes not consumed.
    pub unread_prefix: usize,
}

/// Runs a server handshake over `stream` (prefix first). On success returns the TLS stream;
/// the caller reads `unread_prefix` from `get_ref()` to apply the 17+ leftover check.
pub async fn accept<S>(
    ctx: &SslContext,
    stream: PrefixedStream<S>,
) -> Result<SslStream<PrefixedStream<S>>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let setup_failure = |e: openssl::error::ErrorStack| HandshakeError {
        failure: TlsFailure::Refused {
            reason: first_reason(&e),
            protocol_hint: false,
        },
        unread_prefix: 0,
    };
    let ssl = Ssl::new(ctx).map_err(setup_failure)?;
    let mut tls = SslStream::new(ssl, stream).map_err(setup_failure)?;
    match Pin::new(&mut tls).accept().await {
        Ok(()) => Ok(tls),
        Err(e) => Err(HandshakeError {
            failure: classify_failure(&e),
            unread_prefix: tls.get_ref().unread_prefix(),
        }),
    }
}
