//! One TLS handshake as the probe makes it: a client context at security level 0 with the
//! offer under test (one protocol version, a cipher list, ALPN, resumption), reached through
//! an SSLRequest or as direct SSL, recording what the server sent. A failed handshake is an
//! observation, summed up by the harness client's own classification
//! ([`crate::client::tls::classify`]); a client that cannot be set up is an error.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Instant;

use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslMethod, SslOptions, SslSession, SslSessionCacheMode,
    SslStream, SslVerifyMode,
};
use pgssl_server::wire::StartupPacket;

use super::conn::{self, IO_TIMEOUT, Reply};
use super::ffi::{self, Log};
use super::suites::Version;
use crate::error::Error;

/// How the connection reaches TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// An SSLRequest answered `S`.
    SslRequest,
    /// The ClientHello first (PostgreSQL 17+).
    Direct,
}

/// What the client offers.
#[derive(Clone, Debug, Default)]
pub struct Offer {
    /// The one version offered; `None`: every version the probe's OpenSSL has.
    pub version: Option<Version>,
    /// The TLS 1.2-and-older suites (OpenSSL syntax); `None`: every one it has.
    pub ciphers: Option<String>,
    /// The TLS 1.3 suites; `None`: OpenSSL's default three.
    pub suites13: Option<String>,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<&'static str>,
    /// Keep sessions for resumption.
    pub resumable: bool,
}

/// Every suite the linked OpenSSL has, at security level 0.
pub const EVERY_SUITE: &str = "ALL:COMPLEMENTOFALL:@SECLEVEL=0";

/// The client context for `offer`: no verification (the certificate is judged apart), security
/// level 0, legacy servers allowed, the message callback installed.
pub fn context(offer: &Offer) -> Result<SslContext, Error> {
    let mut b = SslContext::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    b.set_security_level(0);
    // OpenSSL 3 refuses servers without RFC 5746 unless told otherwise; the probe reports
    // that instead of failing on it.
    b.set_options(SslOptions::from_bits_retain(
        openssl_sys::SSL_OP_LEGACY_SERVER_CONNECT as _,
    ));
    let v = offer.version.map(Version::ssl_version);
    b.set_min_proto_version(v.or(Some(openssl::ssl::SslVersion::TLS1)))?;
    b.set_max_proto_version(v)?;
    b.set_cipher_list(offer.ciphers.as_deref().unwrap_or(EVERY_SUITE))?;
    if let Some(s) = &offer.suites13 {
        b.set_ciphersuites(s)?;
    }
    if !offer.alpn.is_empty() {
        b.set_alpn_protos(&alpn_wire(&offer.alpn))?;
    }
    b.set_session_cache_mode(if offer.resumable {
        SslSessionCacheMode::CLIENT
    } else {
        SslSessionCacheMode::OFF
    });
    ffi::install(&mut b);
    Ok(b.build())
}

/// ALPN's wire form: each protocol prefixed with its length.
pub fn alpn_wire(protocols: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in protocols {
        out.push(p.len().min(255) as u8);
        out.extend_from_slice(&p.as_bytes()[..p.len().min(255)]);
    }
    out
}

/// A connection with TLS up.
pub struct Up {
    /// The TLS stream.
    pub stream: SslStream<TcpStream>,
    /// What the server sent during the handshake (and later reads).
    pub seen: Log,
}

impl Up {
    /// The protocol version negotiated.
    pub fn version(&self) -> &'static str {
        self.stream.ssl().version_str()
    }
}

/// How a connection attempt ended.
pub enum Outcome {
    /// TLS is up.
    Up(Box<Up>),
    /// The server did not let it get there: what it did instead (`SSLRequest answered N`,
    /// `alert handshake_failure`, `closed`, …).
    Refused(String),
}

/// Connects to `addr`, opens as `opening`, and runs the handshake with `ctx`; `name` is the
/// server name (sent as SNI unless it is an IP address), `session` one to resume.
pub fn connect(
    addr: SocketAddr,
    opening: Opening,
    ctx: &SslContext,
    name: &str,
    session: Option<&SslSession>,
) -> Result<Outcome, Error> {
    let mut stream = match conn::connect(addr) {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Refused(format!("connect failed: {e}"))),
    };
    if opening == Opening::SslRequest {
        match conn::request(&mut stream, &StartupPacket::ssl_request().to_bytes()) {
            Reply::Byte(b'S') => {}
            other => {
                return Ok(Outcome::Refused(format!(
                    "SSLRequest answered {}",
                    other.text()
                )));
            }
        }
    }
    over(stream, ctx, name, session)
}

/// The handshake over an already open connection (after `S`, or for direct SSL).
pub fn over(
    stream: TcpStream,
    ctx: &SslContext,
    name: &str,
    session: Option<&SslSession>,
) -> Result<Outcome, Error> {
    let mut ssl = Ssl::new(ctx)?;
    if name.parse::<IpAddr>().is_err() {
        ssl.set_hostname(name)?;
    }
    if let Some(session) = session {
        // SAFETY: the session comes from an earlier connection made with this context.
        unsafe { ssl.set_session(session)? };
    }
    let seen = ffi::attach(&mut ssl);
    let deadline = Instant::now() + IO_TIMEOUT;
    match ssl.connect(stream) {
        Ok(stream) => Ok(Outcome::Up(Box::new(Up { stream, seen }))),
        Err(HandshakeError::Failure(mid)) => Ok(Outcome::Refused(crate::client::tls::classify(
            mid.error(),
            deadline,
        ))),
        Err(HandshakeError::WouldBlock(_)) => Ok(Outcome::Refused("timeout".into())),
        Err(HandshakeError::SetupFailure(e)) => Err(e.into()),
    }
}

/// The alerts the log recorded, as `level/description` numbers (empty when none).
pub fn alerts(seen: &Log) -> Vec<(u8, u8)> {
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .alerts
        .clone()
}

/// A copy of what the log recorded.
pub fn snapshot(seen: &Log) -> ffi::Seen {
    seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_protocols_are_length_prefixed() {
        assert_eq!(
            alpn_wire(&["postgresql", "h2"]),
            b"\x0apostgresql\x02h2".to_vec()
        );
        assert!(alpn_wire(&[]).is_empty());
    }

    #[test]
    fn every_offer_builds_a_client_context() {
        for v in [None, Some(Version::Tls1), Some(Version::Tls1_3)] {
            let offer = Offer {
                version: v,
                alpn: vec!["postgresql"],
                resumable: true,
                ..Offer::default()
            };
            assert!(context(&offer).is_ok(), "{v:?}");
        }
        let bad = Offer {
            ciphers: Some("NO-SUCH-SUITE".into()),
            ..Offer::default()
        };
        assert!(context(&bad).is_err());
    }
}
