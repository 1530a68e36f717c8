//! TLS steps: the client handshake with a step's options (versions, ciphers, ALPN, SNI,
//! client certificate, verification, resumption), the line the trace records of it, and
//! OpenSSL's failures classified as alerts, `closed`, `reset` and `timeout`.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Instant;

use openssl::ssl::{SslConnector, SslMethod, SslSession, SslStream, SslVerifyMode, SslVersion};

use super::observe::{RESET, io_reason, is_closed, is_reset};
use super::{Client, Conn, STEP_TIMEOUT};
use crate::case::TlsStep;

impl Client<'_> {
    /// The `tls` step: a handshake on the plain connection, unless `only_after_s` and the
    /// reply was not `S`.
    pub(super) fn tls(&mut self, opts: &TlsStep) {
        if opts.only_after_s && self.reader.last_reply != Some(b'S') {
            self.trace.sent("tls skipped: the reply was not S");
            return;
        }
        let mut desc = String::from("tls");
        if let Some(alpn) = &opts.alpn {
            desc.push_str(&format!(" alpn={}", alpn.join(",")));
        }
        if let Some(v) = &opts.min {
            desc.push_str(&format!(" min={v}"));
        }
        if let Some(v) = &opts.max {
            desc.push_str(&format!(" max={v}"));
        }
        if let Some(c) = &opts.ciphers {
            desc.push_str(&format!(" ciphers={c}"));
        }
        self.trace.sent(desc);
        let stream = match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::Plain(s) => s,
            other => {
                self.conn = other;
                self.trace.saw("tls failed: no plain connection");
                return;
            }
        };
        let resume = if opts.resume {
            self.session.clone()
        } else {
            None
        };
        match tls_handshake(stream, opts, resume.as_ref()) {
            Ok(tls) => {
                let ssl = tls.ssl();
                let mut line = format!(
                    "tls {} {}",
                    ssl.version_str(),
                    ssl.current_cipher().map_or("?", |c| c.name())
                );
                if let Some(p) = ssl.selected_alpn_protocol() {
                    line.push_str(&format!(" alpn={}", String::from_utf8_lossy(p)));
                }
                let ca_names = client_ca_names(ssl);
                if ca_names > 0 {
                    line.push_str(&format!(" ca_names={ca_names}"));
                }
                if opts.peer {
                    let cn = ssl
                        .peer_certificate()
                        .and_then(|c| {
                            c.subject_name()
                                .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                                .next()
                                .and_then(|e| e.data().to_string().ok())
                        })
                        .unwrap_or_default();
                    line.push_str(&format!(" peer=CN={cn}"));
                }
                if opts.resume {
                    line.push_str(if ssl.session_reused() {
                        " resumed"
                    } else {
                        " not resumed"
                    });
                }
                self.session = ssl.session().map(|s| s.to_owned());
                self.trace.saw(line);
                self.conn = Conn::Tls(Box::new(tls));
            }
            Err(Failed::Peer(reason)) => self.trace.saw(format!("tls failed: {reason}")),
            Err(Failed::Harness(why)) => self.trace.harness_error(format!("tls client: {why}")),
        }
    }
}

unsafe extern "C" {
    /// libssl: on a client, the CA names the server's CertificateRequest listed (not bound by
    /// `openssl-sys`).
    fn SSL_get_client_CA_list(ssl: *const openssl_sys::SSL) -> *mut openssl_sys::OPENSSL_STACK;
}

/// How many CA names the server sent in its CertificateRequest (0 when it requested none).
fn client_ca_names(ssl: &openssl::ssl::SslRef) -> usize {
    use foreign_types::ForeignTypeRef;
    // SAFETY: `ssl` is a live SSL object; the returned stack belongs to it and is only counted.
    unsafe {
        let names = SSL_get_client_CA_list(ssl.as_ptr());
        if names.is_null() {
            0
        } else {
            usize::try_from(openssl_sys::OPENSSL_sk_num(names)).unwrap_or(0)
        }
    }
}

fn tls_version(name: &str) -> Option<SslVersion> {
    Some(match name {
        "TLSv1" => SslVersion::TLS1,
        "TLSv1.1" => SslVersion::TLS1_1,
        "TLSv1.2" => SslVersion::TLS1_2,
        "TLSv1.3" => SslVersion::TLS1_3,
        _ => return None,
    })
}

/// Why a handshake step did not give a TLS connection.
enum Failed {
    /// The handshake with the server failed: what the trace records of it.
    Peer(String),
    /// The harness could not set up its side (test PKI, a cipher list or file the client's
    /// library refuses): not an observation of the server.
    Harness(String),
}

/// A client handshake with the step's options; the error says how it failed.
fn tls_handshake(
    stream: TcpStream,
    opts: &TlsStep,
    resume: Option<&SslSession>,
) -> Result<SslStream<TcpStream>, Failed> {
    let setup = |e: openssl::error::ErrorStack| Failed::Harness(format!("client set-up: {e}"));
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(setup)?;
    builder.set_verify(SslVerifyMode::NONE);
    if opts.ciphers.is_some()
        || opts
            .min
            .as_deref()
            .is_some_and(|m| m != "TLSv1.2" && m != "TLSv1.3")
    {
        // Old protocol versions and NULL ciphers need the security level lowered, as the
        // spec's probes did with @SECLEVEL=0.
        builder.set_security_level(0);
    }
    builder
        .set_min_proto_version(opts.min.as_deref().and_then(tls_version))
        .map_err(setup)?;
    builder
        .set_max_proto_version(opts.max.as_deref().and_then(tls_version))
        .map_err(setup)?;
    if let Some(c) = &opts.ciphers {
        builder.set_cipher_list(c).map_err(setup)?;
    }
    if let Some(alpn) = &opts.alpn {
        let mut wire = Vec::new();
        for p in alpn {
            wire.push(p.len() as u8);
            wire.extend_from_slice(p.as_bytes());
        }
        builder.set_alpn_protos(&wire).map_err(setup)?;
    }
    if let Some((cert, key)) = &opts.cert {
        let pki = crate::setup::pki().map_err(|e| Failed::Harness(e.to_string()))?;
        builder
            .set_certificate_chain_file(pki.path(cert))
            .map_err(setup)?;
        builder
            .set_private_key_file(pki.path(key), openssl::ssl::SslFiletype::PEM)
            .map_err(setup)?;
    }
    if resume.is_some() {
        builder.set_session_cache_mode(openssl::ssl::SslSessionCacheMode::CLIENT);
    }
    if let Some(root) = &opts.verify {
        let pki = crate::setup::pki().map_err(|e| Failed::Harness(e.to_string()))?;
        builder.set_ca_file(pki.path(root)).map_err(setup)?;
        builder.set_verify(SslVerifyMode::PEER);
    }
    let connector = builder.build();
    let mut config = connector
        .configure()
        .map_err(setup)?
        .verify_hostname(opts.verify.is_some() && opts.verify_host.is_some());
    if let Some(session) = resume {
        // SAFETY: the session comes from an earlier connection made with the same options.
        unsafe { config.set_session(session).map_err(setup)? };
    }
    if opts.sni.is_none() {
        config = config.use_server_name_indication(false);
    }
    let sni = opts
        .verify_host
        .as_deref()
        .or(opts.sni.as_deref())
        .unwrap_or("localhost");
    let deadline = Instant::now() + STEP_TIMEOUT;
    match config.connect(sni, stream) {
        Ok(s) => Ok(s),
        Err(openssl::ssl::HandshakeError::Failure(mid)) => {
            Err(Failed::Peer(classify(mid.error(), deadline)))
        }
        Err(openssl::ssl::HandshakeError::WouldBlock(_)) => Err(Failed::Peer("timeout".into())),
        Err(openssl::ssl::HandshakeError::SetupFailure(e)) => {
            Err(Failed::Harness(format!("client set-up: {e}")))
        }
    }
}

/// Alerts by the reason OpenSSL gives for them on the client side.
const ALERTS: &[(&str, &str)] = &[
    ("no application protocol", "no_application_protocol"),
    ("handshake failure", "handshake_failure"),
    ("protocol version", "protocol_version"),
    ("unknown ca", "unknown_ca"),
    ("certificate revoked", "certificate_revoked"),
    ("certificate required", "certificate_required"),
    ("bad certificate", "bad_certificate"),
    ("decrypt error", "decrypt_error"),
    ("internal error", "internal_error"),
];

/// The reason text of OpenSSL's first queued error behind `err`.
pub(super) fn first_reason(err: &openssl::ssl::Error) -> Option<&str> {
    err.ssl_error()
        .and_then(|stack| stack.errors().first())
        .and_then(|first| first.reason())
}

/// The alert OpenSSL's `reason` text names, by its protocol name (`unknown_ca`).
pub(super) fn alert_named(reason: &str) -> Option<&'static str> {
    ALERTS
        .iter()
        .find(|(text, _)| reason.contains(text))
        .map(|(_, alert)| *alert)
}

pub(crate) fn classify(err: &openssl::ssl::Error, deadline: Instant) -> String {
    if let Some(io) = err.io_error() {
        if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
            || Instant::now() >= deadline
        {
            return "timeout".into();
        }
        return if is_reset(io) {
            RESET.into()
        } else if is_closed(io) {
            "closed".into()
        } else {
            io_reason(io)
        };
    }
    let reason = first_reason(err).unwrap_or("");
    if let Some(alert) = alert_named(reason) {
        return format!("alert {alert}");
    }
    if reason.is_empty() || reason.contains("unexpected eof") {
        return "closed".into();
    }
    reason.to_owned()
}
