//! What a TLS session allows beyond versions and suites: session tickets and resumption,
//! compression, renegotiation (RFC 5746 and client-initiated), ALPN on the SSLRequest path,
//! direct SSL (PostgreSQL 17+: the ClientHello first, ALPN `postgresql` required), and
//! whether a client certificate is requested.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

use super::conn::{self, IO_TIMEOUT};
use super::ffi::{self, kind};
use super::finding::{Finding, Severity};
use super::handshake::{self, Offer, Opening, Outcome};
use super::hello::{self, Answer, COMPRESSION_NULL, EXT_RENEGOTIATION_INFO};
use super::suites::Version;
use super::tls::{Peer, Tls};
use crate::error::Error;

/// Where and how the TLS checks connect.
#[derive(Clone, Copy)]
pub struct Reach<'a> {
    /// The server.
    pub addr: SocketAddr,
    /// SSLRequest or direct.
    pub opening: Opening,
    /// The server name (SNI unless an IP address).
    pub name: &'a str,
}

/// The offer that reproduces what `version` accepted: the server's own suites.
fn accepted_offer(tls: &Tls, version: Version, resumable: bool) -> Offer {
    let names = |f: fn(&super::suites::Suite) -> &str| {
        tls.suites(version)
            .iter()
            .map(f)
            .collect::<Vec<_>>()
            .join(":")
    };
    if version == Version::Tls1_3 {
        Offer {
            version: Some(version),
            suites13: Some(names(|s| &s.iana)),
            resumable,
            ..Offer::default()
        }
    } else {
        Offer {
            version: Some(version),
            ciphers: Some(format!("{}:@SECLEVEL=0", names(|s| &s.openssl))),
            resumable,
            ..Offer::default()
        }
    }
}

/// Tickets and resumption for one accepted version.
pub fn resumption(reach: Reach<'_>, tls: &Tls, version: Version) -> Result<Finding, Error> {
    let id = format!("session.{}", version.id());
    let ctx = handshake::context(&accepted_offer(tls, version, true))?;
    let mut up = match handshake::connect(reach.addr, reach.opening, &ctx, reach.name, None)? {
        Outcome::Up(up) => up,
        Outcome::Refused(why) => {
            return Ok(Finding::new(
                &id,
                Severity::Info,
                format!(
                    "not determined: a {} handshake with an accepted suite failed this time ({why})",
                    version.name()
                ),
                "the server refused a handshake it had accepted moments before",
            ));
        }
    };
    // TLS 1.3 tickets follow the handshake: a login's reply brings them in.
    let _ = up.stream.write_all(&conn::startup());
    let _ = conn::read_messages(&mut up.stream);
    let tickets = handshake::snapshot(&up.seen).count(kind::NEW_SESSION_TICKET);
    let session = up.stream.ssl().session().map(|s| s.to_owned());
    let session_id = session.as_ref().is_some_and(|s| !s.id().is_empty());
    drop(up);
    let resumed = match &session {
        Some(s) => {
            match handshake::connect(reach.addr, reach.opening, &ctx, reach.name, Some(s))? {
                Outcome::Up(again) => again.stream.ssl().session_reused(),
                Outcome::Refused(_) => false,
            }
        }
        None => false,
    };
    let mut parts = vec![match tickets {
        0 => "no session ticket".to_owned(),
        1 => "1 session ticket".to_owned(),
        n => format!("{n} session tickets"),
    }];
    if version != Version::Tls1_3 {
        parts.push(if session_id {
            "a session id".into()
        } else {
            "no session id".into()
        });
    }
    parts.push(if resumed {
        "resumed".into()
    } else {
        "not resumed".into()
    });
    let (severity, why) = if tickets > 0 && version != Version::Tls1_3 {
        (
            Severity::Low,
            "TLS 1.2 tickets are sealed with a server key: whoever gets it reads every session it sealed; PostgreSQL sends none (SSL_OP_NO_TICKET)",
        )
    } else if resumed {
        (
            Severity::Info,
            "resumption skips the full handshake; PostgreSQL turns its session cache off, so this differs from it",
        )
    } else {
        (
            Severity::Info,
            "every connection makes a full handshake, as PostgreSQL (no tickets, session cache off)",
        )
    };
    Ok(Finding::new(
        &id,
        severity,
        format!("{}: {}", version.name(), parts.join(", ")),
        why,
    ))
}

/// The newest accepted version up to TLS 1.2.
fn pre13(tls: &Tls) -> Option<Version> {
    tls.accepted()
        .into_iter()
        .filter(|v| *v < Version::Tls1_3)
        .max()
}

/// Compression and RFC 5746 from a hand-made ClientHello, and client-initiated
/// renegotiation with OpenSSL.
pub fn renegotiation_and_compression(reach: Reach<'_>, tls: &Tls) -> Result<Vec<Finding>, Error> {
    let Some(version) = pre13(tls) else {
        let why = "TLS 1.3 has neither compression nor renegotiation";
        return Ok(vec![
            Finding::new(
                "compression",
                Severity::Info,
                "none possible: only TLS 1.3 is accepted",
                why,
            ),
            Finding::new(
                "renegotiation",
                Severity::Info,
                "none possible: only TLS 1.3 is accepted",
                why,
            ),
        ]);
    };
    let answer = raw_hello(reach, tls, version)?;
    let compression = match &answer {
        Answer::Hello(h) if h.compression == COMPRESSION_NULL => Finding::new(
            "compression",
            Severity::Info,
            format!(
                "{}: DEFLATE offered, null compression chosen",
                version.name()
            ),
            "no TLS compression, so no CRIME; PostgreSQL 14+ disables it outright",
        ),
        Answer::Hello(h) => Finding::new(
            "compression",
            Severity::Medium,
            format!(
                "{}: compression method {} chosen when DEFLATE was offered",
                version.name(),
                h.compression
            ),
            "TLS compression lets someone who can inject text into a session learn its secrets (CRIME)",
        ),
        other => Finding::new(
            "compression",
            Severity::Info,
            format!(
                "not determined: the hand-made {} ClientHello got {}",
                version.name(),
                answer_text(other)
            ),
            "the probe could not ask for compression in a way this server answers",
        ),
    };
    let secure = match &answer {
        Answer::Hello(h) => Some(h.extensions.contains(&EXT_RENEGOTIATION_INFO)),
        _ => None,
    };
    let client_initiated = client_renegotiation(reach, tls, version)?;
    let accepted = client_initiated == "accepted";
    let rfc5746 = match secure {
        Some(true) => "secure renegotiation (RFC 5746) supported",
        Some(false) => "no RFC 5746 renegotiation_info in the ServerHello",
        None => "RFC 5746 support not determined",
    };
    let (severity, why) = match (secure, accepted) {
        (Some(false), true) => (
            Severity::High,
            "renegotiation without RFC 5746 lets a man-in-the-middle splice its own prefix into a client's session (CVE-2009-3555)",
        ),
        (_, true) => (
            Severity::Low,
            "client-initiated renegotiation lets one connection make the server redo handshakes (a CPU cost); PostgreSQL refuses it (SSL_OP_NO_RENEGOTIATION)",
        ),
        (Some(false), false) => (
            Severity::Low,
            "without RFC 5746 a client cannot tell a spliced session; harmless while renegotiation is refused",
        ),
        _ => (
            Severity::Info,
            "renegotiation is refused, as PostgreSQL does since 14",
        ),
    };
    let renegotiation = Finding::new(
        "renegotiation",
        severity,
        format!(
            "{}: {rfc5746}; client-initiated renegotiation {client_initiated}",
            version.name()
        ),
        why,
    );
    Ok(vec![compression, renegotiation])
}

fn answer_text(a: &Answer) -> String {
    match a {
        Answer::Hello(h) => format!("a ServerHello (version 0x{:04x})", h.version),
        Answer::Alert(d) => format!("fatal alert {d}"),
        Answer::Nothing(end) => end.text(),
        Answer::Garbage(hex) => format!("bytes {hex}"),
    }
}

fn raw_hello(reach: Reach<'_>, tls: &Tls, version: Version) -> Result<Answer, Error> {
    let suites: Vec<u16> = tls
        .suites(version)
        .iter()
        .filter_map(|s| u16::from_str_radix(s.id.trim_start_matches("0x"), 16).ok())
        .collect();
    let mut random = [0u8; 32];
    openssl::rand::rand_bytes(&mut random)?;
    let sni = reach
        .name
        .parse::<std::net::IpAddr>()
        .is_err()
        .then_some(reach.name);
    let bytes = hello::client_hello(version.wire(), &suites, random, sni);
    let mut stream = match conn::connect(reach.addr) {
        Ok(s) => s,
        Err(e) => return Ok(Answer::Nothing(conn::end_of(&e))),
    };
    if reach.opening == Opening::SslRequest {
        let reply = conn::request(
            &mut stream,
            &pgssl_server::wire::StartupPacket::ssl_request().to_bytes(),
        );
        if reply != conn::Reply::Byte(b'S') {
            return Ok(Answer::Garbage(format!(
                "SSLRequest answered {}",
                reply.text()
            )));
        }
    }
    Ok(hello::exchange(&mut stream, &bytes))
}

/// `accepted`, or how it was refused.
fn client_renegotiation(reach: Reach<'_>, tls: &Tls, version: Version) -> Result<String, Error> {
    let ctx = handshake::context(&accepted_offer(tls, version, false))?;
    let mut up = match handshake::connect(reach.addr, reach.opening, &ctx, reach.name, None)? {
        Outcome::Up(up) => up,
        Outcome::Refused(why) => return Ok(format!("not determined (handshake failed: {why})")),
    };
    if !ffi::renegotiate(up.stream.ssl()) {
        return Ok("not determined (the probe's OpenSSL would not start it)".into());
    }
    let deadline = Instant::now() + IO_TIMEOUT;
    let result = up.stream.do_handshake();
    let alerts = handshake::alerts(&up.seen);
    Ok(match result {
        Ok(()) => "accepted".into(),
        Err(_) if alerts.iter().any(|(_, d)| *d == 100) => {
            "refused (no_renegotiation alert)".into()
        }
        Err(e) => format!("refused ({})", crate::client::tls::classify(&e, deadline)),
    })
}

/// ALPN on the SSLRequest path: `postgresql` offered, then only `http/1.1`.
pub fn alpn(reach: Reach<'_>) -> Result<Finding, Error> {
    let try_alpn = |protocols: Vec<&'static str>| -> Result<String, Error> {
        let ctx = handshake::context(&Offer {
            alpn: protocols,
            ..Offer::default()
        })?;
        Ok(
            match handshake::connect(reach.addr, Opening::SslRequest, &ctx, reach.name, None)? {
                Outcome::Up(up) => match up.stream.ssl().selected_alpn_protocol() {
                    Some(p) => format!("{} selected", String::from_utf8_lossy(p)),
                    None => "accepted, none selected".into(),
                },
                Outcome::Refused(why) => format!("refused ({why})"),
            },
        )
    };
    let pg = try_alpn(vec!["postgresql"])?;
    let http = try_alpn(vec!["http/1.1"])?;
    let observation = format!("postgresql offered: {pg}; only http/1.1 offered: {http}");
    let (severity, why) = if http.starts_with("http/1.1 selected") {
        (
            Severity::Medium,
            "agreeing to a protocol it does not speak lets a TLS connection meant for another service be steered to it (ALPACA)",
        )
    } else if pg.starts_with("refused") {
        (
            Severity::Medium,
            "libpq 17+ offers ALPN postgresql on every connection; refusing it locks those clients out",
        )
    } else if pg.starts_with("postgresql selected") {
        (
            Severity::Info,
            "as PostgreSQL 17+: ALPN postgresql agreed, any other protocol refused",
        )
    } else {
        (
            Severity::Info,
            "as PostgreSQL 16 and older, which ignore ALPN on the SSLRequest path",
        )
    };
    Ok(Finding::new("alpn", severity, observation, why))
}

/// Direct SSL, with ALPN `postgresql` and without ALPN; each goes on to a StartupMessage.
pub fn direct_ssl(addr: SocketAddr, name: &str) -> Result<(Finding, bool), Error> {
    let attempt = |protocols: Vec<&'static str>| -> Result<(String, bool), Error> {
        let ctx = handshake::context(&Offer {
            alpn: protocols,
            ..Offer::default()
        })?;
        let stream = match conn::connect(addr) {
            Ok(s) => s,
            Err(e) => return Ok((format!("connect failed: {e}"), false)),
        };
        Ok(match handshake::over(stream, &ctx, name, None)? {
            Outcome::Up(mut up) => {
                let version = up.version();
                let _ = up.stream.write_all(&conn::startup());
                let mut reply = conn::read_messages(&mut up.stream);
                if reply.end == Some(conn::End::Closed)
                    && up
                        .stream
                        .get_shutdown()
                        .contains(openssl::ssl::ShutdownState::RECEIVED)
                {
                    reply.end = Some(conn::End::CloseNotify);
                }
                let served = reply.authenticated() || reply.error_code().is_some();
                (
                    format!("{version} handshake, then {}", conn::compact(&reply)),
                    served,
                )
            }
            Outcome::Refused(why) => (format!("refused ({why})"), false),
        })
    };
    let (with, with_served) = attempt(vec!["postgresql"])?;
    let (without, without_served) = attempt(Vec::new())?;
    let observation = format!("with ALPN postgresql: {with}; without ALPN: {without}");
    let (severity, why) = match (with_served, without_served) {
        (_, true) => (
            Severity::Low,
            "PostgreSQL 17+ requires ALPN postgresql on direct SSL so a TLS connection meant for another service cannot be steered to it",
        ),
        (true, false) => (
            Severity::Info,
            "as PostgreSQL 17+: direct SSL with ALPN postgresql, nothing without it",
        ),
        (false, false) => (
            Severity::Info,
            "no direct SSL, as PostgreSQL 16 and older; clients use an SSLRequest first",
        ),
    };
    Ok((
        Finding::new("direct-ssl", severity, observation, why),
        with_served,
    ))
}

/// Whether a client certificate was requested, and the CA names sent.
pub fn client_certificate(peer: &Peer) -> Finding {
    if !peer.cert_requested {
        return Finding::new(
            "client-certificate",
            Severity::Info,
            format!("{}: not requested", peer.version.name()),
            "no client-certificate authentication (PostgreSQL requests one only when ssl_ca_file is set)",
        );
    }
    let names = if peer.ca_names.is_empty() {
        "no CA names".to_owned()
    } else {
        format!("{} CA names", peer.ca_names.len())
    };
    Finding::new(
        "client-certificate",
        Severity::Info,
        format!("{}: requested, {names}", peer.version.name()),
        "clients may authenticate with a certificate from these CAs (PostgreSQL requests one whenever ssl_ca_file is set, and pg_hba.conf decides whether it is required)",
    )
    .with_detail(peer.ca_names.clone())
}
