//! The negotiation state machine: everything PostgreSQL's `ProcessSSLStartup` and
//! `ProcessStartupPacket` decide, as pure code over received bytes and events.
//!
//! The machine owns the connection's receive buffer (filled greedily, as PostgreSQL's
//! `pq_recvbuf` does, so bytes a client pipelines behind a request are seen as buffered) and
//! turns [`Event`]s into [`Action`]s: bytes to send, TLS to start, log records, a cancel
//! request, or the finished startup. It performs no IO; the server's connection driver, the
//! fuzzers and the property tests all drive it the same way.
//!
//! Rules implemented here, by the spec's ids: W1 (length word and limits), W2 (CancelRequest),
//! W3 (SSLRequest reply), W4 (bytes pipelined after an encryption request), W5 (repeated
//! requests), W6 (unchecked SSLRequest length), W7 (GSSENCRequest: always `N`, pgssl has no
//! GSSAPI), W8 (protocol version check, v2-format error), W9 (minor version and `_pq_.`
//! options), W10 (parameter layout, user), W11 (a ClientHello where a length word belongs),
//! W12 and B-17 (direct SSL and ALPN, per profile).

use std::collections::VecDeque;

use crate::log::LogRecord;
use crate::profile::{
    AsciiCleaning, Behaviour, CancelLength, NegotiatedVersion, PipelinedAfterSsl,
    RequestBookkeeping, StartupTimeoutExit,
};
use crate::wire::backend::encode_v2_error;
use crate::wire::frontend::{PacketFrame, frame_startup_packet};
use crate::wire::{
    ALPN_POSTGRESQL, BackendMessage, CancelRequest, ErrorFields, GSSENC_REQUEST_CODE,
    MAX_CANCEL_KEY_LENGTH, NAMEDATALEN, ProtocolVersion, REPLY_NO, REPLY_SSL_YES, SSL_REQUEST_CODE,
    Severity, StartupPacket, TLS_HANDSHAKE_RECORD,
};

/// The DETAIL PostgreSQL gives with both "received unencrypted data" errors.
pub const MITM_DETAIL: &str = "This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.";

/// What kind of socket the connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// TCP: SSL can be negotiated.
    Tcp,
    /// A Unix-domain socket: SSL and GSS requests are always answered `N` (A2).
    Unix,
}

/// What the machine needs to know about the server; fixed for the connection.
#[derive(Clone, Debug)]
pub struct NegotiateConfig {
    /// The profile's rules.
    pub behaviour: &'static Behaviour,
    /// SSL is on and its context loaded (PostgreSQL's `LoadedSSL`).
    pub ssl_loaded: bool,
    /// The socket kind.
    pub socket: SocketKind,
    /// The protocol range named in the handshake-failure HINT, e.g. `("TLSv1.2", "TLSv1.3")`.
    pub tls_version_range: (String, String),
    /// 18's `trace_connection_negotiation`: log each accept/reject decision.
    pub trace: bool,
}

/// Something that happened on the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Bytes arrived on the current layer (plaintext, or decrypted once TLS is up).
    Received(&'a [u8]),
    /// The peer closed its side.
    Eof,
    /// The TLS handshake asked for by [`Action::StartTls`] completed.
    TlsEstablished {
        /// The ALPN protocol selected, if any.
        alpn: Option<Vec<u8>>,
        /// Bytes of the `prefix` that TLS did not consume.
        unread_prefix: usize,
    },
    /// The TLS handshake failed; the TLS library has already sent its alert, if any.
    TlsFailed {
        /// Why.
        failure: TlsFailure,
        /// Bytes of the `prefix` that TLS did not consume.
        unread_prefix: usize,
    },
    /// `authentication_timeout` passed before startup finished.
    Timeout,
}

/// Why a TLS handshake failed, in the terms PostgreSQL logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsFailure {
    /// The peer went away mid-handshake: `EOF detected`.
    Eof,
    /// The TLS library refused: its reason text, and whether it concerns protocol versions
    /// (which earns the HINT naming the configured range).
    Refused {
        /// The library's reason, e.g. `wrong version number`.
        reason: String,
        /// Add the protocol-range HINT.
        protocol_hint: bool,
    },
    /// A socket error, as `strerror` words it.
    Io(String),
}

/// What the connection driver must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes on the current layer.
    Send(Vec<u8>),
    /// Start a TLS server handshake that reads `prefix` before the socket.
    StartTls {
        /// Bytes received before TLS that the TLS library must read first (17+ semantics;
        /// empty otherwise).
        prefix: Vec<u8>,
        /// Direct SSL (no SSLRequest).
        direct: bool,
    },
    /// Write a record to the server log.
    Log(LogRecord),
    /// A well-formed CancelRequest: check it against running sessions. Nothing is sent back.
    Cancel(CancelRequest),
    /// Startup is complete: authenticate and run the session.
    Startup(Box<StartupInfo>),
    /// Close the connection (with TLS `close_notify` if TLS is up).
    Close,
    /// End the connection as a process exiting at once would: the socket closes, with no
    /// TLS `close_notify` (14+'s startup timeout, `_exit(1)`).
    Abandon,
}

/// Whether the client asked for a replication connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    /// A normal connection.
    No,
    /// Physical replication (`replication=true`).
    Physical,
    /// Logical replication (`replication=database`).
    Database,
}

/// What a finished startup packet established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupInfo {
    /// The version the client asked for.
    pub requested_version: ProtocolVersion,
    /// The version in effect (capped at the server's newest).
    pub version: ProtocolVersion,
    /// `user`, truncated to NAMEDATALEN-1 bytes.
    pub user: String,
    /// `database` (defaults to the user), truncated likewise.
    pub database: String,
    /// `options`, if sent.
    pub options: Option<String>,
    /// `replication`.
    pub replication: Replication,
    /// `application_name`, cleaned to ASCII.
    pub application_name: Option<String>,
    /// Every other parameter, in order.
    pub settings: Vec<(String, String)>,
    /// TLS is in use.
    pub ssl_in_use: bool,
    /// TLS was started directly, without an SSLRequest.
    pub direct_ssl: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    Plain,
    Tls { direct: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Reading,
    Handshaking { direct: bool },
    Finished,
}

/// The state machine for one connection.
#[derive(Debug)]
pub struct Negotiator {
    config: NegotiateConfig,
    buf: Vec<u8>,
    ssl_done: bool,
    gss_done: bool,
    first_packet: bool,
    layer: Layer,
    phase: Phase,
    out: VecDeque<Action>,
}

impl Negotiator {
    /// A machine for a new connection.
    pub fn new(config: NegotiateConfig) -> Self {
        Self {
            config,
            buf: Vec::new(),
            ssl_done: false,
            gss_done: false,
            first_packet: true,
            layer: Layer::Plain,
            phase: Phase::Reading,
            out: VecDeque::new(),
        }
    }

    /// Feeds one event; the resulting actions are then available from [`Self::poll_action`].
    pub fn handle(&mut self, event: Event<'_>) {
        if self.phase == Phase::Finished {
            return;
        }
        match event {
            Event::Received(bytes) => {
                self.buf.extend_from_slice(bytes);
                if self.phase == Phase::Reading {
                    self.advance();
                }
            }
            Event::Eof => self.on_eof(),
            Event::TlsEstablished {
                alpn,
                unread_prefix,
            } => self.on_tls_established(alpn, unread_prefix),
            Event::TlsFailed {
                failure,
                unread_prefix,
            } => self.on_tls_failed(failure, unread_prefix),
            // PostgreSQL's startup-packet timeout handler exits without a word; before 14 it
            // ran the exit callbacks (TLS shut down), since then not.
            Event::Timeout => match self.config.behaviour.startup_timeout_exit {
                StartupTimeoutExit::ProcExit => self.close(),
                StartupTimeoutExit::Immediate => {
                    self.emit(Action::Abandon);
                    self.phase = Phase::Finished;
                }
            },
        }
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// The machine has closed the connection or handed it to the session.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// A TLS handshake is in progress.
    pub fn is_handshaking(&self) -> bool {
        matches!(self.phase, Phase::Handshaking { .. })
    }

    /// Bytes received and not yet consumed; after [`Action::Startup`], these are the first
    /// bytes of the session (a client may pipeline its first query).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// How many bytes are buffered.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    fn behaviour(&self) -> &'static Behaviour {
        self.config.behaviour
    }

    fn emit(&mut self, action: Action) {
        self.out.push_back(action);
    }

    fn log(&mut self, record: LogRecord) {
        self.emit(Action::Log(record));
    }

    fn trace(&mut self, message: &str) {
        if self.config.trace {
            self.log(LogRecord::log(message));
        }
    }

    fn close(&mut self) {
        self.emit(Action::Close);
        self.phase = Phase::Finished;
    }

    fn fatal(&mut self, error: ErrorFields) {
        self.log(LogRecord::from(&error));
        self.emit(Action::Send(
            BackendMessage::ErrorResponse(error).to_bytes(),
        ));
        self.close();
    }

    fn commerror(&mut self, message: &str) {
        self.log(LogRecord::log(message));
        self.close();
    }

    fn ssl_possible(&self) -> bool {
        self.config.ssl_loaded && self.config.socket == SocketKind::Tcp
    }

    fn advance(&mut self) {
        while self.phase == Phase::Reading && !self.buf.is_empty() {
            if self.first_packet {
                self.first_packet = false;
                if self.behaviour().direct_ssl && self.buf[0] == TLS_HANDSHAKE_RECORD {
                    self.start_direct_ssl();
                    return;
                }
            }
            match frame_startup_packet(&self.buf) {
                PacketFrame::NeedLength { .. } | PacketFrame::NeedBody { .. } => return,
                PacketFrame::InvalidLength { .. } => {
                    self.commerror("invalid length of startup packet");
                    return;
                }
                PacketFrame::Complete { total } => {
                    let packet: Vec<u8> = self.buf.drain(..total).collect();
                    match StartupPacket::decode(&packet) {
                        Ok(packet) => self.on_packet(packet),
                        // Framing guarantees a decodable packet; refuse rather than panic.
                        Err(_) => self.commerror("invalid length of startup packet"),
                    }
                }
            }
        }
    }

    fn start_direct_ssl(&mut self) {
        if !self.ssl_possible() {
            self.trace("direct SSL connection rejected");
            self.close();
            return;
        }
        let prefix = std::mem::take(&mut self.buf);
        self.emit(Action::StartTls {
            prefix,
            direct: true,
        });
        self.phase = Phase::Handshaking { direct: true };
    }

    fn on_packet(&mut self, packet: StartupPacket) {
        match packet {
            StartupPacket::Cancel(cancel) => self.on_cancel(cancel),
            StartupPacket::SslRequest { .. } if !self.ssl_done => self.on_ssl_request(),
            StartupPacket::GssEncRequest { .. } if !self.gss_done => self.on_gssenc_request(),
            StartupPacket::SslRequest { .. } => {
                self.on_startup(ProtocolVersion(SSL_REQUEST_CODE), &[])
            }
            StartupPacket::GssEncRequest { .. } => {
                self.on_startup(ProtocolVersion(GSSENC_REQUEST_CODE), &[])
            }
            StartupPacket::Startup(msg) => self.on_startup(msg.version, &msg.raw_parameters),
        }
    }

    fn on_cancel(&mut self, cancel: CancelRequest) {
        match self.behaviour().cancel_length {
            CancelLength::Fixed16 if cancel.payload.len() != 8 => {
                self.commerror("invalid length of startup packet");
            }
            CancelLength::Variable if cancel.payload.len() < 4 => {
                self.commerror("invalid length of cancel request packet");
            }
            CancelLength::Variable
                if cancel.key().is_empty() || cancel.key().len() > MAX_CANCEL_KEY_LENGTH =>
            {
                self.commerror("invalid length of cancel key in cancel request packet");
            }
            _ => {
                self.emit(Action::Cancel(cancel));
                self.close();
            }
        }
    }

    fn on_ssl_request(&mut self) {
        let in_tls = matches!(self.layer, Layer::Tls { .. });
        let accept = !in_tls && self.ssl_possible();
        self.trace(if accept {
            "SSLRequest accepted"
        } else {
            "SSLRequest rejected"
        });
        self.emit(Action::Send(vec![if accept {
            REPLY_SSL_YES
        } else {
            REPLY_NO
        }]));
        if accept {
            let prefix = match self.behaviour().pipelined_after_ssl {
                PipelinedAfterSsl::RefuseAfterHandshake => Vec::new(),
                PipelinedAfterSsl::FeedIntoTls => std::mem::take(&mut self.buf),
            };
            self.emit(Action::StartTls {
                prefix,
                direct: false,
            });
            self.phase = Phase::Handshaking { direct: false };
            return;
        }
        if self.refuse_pipelined("received unencrypted data after SSL request") {
            return;
        }
        self.ssl_done = true;
        if self.behaviour().request_bookkeeping == RequestBookkeeping::Recomputed {
            // 15: ProcessStartupPacket(port, true, SSLok == 'S').
            self.gss_done = false;
        }
    }

    fn on_gssenc_request(&mut self) {
        self.trace("GSSENCRequest rejected");
        self.emit(Action::Send(vec![REPLY_NO]));
        if self.refuse_pipelined("received unencrypted data after GSSAPI encryption request") {
            return;
        }
        self.gss_done = true;
        if self.behaviour().request_bookkeeping == RequestBookkeeping::Recomputed {
            // 15: ProcessStartupPacket(port, GSSok == 'G', true).
            self.ssl_done = false;
        }
    }

    /// The CVE-2021-23214 check: bytes still buffered after an encryption reply were not
    /// protected by what was negotiated.
    fn refuse_pipelined(&mut self, message: &str) -> bool {
        if self.buf.is_empty() {
            return false;
        }
        let error = ErrorFields::new(Severity::Fatal, "08P01", message).with_detail(MITM_DETAIL);
        if self.behaviour().pre_startup_errors_v2 {
            self.fatal_v2(error);
        } else {
            self.fatal(error);
        }
        true
    }

    /// A FATAL in protocol 2's format (`E`, the text, NUL: no SQLSTATE, no DETAIL), for a
    /// client that has not (yet) named protocol 3; the log keeps every field.
    fn fatal_v2(&mut self, error: ErrorFields) {
        self.log(LogRecord::from(&error));
        let mut bytes = Vec::new();
        encode_v2_error(Severity::Fatal, error.message(), &mut bytes);
        self.emit(Action::Send(bytes));
        self.close();
    }

    fn on_tls_established(&mut self, alpn: Option<Vec<u8>>, unread_prefix: usize) {
        let Phase::Handshaking { direct } = self.phase else {
            return;
        };
        self.layer = Layer::Tls { direct };
        if alpn.as_deref().is_some_and(|p| p != ALPN_POSTGRESQL) {
            self.log(LogRecord::log(
                "received SSL connection request with unexpected ALPN protocol",
            ));
            self.reject_tls(direct);
            return;
        }
        if unread_prefix > 0 {
            self.log(LogRecord::log(
                "buffered unencrypted data remains after negotiating SSL connection",
            ));
            self.reject_tls(direct);
            return;
        }
        self.phase = Phase::Reading;
        if direct {
            if alpn.is_none() {
                self.log(LogRecord::log(
                    "received direct SSL connection request without ALPN protocol negotiation extension",
                ));
                self.reject_tls(true);
                return;
            }
            self.trace("direct SSL connection accepted");
            // Inside direct SSL, PostgreSQL reads the startup packet with ssl_done = false.
        } else {
            if self.refuse_pipelined("received unencrypted data after SSL request") {
                return;
            }
            // ProcessStartupPacket(ssl_done = true, gss_done = true).
            self.ssl_done = true;
            self.gss_done = true;
        }
        self.advance();
    }

    fn on_tls_failed(&mut self, failure: TlsFailure, unread_prefix: usize) {
        let Phase::Handshaking { direct } = self.phase else {
            return;
        };
        let record = match failure {
            TlsFailure::Eof => LogRecord::log("could not accept SSL connection: EOF detected"),
            TlsFailure::Io(err) => {
                LogRecord::log(format!("could not accept SSL connection: {err}"))
            }
            TlsFailure::Refused {
                reason,
                protocol_hint,
            } => {
                let record = LogRecord::log(format!("could not accept SSL connection: {reason}"));
                if protocol_hint {
                    let (min, max) = &self.config.tls_version_range;
                    record.with_hint(format!(
                        "This may indicate that the client does not support any SSL protocol version between {min} and {max}."
                    ))
                } else {
                    record
                }
            }
        };
        self.log(record);
        if unread_prefix > 0 {
            self.log(LogRecord::log(
                "buffered unencrypted data remains after negotiating SSL connection",
            ));
        }
        if direct {
            self.trace("direct SSL connection rejected");
        }
        // The handshake never completed: no close_notify, just drop the socket.
        self.layer = Layer::Plain;
        self.close();
    }

    fn reject_tls(&mut self, direct: bool) {
        if direct {
            self.trace("direct SSL connection rejected");
        }
        self.close();
    }

    fn on_eof(&mut self) {
        if self.phase != Phase::Reading {
            self.close();
            return;
        }
        match self.buf.len() {
            // Port scanners and health checks connect and leave: not worth a log line.
            0 => {}
            1..=3 => {
                if !self.ssl_done && !self.gss_done {
                    self.log(LogRecord::log("incomplete startup packet"));
                }
            }
            _ => self.log(LogRecord::log("incomplete startup packet")),
        }
        self.close();
    }

    fn on_startup(&mut self, requested: ProtocolVersion, raw: &[u8]) {
        let behaviour = self.behaviour();
        let (oldest, latest) = (behaviour.oldest_protocol, behaviour.latest_protocol);
        if requested.major() < oldest.major() || requested.major() > latest.major() {
            let message = format!(
                "unsupported frontend protocol {requested}: server supports {}.0 to {}.{}",
                oldest.major(),
                latest.major(),
                latest.minor()
            );
            let error = ErrorFields::new(Severity::Fatal, "0A000", message);
            if requested.major() < 3 {
                // elog.c still speaks protocol 2 to refuse a protocol-2 client.
                self.fatal_v2(error);
            } else {
                self.fatal(error);
            }
            return;
        }
        if requested.major() < 3 {
            self.on_v2_startup(raw);
            return;
        }
        let msg = crate::wire::StartupMessage {
            version: requested,
            raw_parameters: raw.to_vec(),
        };
        let (params, layout) = msg.scan_parameters();
        let mut info = StartupInfo {
            requested_version: requested,
            version: requested.min(latest),
            user: String::new(),
            database: String::new(),
            options: None,
            replication: Replication::No,
            application_name: None,
            settings: Vec::new(),
            ssl_in_use: matches!(self.layer, Layer::Tls { .. }),
            direct_ssl: self.layer == Layer::Tls { direct: true },
        };
        let mut unrecognized = Vec::new();
        for p in &params {
            let value = p.value_lossy();
            match p.name.as_slice() {
                b"user" => info.user = truncate_name(&p.value),
                b"database" => info.database = truncate_name(&p.value),
                b"options" => info.options = Some(value),
                b"replication" => match replication_value(&value) {
                    Some(r) => info.replication = r,
                    None => {
                        let error = ErrorFields::new(
                            Severity::Fatal,
                            "22023",
                            format!("invalid value for parameter \"replication\": \"{value}\""),
                        )
                        .with_hint("Valid values are: \"false\", 0, \"true\", 1, \"database\".");
                        self.fatal(error);
                        return;
                    }
                },
                name if name.starts_with(b"_pq_.") => unrecognized.push(p.name_lossy()),
                name => {
                    if name == b"application_name" {
                        info.application_name =
                            Some(clean_ascii(&p.value, behaviour.ascii_cleaning));
                    }
                    info.settings.push((p.name_lossy(), value));
                }
            }
        }
        if layout.is_err() {
            self.fatal(ErrorFields::new(
                Severity::Fatal,
                "08P01",
                "invalid startup packet layout: expected terminator as last byte",
            ));
            return;
        }
        if requested.minor() > latest.minor() || !unrecognized.is_empty() {
            let newest = match behaviour.negotiated_version {
                NegotiatedVersion::Latest => latest,
                NegotiatedVersion::RequestedCapped => info.version,
            };
            self.emit(Action::Send(
                BackendMessage::NegotiateProtocolVersion {
                    newest,
                    unrecognized,
                }
                .to_bytes(),
            ));
        }
        if info.user.is_empty() {
            self.fatal(ErrorFields::new(
                Severity::Fatal,
                "28000",
                "no PostgreSQL user name specified in startup packet",
            ));
            return;
        }
        if info.database.is_empty() {
            info.database = info.user.clone();
        }
        self.emit(Action::Startup(Box::new(info)));
        self.phase = Phase::Finished;
    }
}

/// Protocol 2's fixed-width startup packet after its version word: database (64 bytes), user
/// (32), options, two unused fields (`StartupPacket` in 13's pqcomm.h); a short packet reads as
/// zeros. The user field starts where the database field ends.
const V2_USER_AT: usize = 64;

impl Negotiator {
    /// A protocol-2.0 StartupPacket (13): the user is checked as 13 checks it. pgssl runs no
    /// protocol-2 session, so a packet that names a user is refused with a protocol-2 FATAL
    /// saying so, where 13 would go on to authenticate (README, "Known limits").
    fn on_v2_startup(&mut self, raw: &[u8]) {
        // 13 asks only whether the user name is empty: its first byte is NUL or missing.
        let user_given = raw.get(V2_USER_AT).is_some_and(|&b| b != 0);
        let error = if !user_given {
            ErrorFields::new(
                Severity::Fatal,
                "28000",
                "no PostgreSQL user name specified in startup packet",
            )
        } else {
            ErrorFields::new(
                Severity::Fatal,
                "0A000",
                "pgssl does not run protocol 2.0 sessions (PostgreSQL 13 would authenticate this client)",
            )
        };
        self.fatal_v2(error);
    }
}

fn truncate_name(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(NAMEDATALEN - 1)];
    String::from_utf8_lossy(cut).into_owned()
}

/// `replication`: a Boolean as `parse_bool` reads it, or `database`.
fn replication_value(value: &str) -> Option<Replication> {
    if value == "database" {
        return Some(Replication::Database);
    }
    crate::config::value::parse_bool(value).map(|on| {
        if on {
            Replication::Physical
        } else {
            Replication::No
        }
    })
}

/// `pg_clean_ascii`: bytes outside printable ASCII are replaced.
pub fn clean_ascii(raw: &[u8], how: AsciiCleaning) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if (0x20..=0x7E).contains(&b) {
            out.push(b as char);
        } else {
            match how {
                AsciiCleaning::QuestionMark => out.push('?'),
                AsciiCleaning::HexEscape => out.push_str(&format!("\\x{b:02x}")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
