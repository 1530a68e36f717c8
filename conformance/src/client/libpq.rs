//! libpq steps: libpq's connection sequence for each `sslmode` (fe-connect.c of libpq 15)
//! carried out with the client's own steps, so its traces read like the raw steps'.

use pgssl_server::wire::{ProtocolVersion, StartupMessage, StartupPacket};

use super::{Client, Conn};
use crate::case::{LibpqStep, SslMode, TlsStep};

/// How a libpq login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Login {
    /// ReadyForQuery.
    Ready,
    /// An ErrorResponse in plaintext.
    Refused,
    /// An ErrorResponse over SSL.
    RefusedOverSsl,
    /// The TLS handshake failed.
    HandshakeFailed,
    /// Anything else (EOF, timeout, libpq's own error).
    Other,
}

impl Client<'_> {
    /// libpq's connection sequence for `step.sslmode` (fe-connect.c of libpq 15): `allow`
    /// retries with SSL after a refused plaintext login; `prefer` goes on in plaintext after
    /// N, and retries without SSL after a failed handshake or a login refused over SSL;
    /// `require` and stronger give up on N.
    pub(super) fn libpq(&mut self, step: &LibpqStep) {
        self.trace
            .sent(format!("libpq sslmode={}", step.sslmode.name()));
        let user = step.user.as_deref().unwrap_or("postgres");
        let database = step.database.as_deref().unwrap_or("postgres");
        let startup = StartupPacket::Startup(StartupMessage::new(
            ProtocolVersion::V3_0,
            &[("user", user), ("database", database)],
        ))
        .to_bytes();
        match step.sslmode {
            SslMode::Disable => {
                self.login(&startup);
            }
            SslMode::Allow => {
                if self.login(&startup) == Login::Refused {
                    self.trace.saw("libpq: retry with SSL");
                    self.connect();
                    self.ssl_login(&startup, &step.tls, true);
                }
            }
            SslMode::Prefer => {
                if matches!(
                    self.ssl_login(&startup, &step.tls, true),
                    Login::HandshakeFailed | Login::RefusedOverSsl
                ) {
                    self.trace.saw("libpq: retry without SSL");
                    self.connect();
                    self.login(&startup);
                }
            }
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                self.ssl_login(&startup, &step.tls, false);
            }
        }
    }

    /// Sends the startup packet on the current connection and reads the answer.
    fn login(&mut self, startup: &[u8]) -> Login {
        let mark = self.trace.lines.len();
        self.write(startup);
        self.reading().read_messages();
        let new = &self.trace.lines[mark..];
        if new.iter().any(|l| l == "< ReadyForQuery") {
            Login::Ready
        } else if new.iter().any(|l| l.starts_with("< E ")) {
            Login::Refused
        } else {
            Login::Other
        }
    }

    /// SSLRequest, then a handshake on S and a login over it; on N a plaintext login when
    /// `fall_back`, else libpq's error.
    fn ssl_login(&mut self, startup: &[u8], tls: &TlsStep, fall_back: bool) -> Login {
        self.write(&StartupPacket::ssl_request().to_bytes());
        let mark = self.trace.lines.len();
        self.reading().read_byte();
        let reply = self.trace.lines[mark..].first().cloned();
        match reply.as_deref() {
            Some("< S") => {
                self.tls(tls);
                if !matches!(self.conn, Conn::Tls(_)) {
                    return Login::HandshakeFailed;
                }
                match self.login(startup) {
                    Login::Refused => Login::RefusedOverSsl,
                    other => other,
                }
            }
            Some("< N") if fall_back => self.login(startup),
            Some("< N") => {
                self.trace
                    .saw("libpq: server does not support SSL, but SSL was required");
                self.conn = Conn::Gone;
                Login::Other
            }
            _ => Login::Other,
        }
    }
}
