//! The probe's connections: a bounded TCP connect, the one-byte replies to encryption
//! requests, and backend messages read under a time and size limit, each read summed up as
//! the short text a finding quotes (`S`, `E FATAL 08P01 …`, `closed`, `reset`, `timeout`).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pgssl_server::wire::backend::{Authentication, decode_v2_error};
use pgssl_server::wire::{BackendMessage, ProtocolVersion, StartupMessage, StartupPacket};

/// How long a connect, or one read the probe expects an answer to, may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The most bytes one read step keeps: a startup reply is a few hundred.
pub const MAX_READ: usize = 64 * 1024;

/// A TCP connection to `addr` with the probe's timeouts.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// The StartupMessage the probe sends: protocol 3.0, user and database `postgres`.
pub fn startup() -> Vec<u8> {
    StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion::V3_0,
        &[("user", "postgres"), ("database", "postgres")],
    ))
    .to_bytes()
}

/// How a read ended without data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// EOF.
    Closed,
    /// EOF after the peer's TLS close_notify.
    CloseNotify,
    /// ECONNRESET.
    Reset,
    /// Nothing within the time allowed.
    Timeout,
    /// Another error.
    Failed(String),
}

impl End {
    /// The text findings quote.
    pub fn text(&self) -> String {
        match self {
            Self::Closed => "closed".into(),
            Self::CloseNotify => "closed (close_notify)".into(),
            Self::Reset => "reset".into(),
            Self::Timeout => "timeout".into(),
            Self::Failed(e) => format!("read failed: {e}"),
        }
    }

    /// Whether the server ended the connection (rather than the probe giving up waiting).
    pub fn is_close(&self) -> bool {
        !matches!(self, Self::Timeout)
    }
}

/// The end an I/O error means.
pub fn end_of(e: &io::Error) -> End {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => End::Timeout,
        ErrorKind::ConnectionReset => End::Reset,
        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => {
            End::Closed
        }
        _ => End::Failed(crate::client::io_reason(e)),
    }
}

/// The reply to an encryption request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A single byte (`S`, `N`, `G`, or anything else).
    Byte(u8),
    /// An ErrorResponse where the byte belongs (old servers; the protocol allows it).
    Error(String),
    /// Bytes starting with `E` that are no error message, in hex.
    Bytes(String),
    /// No byte.
    Nothing(End),
}

impl Reply {
    /// The text findings quote.
    pub fn text(&self) -> String {
        match self {
            Self::Byte(b @ (b'S' | b'N' | b'G')) => (*b as char).to_string(),
            Self::Byte(b) => format!("byte 0x{b:02x}"),
            Self::Error(e) => e.clone(),
            Self::Bytes(hex) => format!("bytes {hex}"),
            Self::Nothing(end) => end.text(),
        }
    }
}

/// Reads one reply byte (or the ErrorResponse that stands in for it).
pub fn read_reply(io: &mut impl Read) -> Reply {
    let mut b = [0u8; 1];
    match io.read(&mut b) {
        Ok(0) => Reply::Nothing(End::Closed),
        Ok(_) if b[0] == b'E' => {
            let mut buf = b.to_vec();
            let mut chunk = [0u8; 1024];
            if let Ok(n) = io.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
            }
            // `E` and an upper-case letter: a protocol-2 error (`EFATAL:  …`), text to a NUL.
            if buf.get(1).is_some_and(u8::is_ascii_uppercase) {
                while !buf.contains(&0) && buf.len() < MAX_READ {
                    match io.read(&mut chunk) {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
                return match decode_v2_error(&buf) {
                    Some((text, _)) => Reply::Error(format!("protocol-2 error {text}")),
                    None => Reply::Bytes(hex(&buf)),
                };
            }
            let all = hex(&buf);
            match read_more(io, &mut buf) {
                Exchange { messages, .. } if !messages.is_empty() => {
                    Reply::Error(messages.join("; "))
                }
                _ => Reply::Bytes(all),
            }
        }
        Ok(_) => Reply::Byte(b[0]),
        Err(e) => Reply::Nothing(end_of(&e)),
    }
}

/// Writes `bytes`, then reads the reply byte.
pub fn request(io: &mut (impl Read + Write), bytes: &[u8]) -> Reply {
    if let Err(e) = io.write_all(bytes).and_then(|()| io.flush()) {
        return Reply::Nothing(end_of(&e));
    }
    read_reply(io)
}

/// What a read step got: the messages, each summed up, and how it stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exchange {
    /// Each message: `AuthenticationOk`, `E FATAL 08P01 message`, `ReadyForQuery`, ….
    pub messages: Vec<String>,
    /// How the read ended, when it ended on the connection rather than on a message that
    /// completes a step (ReadyForQuery, a FATAL error, a password request).
    pub end: Option<End>,
    /// Bytes that are no backend message (garbage), in hex, at most 16.
    pub garbage: Option<String>,
}

impl Exchange {
    /// Everything, as one line.
    pub fn text(&self) -> String {
        let mut parts = self.messages.clone();
        if let Some(g) = &self.garbage {
            parts.push(format!("bytes {g}"));
        }
        if let Some(end) = &self.end {
            parts.push(end.text());
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }

    /// The SQLSTATE of the first ErrorResponse.
    pub fn error_code(&self) -> Option<&str> {
        self.messages
            .iter()
            .find_map(|m| m.strip_prefix("E "))
            .and_then(|rest| rest.split_whitespace().nth(1))
    }

    /// Whether the server went on with a session: an authentication request or result.
    pub fn authenticated(&self) -> bool {
        self.messages
            .iter()
            .any(|m| m.starts_with("Authentication"))
    }

    /// Whether no byte arrived.
    pub fn silent(&self) -> bool {
        self.messages.is_empty() && self.garbage.is_none()
    }
}

/// Reads backend messages until ReadyForQuery, a FATAL error, an authentication request the
/// probe will not answer, the close, [`IO_TIMEOUT`] without a byte, or [`MAX_READ`] bytes.
pub fn read_messages(io: &mut impl Read) -> Exchange {
    read_more(io, &mut Vec::new())
}

fn read_more(io: &mut impl Read, buf: &mut Vec<u8>) -> Exchange {
    let mut out = Exchange::default();
    let started = Instant::now();
    loop {
        match BackendMessage::decode(buf) {
            Ok(Some((msg, used))) => {
                buf.drain(..used);
                let (text, done) = summary(&msg);
                out.messages.push(text);
                if done {
                    return out;
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => {
                out.garbage = Some(hex(buf));
                return out;
            }
        }
        if buf.len() >= MAX_READ || started.elapsed() > IO_TIMEOUT * 4 {
            out.garbage = Some(hex(buf));
            return out;
        }
        let mut chunk = [0u8; 4096];
        match io.read(&mut chunk) {
            Ok(0) => {
                if !buf.is_empty() {
                    out.garbage = Some(hex(buf));
                }
                out.end = Some(End::Closed);
                return out;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                if !buf.is_empty() {
                    out.garbage = Some(hex(buf));
                }
                out.end = Some(end_of(&e));
                return out;
            }
        }
    }
}

/// Up to 16 bytes in hex, with `…` when there were more.
pub fn hex(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 16 {
        s.push('…');
    }
    s
}

/// A message summed up, and whether a read step ends with it.
fn summary(msg: &BackendMessage) -> (String, bool) {
    match msg {
        BackendMessage::Authentication(Authentication::Ok) => ("AuthenticationOk".into(), false),
        BackendMessage::Authentication(Authentication::CleartextPassword) => {
            ("AuthenticationCleartextPassword".into(), true)
        }
        BackendMessage::Authentication(Authentication::Md5Password(_)) => {
            ("AuthenticationMD5Password".into(), true)
        }
        BackendMessage::Authentication(Authentication::Other { code, .. }) => {
            (format!("Authentication request {code}"), true)
        }
        BackendMessage::ErrorResponse(e) => {
            let severity = e.severity().map_or("?", |s| s.as_str());
            (
                format!("E {severity} {} {}", e.code(), e.message()),
                severity == "FATAL" || severity == "PANIC",
            )
        }
        BackendMessage::NoticeResponse(n) => {
            let severity = n.severity().map_or("?", |s| s.as_str());
            (format!("N {severity} {}", n.code()), false)
        }
        BackendMessage::ReadyForQuery(_) => ("ReadyForQuery".into(), true),
        BackendMessage::ParameterStatus { .. } => ("ParameterStatus".into(), false),
        BackendMessage::BackendKeyData { .. } => ("BackendKeyData".into(), false),
        BackendMessage::NegotiateProtocolVersion { .. } => {
            ("NegotiateProtocolVersion".into(), false)
        }
        other => (format!("{other:?}").chars().take(40).collect(), false),
    }
}

/// Collapses repeated ParameterStatus entries so a summary stays one short line.
pub fn compact(exchange: &Exchange) -> String {
    let mut e = exchange.clone();
    let n = e
        .messages
        .iter()
        .filter(|m| *m == "ParameterStatus")
        .count();
    e.messages.retain(|m| m != "ParameterStatus");
    if n > 0 {
        let at = e
            .messages
            .iter()
            .position(|m| m == "BackendKeyData" || m == "ReadyForQuery")
            .unwrap_or(e.messages.len());
        e.messages.insert(at, format!("{n}×ParameterStatus"));
    }
    e.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgssl_server::wire::{ErrorFields, Severity as PgSeverity, TransactionStatus};

    fn bytes(msgs: &[BackendMessage]) -> Vec<u8> {
        msgs.iter().flat_map(|m| m.to_bytes()).collect()
    }

    #[test]
    fn a_login_reads_to_ready_for_query() {
        let wire = bytes(&[
            BackendMessage::Authentication(Authentication::Ok),
            BackendMessage::ParameterStatus {
                name: "a".into(),
                value: "b".into(),
            },
            BackendMessage::ParameterStatus {
                name: "c".into(),
                value: "d".into(),
            },
            BackendMessage::BackendKeyData {
                pid: 1,
                key: vec![0; 4],
            },
            BackendMessage::ReadyForQuery(TransactionStatus::Idle),
        ]);
        let e = read_messages(&mut wire.as_slice());
        assert!(e.authenticated());
        assert_eq!(e.end, None);
        assert_eq!(
            compact(&e),
            "AuthenticationOk, 2×ParameterStatus, BackendKeyData, ReadyForQuery"
        );
    }

    #[test]
    fn a_fatal_error_ends_the_read_and_names_its_code() {
        let wire = bytes(&[BackendMessage::ErrorResponse(ErrorFields::new(
            PgSeverity::Fatal,
            "08P01",
            "received unencrypted data after SSL request",
        ))]);
        let e = read_messages(&mut wire.as_slice());
        assert_eq!(e.error_code(), Some("08P01"));
        assert!(!e.authenticated());
        assert_eq!(
            e.text(),
            "E FATAL 08P01 received unencrypted data after SSL request"
        );
    }

    #[test]
    fn garbage_and_the_close_are_reported() {
        let e = read_messages(&mut &b"HTTP/1.1 400 Bad Request\r\n"[..]);
        assert!(e.garbage.is_some());
        assert!(!e.silent());
        let e = read_messages(&mut &b""[..]);
        assert!(e.silent());
        assert_eq!(e.text(), "closed");
    }

    #[test]
    fn reply_bytes_and_an_error_in_their_place() {
        assert_eq!(read_reply(&mut &b"S"[..]), Reply::Byte(b'S'));
        assert_eq!(read_reply(&mut &b"N"[..]).text(), "N");
        assert_eq!(read_reply(&mut &b"H"[..]).text(), "byte 0x48");
        assert_eq!(read_reply(&mut &b""[..]).text(), "closed");
        assert_eq!(
            read_reply(&mut &b"EFATAL:  unsupported frontend protocol\n\0"[..]).text(),
            "protocol-2 error FATAL:  unsupported frontend protocol"
        );
        let wire = bytes(&[BackendMessage::ErrorResponse(ErrorFields::new(
            PgSeverity::Fatal,
            "0A000",
            "unsupported frontend protocol 1234.5679",
        ))]);
        assert_eq!(
            read_reply(&mut wire.as_slice()).text(),
            "E FATAL 0A000 unsupported frontend protocol 1234.5679"
        );
    }

    #[test]
    fn io_errors_map_to_ends() {
        assert_eq!(end_of(&io::Error::from(ErrorKind::TimedOut)), End::Timeout);
        assert_eq!(
            end_of(&io::Error::from_raw_os_error(libc::ECONNRESET)),
            End::Reset
        );
        assert!(!End::Timeout.is_close());
        assert!(End::Reset.is_close());
    }
}
