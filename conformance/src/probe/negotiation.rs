//! The negotiation before TLS: the replies to SSLRequest and GSSENCRequest, bytes pipelined
//! after a request (CVE-2021-23214, after `S` and after `N`), repeated, split, padded and
//! oversized requests, and the startup packet's length limits (PostgreSQL: at most 10000
//! bytes after the length word, at least 8 in all).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use pgssl_server::wire::{MAX_STARTUP_PACKET_LENGTH, StartupPacket};

use super::conn::{self, Exchange, Reply};
use super::finding::{Finding, Severity};
use super::handshake::{self, Offer, Outcome};
use crate::case::{Packet, PacketSpec};
use crate::error::Error;

/// The finding for the SSLRequest's reply.
pub fn ssl_request(reply: &Reply) -> Finding {
    let (severity, why) = match reply {
        Reply::Byte(b'S') => (Severity::Info, "the server offers TLS on this port"),
        Reply::Byte(b'N') => (
            Severity::High,
            "no TLS: passwords and data cross the network in clear text, and sslmode=prefer clients carry on without saying so",
        ),
        Reply::Error(_) => (
            Severity::Medium,
            "an ErrorResponse instead of the reply byte; clients must not show it (CVE-2024-10977), and none can use TLS",
        ),
        _ => (
            Severity::Medium,
            "neither S nor N: clients cannot negotiate TLS",
        ),
    };
    Finding::new(
        "ssl-request",
        severity,
        format!("SSLRequest answered {}", reply.text()),
        why,
    )
}

/// Sends `bytes` on a new connection and reads the reply byte.
fn ask(addr: SocketAddr, bytes: &[u8]) -> Result<(TcpStream, Reply), String> {
    let mut s = conn::connect(addr).map_err(|e| format!("connect failed: {e}"))?;
    let reply = conn::request(&mut s, bytes);
    Ok((s, reply))
}

/// The GSSENCRequest's reply, and its finding.
pub fn gssenc_request(addr: SocketAddr) -> (Reply, Finding) {
    let reply = match ask(addr, &StartupPacket::gssenc_request().to_bytes()) {
        Ok((_, r)) => r,
        Err(e) => Reply::Nothing(conn::End::Failed(e)),
    };
    let (severity, why) = match &reply {
        Reply::Byte(b'G') => (
            Severity::Info,
            "GSSAPI encryption is offered (a PostgreSQL built with GSSAPI answers G even without a keytab)",
        ),
        Reply::Byte(b'N') => (
            Severity::Info,
            "no GSSAPI encryption; libpq's gssencmode=prefer goes on to SSL",
        ),
        _ => (
            Severity::Low,
            "neither G nor N: libpq (gssencmode=prefer, the default where it has GSSAPI) may fail to connect",
        ),
    };
    let f = Finding::new(
        "gssenc-request",
        severity,
        format!("GSSENCRequest answered {}", reply.text()),
        why,
    );
    (reply, f)
}

/// An exchange in which the server went on with a session (or refused the login on its
/// merits): it read the StartupMessage.
fn processed(e: &Exchange) -> bool {
    e.authenticated() || e.error_code().is_some_and(|c| c != "08P01")
}

/// CVE-2021-23214 after `S`: SSLRequest and StartupMessage in one write, then the handshake.
pub fn injection_after_s(addr: SocketAddr, name: &str) -> Result<Finding, Error> {
    let id = "injection.after-s";
    let mut bytes = StartupPacket::ssl_request().to_bytes();
    bytes.extend_from_slice(&conn::startup());
    let (stream, reply) = match ask(addr, &bytes) {
        Ok(x) => x,
        Err(e) => return Ok(Finding::new(id, Severity::Info, e, "not determined")),
    };
    if reply != Reply::Byte(b'S') {
        return Ok(Finding::new(
            id,
            Severity::Info,
            format!("the pipelined SSLRequest was answered {}", reply.text()),
            if matches!(&reply, Reply::Error(e) if e.contains(" 08P01 ")) {
                "refused before any reply byte (PostgreSQL answers S and refuses after the handshake); no TLS followed, so no plaintext could be taken for encrypted data"
            } else {
                "no TLS followed, so no plaintext could be taken for encrypted data"
            },
        ));
    }
    let ctx = handshake::context(&Offer::default())?;
    let mut up = match handshake::over(stream, &ctx, name, None)? {
        Outcome::Up(up) => up,
        Outcome::Refused(why) => {
            // Whether the close arrives as FIN or RST depends on what the server had left
            // unread: a race, so both read the same.
            let why = if why == "closed" || why == "reset" {
                "the connection ended: closed or reset".to_owned()
            } else {
                why
            };
            return Ok(Finding::new(
                id,
                Severity::Info,
                format!("S, then the handshake failed ({why})"),
                "the pipelined bytes were fed to TLS and broke the handshake instead of being read as a startup packet (as PostgreSQL 17+)",
            ));
        }
    };
    let after = conn::read_messages(&mut up.stream);
    let text = conn::compact(&after);
    if after.error_code() == Some("08P01") {
        return Ok(Finding::new(
            id,
            Severity::Info,
            format!("S, handshake, then over TLS: {text}"),
            "the plaintext that arrived before TLS was refused, as PostgreSQL 13.5+ and 14.1+ do",
        ));
    }
    if processed(&after) {
        return Ok(Finding::new(
            id,
            Severity::High,
            format!("S, handshake, then over TLS: {text}"),
            "a StartupMessage sent in plaintext before the handshake was processed as if it came over TLS: a man-in-the-middle can inject commands (CVE-2021-23214)",
        ));
    }
    if after.end.as_ref().is_some_and(conn::End::is_close) && after.silent() {
        return Ok(Finding::new(
            id,
            Severity::Info,
            format!("S, handshake, then {text}"),
            "the connection was dropped without the pipelined bytes being processed",
        ));
    }
    // Neither refused nor processed within the wait: does a real login over TLS work?
    let _ = up.stream.write_all(&conn::startup());
    let then = conn::read_messages(&mut up.stream);
    Ok(Finding::new(
        id,
        Severity::Low,
        format!(
            "S, handshake, then {text}; a StartupMessage sent over TLS then got {}",
            conn::compact(&then)
        ),
        "the pipelined plaintext was neither refused nor processed at once; PostgreSQL ends the connection",
    ))
}

/// Pipelined bytes after a refused request: the SSLRequest's `N`, else the GSSENCRequest's.
pub fn injection_after_n(addr: SocketAddr, ssl: &Reply, gss: &Reply) -> Finding {
    let id = "injection.after-n";
    let request = if *ssl == Reply::Byte(b'N') {
        ("SSLRequest", StartupPacket::ssl_request())
    } else if *gss == Reply::Byte(b'N') {
        ("GSSENCRequest", StartupPacket::gssenc_request())
    } else {
        return Finding::new(
            id,
            Severity::Info,
            format!(
                "not testable: SSLRequest answered {} and GSSENCRequest {}, so no request is refused",
                ssl.text(),
                gss.text()
            ),
            "pipelining after N needs a request the server refuses",
        );
    };
    let mut bytes = request.1.to_bytes();
    bytes.extend_from_slice(&conn::startup());
    let (mut stream, reply) = match ask(addr, &bytes) {
        Ok(x) => x,
        Err(e) => return Finding::new(id, Severity::Info, e, "not determined"),
    };
    if reply != Reply::Byte(b'N') {
        let refused = matches!(&reply, Reply::Error(e) if e.contains(" 08P01 "));
        return Finding::new(
            id,
            Severity::Info,
            format!(
                "{} and StartupMessage in one write: {}",
                request.0,
                reply.text()
            ),
            if refused {
                "refused before any reply byte (PostgreSQL answers N first, then refuses)"
            } else {
                "the pipelined request was not answered N as the lone one was; nothing more to judge"
            },
        );
    }
    let after = conn::read_messages(&mut stream);
    let observation = format!(
        "{} and StartupMessage in one write: N, then {}",
        request.0,
        conn::compact(&after)
    );
    let (severity, why) = if after.error_code() == Some("08P01") {
        (
            Severity::Info,
            "refused, as PostgreSQL refuses any bytes pipelined after a request",
        )
    } else if processed(&after) {
        (
            Severity::Low,
            "the pipelined StartupMessage was processed in plaintext; harmless here (nothing was to be encrypted) but PostgreSQL refuses it",
        )
    } else {
        (
            Severity::Low,
            "neither refused nor processed at once; PostgreSQL refuses pipelined bytes immediately",
        )
    };
    Finding::new(id, severity, observation, why)
}

/// A second SSLRequest: inside TLS after `S`, or in plaintext after `N`.
pub fn repeated(addr: SocketAddr, name: &str, ssl: &Reply) -> Result<Finding, Error> {
    let id = "request.repeated";
    let request = StartupPacket::ssl_request().to_bytes();
    let (mut stream, first) = match ask(addr, &request) {
        Ok(x) => x,
        Err(e) => return Ok(Finding::new(id, Severity::Info, e, "not determined")),
    };
    let (where_, second) = match first {
        Reply::Byte(b'S') => {
            let ctx = handshake::context(&Offer::default())?;
            match handshake::over(stream, &ctx, name, None)? {
                Outcome::Up(mut up) => ("inside TLS", conn::request(&mut up.stream, &request)),
                Outcome::Refused(why) => {
                    return Ok(Finding::new(
                        id,
                        Severity::Info,
                        format!("not determined: the handshake after S failed ({why})"),
                        "a second request needs the first to succeed",
                    ));
                }
            }
        }
        Reply::Byte(b'N') => ("after N", conn::request(&mut stream, &request)),
        other => {
            return Ok(Finding::new(
                id,
                Severity::Info,
                format!(
                    "not determined: the first SSLRequest was answered {} (before: {})",
                    other.text(),
                    ssl.text()
                ),
                "a second request needs the first to be answered",
            ));
        }
    };
    let (severity, why) = match &second {
        Reply::Error(_) | Reply::Nothing(_) => (
            Severity::Info,
            "one SSLRequest per connection, as PostgreSQL (a second one is read as protocol 1234.5679 and refused)",
        ),
        Reply::Byte(b'S') => (
            Severity::Low,
            "the server offers to start TLS again on a connection that already negotiated; PostgreSQL refuses a second request",
        ),
        Reply::Bytes(_) => (
            Severity::Low,
            "the reply is no protocol message; PostgreSQL refuses a second request with an ErrorResponse",
        ),
        _ => (
            Severity::Low,
            "the server answers a second request, which PostgreSQL refuses",
        ),
    };
    Ok(Finding::new(
        id,
        severity,
        format!("second SSLRequest {where_}: {}", second.text()),
        why,
    ))
}

/// The SSLRequest in two writes, 50 ms apart.
pub fn split(addr: SocketAddr, ssl: &Reply) -> Finding {
    let id = "request.split";
    let bytes = StartupPacket::ssl_request().to_bytes();
    let reply = (|| {
        let mut s = conn::connect(addr).map_err(|e| format!("connect failed: {e}"))?;
        s.write_all(&bytes[..4]).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(50));
        Ok::<_, String>(conn::request(&mut s, &bytes[4..]))
    })();
    let reply = match reply {
        Ok(r) => r,
        Err(e) => return Finding::new(id, Severity::Info, e, "not determined"),
    };
    let (severity, why) = if reply == *ssl {
        (
            Severity::Info,
            "a request split across TCP segments is answered like a whole one",
        )
    } else {
        (
            Severity::Low,
            "TCP keeps no message boundaries; a server that needs the request in one segment fails clients on slow links",
        )
    };
    Finding::new(
        id,
        severity,
        format!(
            "SSLRequest in two writes (4 + 4 bytes): {} (whole: {})",
            reply.text(),
            ssl.text()
        ),
        why,
    )
}

/// An SSLRequest 4 bytes longer than its 8, then (after `S`) a handshake.
pub fn padded(addr: SocketAddr, name: &str) -> Result<Finding, Error> {
    let id = "request.padded";
    let packet = StartupPacket::SslRequest { extra: vec![0; 4] };
    let (stream, reply) = match ask(addr, &packet.to_bytes()) {
        Ok(x) => x,
        Err(e) => return Ok(Finding::new(id, Severity::Info, e, "not determined")),
    };
    let mut observation = format!("12-byte SSLRequest: {}", reply.text());
    if reply == Reply::Byte(b'S') {
        let ctx = handshake::context(&Offer::default())?;
        match handshake::over(stream, &ctx, name, None)? {
            Outcome::Up(up) => {
                observation.push_str(&format!(", then a {} handshake", up.version()))
            }
            Outcome::Refused(why) => {
                observation.push_str(&format!(", then the handshake failed ({why})"))
            }
        }
    }
    Ok(Finding::new(
        id,
        Severity::Info,
        observation,
        "PostgreSQL does not check an SSLRequest's length and answers S (the extra bytes are part of the packet)",
    ))
}

/// An SSLRequest whose length word exceeds the startup packet limit.
pub fn oversized(addr: SocketAddr) -> Finding {
    let id = "request.oversized";
    let total = MAX_STARTUP_PACKET_LENGTH + 5;
    let packet = StartupPacket::SslRequest {
        extra: vec![0; total - 8],
    };
    let reply = match ask(addr, &packet.to_bytes()) {
        Ok((_, r)) => r,
        Err(e) => return Finding::new(id, Severity::Info, e, "not determined"),
    };
    let answered = matches!(reply, Reply::Byte(b'S' | b'N' | b'G'));
    Finding::new(
        id,
        if answered {
            Severity::Low
        } else {
            Severity::Info
        },
        format!("{total}-byte SSLRequest: {}", reply.text()),
        if answered {
            "the server reads a request past PostgreSQL's 10000-byte limit; its own bound is larger or absent"
        } else {
            "refused, as PostgreSQL refuses any packet over 10000 bytes after its length word"
        },
    )
}

fn startup_of(total: usize) -> Vec<u8> {
    let spec = PacketSpec::Startup {
        version: None,
        params: None,
        no_terminator: false,
        pad_to: Some(total),
    };
    crate::client::packet::encode(&[Packet::Detailed(spec)], None).0
}

/// What the server did with `bytes` sent in plaintext as the first packet.
fn send_first(addr: SocketAddr, bytes: &[u8]) -> Exchange {
    let mut s = match conn::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            return Exchange {
                end: Some(conn::End::Failed(format!("connect failed: {e}"))),
                ..Exchange::default()
            };
        }
    };
    if let Err(e) = s.write_all(bytes) {
        return Exchange {
            end: Some(conn::end_of(&e)),
            ..Exchange::default()
        };
    }
    conn::read_messages(&mut s)
}

/// The startup packet's upper limit (10004 and 10005 bytes in all) and its lower one (7).
pub fn startup_limits(addr: SocketAddr) -> Vec<Finding> {
    let max = MAX_STARTUP_PACKET_LENGTH + 4;
    let at = send_first(addr, &startup_of(max));
    let over = send_first(addr, &startup_of(max + 1));
    let (read_at, read_over) = (processed(&at), processed(&over));
    let (severity, why) = match (read_at, read_over) {
        (true, false) => (
            Severity::Info,
            "the same limit as PostgreSQL: 10000 bytes after the length word",
        ),
        (false, _) => (
            Severity::Low,
            "a startup packet PostgreSQL accepts is refused: clients with many or long options fail",
        ),
        (true, true) => (
            Severity::Low,
            "startup packets past PostgreSQL's 10000-byte limit are read; a larger or missing bound lets a client make the server buffer more",
        ),
    };
    let upper = Finding::new(
        "startup.max-length",
        severity,
        format!(
            "{max}-byte StartupMessage: {}; {}-byte: {}",
            conn::compact(&at),
            max + 1,
            conn::compact(&over)
        ),
        why,
    );
    let short = crate::client::packet::encode(
        &[Packet::Detailed(PacketSpec::Length {
            length: 7,
            filler: 3,
        })],
        None,
    )
    .0;
    let seven = send_first(addr, &short);
    let (severity, why) = if processed(&seven) {
        (
            Severity::Low,
            "a packet shorter than the protocol's 8-byte minimum was taken for a startup packet",
        )
    } else if seven.end == Some(conn::End::Timeout) && seven.silent() {
        (
            Severity::Low,
            "the server waits on a length the protocol forbids instead of refusing it, as PostgreSQL does at once",
        )
    } else {
        (
            Severity::Info,
            "refused at once, as PostgreSQL refuses a length under 8",
        )
    };
    let lower = Finding::new(
        "startup.min-length",
        severity,
        format!("length word 7: {}", conn::compact(&seven)),
        why,
    );
    vec![upper, lower]
}
