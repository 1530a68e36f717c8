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
    SslOptions, SslRef, SslSessionCacheMode, SslVerifyMode,
};
use openssl::x509::X509Name;
use openssl::x509::store::X509Lookup;
use openssl::x509::verify::X509VerifyFlags;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_openssl::SslStream;

use crate::config::Settings;
use crate::error::{Error, strerror};
use crate::files::{self, LoadMode, first_reason};
use crate::log::LogRecord;
use crate::negotiate::TlsFailure;
use crate::profile::GroupsError;
use crate::wire::ALPN_POSTGRESQL;

/// The ALPN list the server offers: just `postgresql`, length-prefixed.
const ALPN_WIRE: &[u8] = b"\x0apostgresql";

/// Initialises OpenSSL as PostgreSQL does (`OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG)`), so
/// the configuration named by `OPENSSL_CONF` applies to every context built afterwards. Call
/// it before anything else touches OpenSSL; later calls do nothing.
pub fn init_openssl() {
    crate::openssl_ffi::init_ssl_load_config();
    openssl::init();
}

/// Builds the server's TLS context from `settings`, in the order PostgreSQL's `be_tls_init`
/// loads things; the first failure is returned with PostgreSQL's message. At
/// [`LoadMode::Start`] OpenSSL may prompt for the key's passphrase on the terminal. Problems
/// that are not fatal (the seed profile's implicit `root.crt`/`root.crl` that do not load) are
/// pushed to `notes` as LOG records.
pub fn build_context(
    settings: &Settings,
    mode: LoadMode,
    notes: &mut Vec<LogRecord>,
) -> Result<SslContext, Error> {
    let behaviour = settings.profile.behaviour();
    let mut ctx = SslContextBuilder::new(SslMethod::tls_server()).map_err(|e| {
        Error::tls(format!(
            "could not create SSL context: {}",
            first_reason(&e)
        ))
    })?;
    ctx.set_mode(SslMode::ACCEPT_MOVING_WRITE_BUFFER | SslMode::RELEASE_BUFFERS);

    // 1. Certificate (with any chain after the leaf).
    let cert = &settings.ssl_cert_file;
    ctx.set_certificate_chain_file(settings.resolve(cert))
        .map_err(|e| {
            Error::tls(format!(
                "could not load server certificate file \"{cert}\": {}",
                first_reason(&e)
            ))
        })?;

    // 2. Key-file permissions (A4), 3. the key itself (A5 passphrases).
    files::check_key_permissions(settings)?;
    let key = files::load_private_key(settings, mode)?;
    ctx.set_private_key(&key).map_err(|e| {
        Error::tls(format!(
            "could not load private key file \"{}\": {}",
            settings.ssl_key_file,
            first_reason(&e)
        ))
    })?;

    // 4. Key and certificate belong together.
    ctx.check_private_key()
        .map_err(|e| Error::tls(format!("check of private key failed: {}", first_reason(&e))))?;

    // 5. Protocol range.
    ctx.set_min_proto_version(Some(settings.ssl_min_protocol_version.to_openssl()))
        .map_err(|_| Error::tls("could not set minimum SSL protocol version"))?;
    if let Some(max) = settings.ssl_max_protocol_version {
        ctx.set_max_proto_version(Some(max.to_openssl()))
            .map_err(|_| Error::tls("could not set maximum SSL protocol version"))?;
        if settings.ssl_min_protocol_version > max {
            return Err(Error::Tls {
                message: "could not set SSL protocol version range".into(),
                detail: Some(
                    "\"ssl_min_protocol_version\" cannot be higher than \"ssl_max_protocol_version\""
                        .into(),
                ),
                hint: None,
            });
        }
    }

    // 6. No tickets, no session cache, no compression, no renegotiation (A11). NO_TICKET
    // only stops stateless tickets; TLS 1.3's stateful ones need num_tickets = 0 (PostgreSQL
    // has done both since its 2024 minor releases).
    ctx.set_num_tickets(0).map_err(|e| {
        Error::tls(format!(
            "could not disable session tickets: {}",
            first_reason(&e)
        ))
    })?;
    ctx.set_options(
        SslOptions::NO_TICKET | SslOptions::NO_COMPRESSION | SslOptions::NO_RENEGOTIATION,
    );
    ctx.set_session_cache_mode(SslSessionCacheMode::OFF);

    // 7. DH (ssl_dh_params_file, else the built-in 2048-bit group), then the ECDH groups.
    let dh = match files::dh_params(settings)? {
        Some(dh) => dh,
        None => BigNum::get_rfc3526_prime_2048()
            .and_then(|p| Dh::from_pqg(p, None, BigNum::from_u32(2)?))
            .map_err(|_| Error::tls("DH: could not load DH parameters"))?,
    };
    ctx.set_tmp_dh(&dh).map_err(|e| {
        Error::tls(format!(
            "DH: could not set DH parameters: {}",
            first_reason(&e)
        ))
    })?;
    set_groups(&mut ctx, settings)?;

    // 8. Ciphers for TLS 1.2 and below; 18's TLS 1.3 suites. pgssl never changes the
    // security level: `@SECLEVEL=` in ssl_ciphers or OPENSSL_CONF does.
    ctx.set_cipher_list(&settings.ssl_ciphers)
        .map_err(|_| Error::tls(behaviour.cipher_list_error))?;
    if !settings.ssl_tls13_ciphers.is_empty() {
        ctx.set_ciphersuites(&settings.ssl_tls13_ciphers)
            .map_err(|_| {
                Error::tls("could not set the TLSv1.3 cipher suites (no valid ciphers available)")
            })?;
    }
    if settings.ssl_prefer_server_ciphers {
        ctx.set_options(SslOptions::CIPHER_SERVER_PREFERENCE);
    }

    // 9. CA file: request (not require) client certificates and advertise the CA names.
    // Before 9.2 the implicit root.crt was optional: one that does not load is logged and
    // client certificates are not requested (nor the implicit root.crl read).
    let mut ca_loaded = false;
    if let Some(ca) = files::ca_file(settings) {
        let root_error = |e: &openssl::error::ErrorStack| {
            format!(
                "could not load root certificate file \"{}\": {}",
                ca.name,
                first_reason(e)
            )
        };
        let loaded = ctx
            .set_ca_file(&ca.path)
            .map_err(|e| root_error(&e))
            .and_then(|()| X509Name::load_client_ca_file(&ca.path).map_err(|e| root_error(&e)));
        match loaded {
            Ok(names) => {
                ctx.set_client_ca_list(names);
                ctx.set_verify(SslVerifyMode::PEER | SslVerifyMode::CLIENT_ONCE);
                ca_loaded = true;
            }
            Err(message) if ca.implicit => notes
                .push(LogRecord::log(message).with_detail("Will not verify client certificates.")),
            Err(message) => return Err(Error::tls(message)),
        }
    }

    // 10. CRL file and directory (the directory is read lazily by OpenSSL).
    load_crls(&mut ctx, settings, ca_loaded, notes)?;

    if behaviour.alpn {
        ctx.set_alpn_select_callback(|_, client| {
            openssl::ssl::select_next_proto(ALPN_WIRE, client).ok_or(AlpnError::ALERT_FATAL)
        });
    }
    Ok(ctx.build())
}

/// `X509_STORE_load_locations(store, crl_file, crl_dir)` and the CRL_CHECK flags.
fn load_crls(
    ctx: &mut SslContextBuilder,
    settings: &Settings,
    ca_loaded: bool,
    notes: &mut Vec<LogRecord>,
) -> Result<(), Error> {
    // The implicit root.crl was only read into a root.crt store that loaded.
    let file = files::crl_file(settings).filter(|f| !f.implicit || ca_loaded);
    let dir = (!settings.ssl_crl_dir.is_empty()).then(|| {
        (
            settings.ssl_crl_dir.clone(),
            settings.resolve(&settings.ssl_crl_dir),
        )
    });
    if file.is_none() && dir.is_none() {
        return Ok(());
    }
    let store = ctx.cert_store_mut();
    let mut result: Result<(), openssl::error::ErrorStack> = Ok(());
    if let Some(file) = &file {
        result = store
            .add_lookup(X509Lookup::file())
            .and_then(|l| l.load_crl_file(&file.path, SslFiletype::PEM).map(|_| ()));
    }
    if let (Ok(()), Some((_, path))) = (&result, &dir) {
        result = store
            .add_lookup(X509Lookup::hash_dir())
            .and_then(|l| l.add_dir(&path.to_string_lossy(), SslFiletype::PEM));
    }
    match result {
        Ok(()) => store
            .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
            .map_err(|e| Error::tls(first_reason(&e))),
        Err(e) if file.as_ref().is_some_and(|f| f.implicit) && dir.is_none() => {
            let name = file.map(|f| f.name).unwrap_or_default();
            notes.push(
                LogRecord::log(format!(
                    "SSL certificate revocation list file \"{name}\" not found, skipping: {}",
                    first_reason(&e)
                ))
                .with_detail("Certificates will not be checked against revocation list."),
            );
            Ok(())
        }
        Err(e) => {
            let reason = first_reason(&e);
            Err(Error::tls(match (file, dir) {
                (Some(f), None) => format!(
                    "could not load SSL certificate revocation list file \"{}\": {reason}",
                    f.name
                ),
                (None, Some((d, _))) => format!(
                    "could not load SSL certificate revocation list directory \"{d}\": {reason}"
                ),
                (Some(f), Some((d, _))) => format!(
                    "could not load SSL certificate revocation list file \"{}\" or directory \"{d}\": {reason}",
                    f.name
                ),
                (None, None) => reason,
            }))
        }
    }
}

fn set_groups(ctx: &mut SslContextBuilder, settings: &Settings) -> Result<(), Error> {
    let groups = &settings.ssl_groups;
    match settings.profile.behaviour().groups_error {
        GroupsError::UnrecognizedCurve => {
            // 15's initialize_ecdh: one short name (OBJ_sn2nid), which must then make an EC
            // key (EC_KEY_new_by_curve_name): X25519 is known to OpenSSL but is not an EC
            // curve, so it fails there.
            let unrecognized = || Error::tls(format!("ECDH: unrecognized curve name: {groups}"));
            let name = std::ffi::CString::new(groups.as_bytes()).map_err(|_| unrecognized())?;
            let nid = crate::openssl_ffi::sn2nid(&name).ok_or_else(unrecognized)?;
            let no_key = || Error::tls("ECDH: could not create key");
            openssl::ec::EcGroup::from_curve_name(nid).map_err(|_| no_key())?;
            ctx.set_groups_list(groups).map_err(|_| no_key())?;
        }
        GroupsError::GroupsList => {
            ctx.set_groups_list(groups).map_err(|e| Error::Tls {
                message: format!(
                    "could not set group names specified in ssl_groups: {}",
                    e.errors()
                        .first()
                        .and_then(|e| e.reason())
                        .unwrap_or("No valid groups found")
                ),
                detail: None,
                hint: Some(
                    "Ensure that each group name is spelled correctly and supported by the installed version of OpenSSL."
                        .into(),
                ),
            })?;
        }
    }
    Ok(())
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
///
/// It also reads ahead for OpenSSL, which reads a record as two exact reads (the 5-byte
/// header, then the body): once the prefix is used up, a short read fills a buffer of
/// [`READ_AHEAD`] bytes from `inner` and serves OpenSSL from it, a third of the receive
/// calls of a TLS 1.3 connection. The prefix is never read ahead of: `inner` is read only
/// after the last prefix byte is taken, so `unread_prefix` keeps its meaning.
#[derive(Debug)]
pub struct PrefixedStream<S> {
    prefix: Vec<u8>,
    consumed: usize,
    inner: S,
    /// Bytes read from `inner` ahead of the TLS library (unallocated while waiting for more).
    ahead: Vec<u8>,
    ahead_pos: usize,
}

/// How much a short read asks `inner` for: a client's handshake flight or a few records.
pub const READ_AHEAD: usize = 4096;

impl<S> PrefixedStream<S> {
    /// Wraps `inner` so that `prefix` is read first.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            consumed: 0,
            inner,
            ahead: Vec::new(),
            ahead_pos: 0,
        }
    }

    /// Prefix bytes not read yet.
    pub fn unread_prefix(&self) -> usize {
        self.prefix.len() - self.consumed
    }

    /// Bytes read from the socket ahead of the TLS library and never given to it.
    pub fn unread_ahead(&self) -> usize {
        self.ahead.len() - self.ahead_pos
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
        if this.ahead_pos == this.ahead.len() {
            if buf.remaining() >= READ_AHEAD {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            // A drained buffer is refilled in place (its allocation kept).
            this.ahead.resize(READ_AHEAD, 0);
            this.ahead_pos = 0;
            let mut read = ReadBuf::new(&mut this.ahead);
            let polled = Pin::new(&mut this.inner).poll_read(cx, &mut read);
            let filled = read.filled().len();
            this.ahead.truncate(filled);
            match polled {
                Poll::Ready(Ok(())) if filled > 0 => {}
                // Nothing came (end of stream, an error, or not yet): a connection waiting
                // for its peer holds no buffer.
                other => {
                    this.ahead = Vec::new();
                    return other;
                }
            }
        }
        let rest = &this.ahead[this.ahead_pos..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        this.ahead_pos += n;
        Poll::Ready(Ok(()))
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
///
/// When the handshake fails with client bytes read ahead but never used, `abort` is given the
/// socket before it is dropped. PostgreSQL's OpenSSL reads a failed handshake's records only
/// as far as it needs, so the rest of what the client sent is still unread in the kernel when
/// the backend exits, and the kernel answers the close with a reset; pgssl reads ahead to save
/// system calls, so the caller makes the same reset happen (`set_zero_linger`).
pub async fn accept<S>(
    ctx: &SslContext,
    stream: PrefixedStream<S>,
    abort: impl FnOnce(&S),
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
        Err(e) => {
            if tls.get_ref().unread_ahead() > 0 {
                abort(tls.get_ref().get_ref());
            }
            Err(HandshakeError {
                failure: classify_failure(&e),
                unread_prefix: tls.get_ref().unread_prefix(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    use super::*;

    /// A stream that counts the reads that reach it.
    struct Counted {
        inner: DuplexStream,
        reads: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    fn counted(prefix: &[u8]) -> (PrefixedStream<Counted>, DuplexStream, Arc<AtomicUsize>) {
        let (ours, theirs) = duplex(64 * 1024);
        let reads = Arc::default();
        let inner = Counted {
            inner: ours,
            reads: Arc::clone(&reads),
        };
        (PrefixedStream::new(prefix.to_vec(), inner), theirs, reads)
    }

    #[tokio::test]
    async fn the_prefix_is_read_first_and_never_read_ahead_of() {
        let (mut stream, mut peer, reads) = counted(b"abc");
        peer.write_all(b"defgh").await.unwrap();
        let mut two = [0u8; 2];
        stream.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        assert_eq!(stream.unread_prefix(), 1);
        // A read larger than what is left of the prefix gets the prefix only.
        let mut five = [0u8; 5];
        assert_eq!(stream.read(&mut five).await.unwrap(), 1);
        assert_eq!(five[0], b'c');
        assert_eq!(
            reads.load(Ordering::Relaxed),
            0,
            "the socket was read early"
        );
        assert_eq!(stream.unread_prefix(), 0);
    }

    #[tokio::test]
    async fn short_reads_are_served_from_one_read_of_the_socket() {
        let (mut stream, mut peer, reads) = counted(b"");
        // A record header and body, then a second record: what OpenSSL asks for in pieces.
        let bytes: Vec<u8> = (0..200u8).collect();
        peer.write_all(&bytes).await.unwrap();
        let mut got = Vec::new();
        for want in [5, 95, 5, 95] {
            let mut piece = vec![0u8; want];
            stream.read_exact(&mut piece).await.unwrap();
            got.extend(piece);
        }
        assert_eq!(got, bytes);
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        // Waiting for more (as an idle connection does) holds no buffer.
        let mut one = [0u8; 1];
        let wait = std::time::Duration::from_millis(20);
        assert!(
            tokio::time::timeout(wait, stream.read(&mut one))
                .await
                .is_err()
        );
        assert!(stream.ahead.capacity() == 0);
        // End of stream still reads as end of stream, and leaves no buffer behind.
        drop(peer);
        assert_eq!(stream.read(&mut one).await.unwrap(), 0);
        assert!(stream.ahead.capacity() == 0);
    }
}
