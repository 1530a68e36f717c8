//! A driver for [`Negotiator`] that plays the part of the server's connection loop and a
//! TLS library, and checks after every event what must hold whatever the client sends:
//!
//! - nothing panics, and every log record renders;
//! - every one-byte reply (`S`/`N`) answers an SSLRequest or GSSENCRequest of the current
//!   layer, in order, `S` only to an SSLRequest; with sticky bookkeeping (18) each kind is
//!   answered at most once per layer;
//! - no byte received before the TLS handshake is ever read as post-TLS data (the
//!   CVE-2021-23214 class): at `StartTls` the prefix plus what stays buffered is exactly what
//!   the client pipelined after the SSLRequest; if any of it is left over when TLS is up the
//!   connection is refused; otherwise the buffer is empty, and the packet a `Startup` comes
//!   from is framed from the current layer's bytes alone (checked by decoding it
//!   independently and comparing user and database);
//! - a length word outside 8..=10004 closes the connection as soon as it is complete, and
//!   the machine never buffers a whole packet's worth without acting on it;
//! - every multi-byte reply decodes as a backend message (or a protocol-2 error);
//! - once finished, the machine does nothing more; after `Eof` or `Timeout` it is finished.

use arbitrary::Arbitrary;
use pgssl_server::negotiate::{
    Action, Event, NegotiateConfig, Negotiator, SocketKind, StartupInfo, TlsFailure,
};
use pgssl_server::profile::{Behaviour, PipelinedAfterSsl, Profile, RequestBookkeeping};
use pgssl_server::wire::backend::decode_v2_error;
use pgssl_server::wire::frontend::frame_startup_packet;
use pgssl_server::wire::{
    BackendMessage, MAX_STARTUP_PACKET_LENGTH, NAMEDATALEN, PacketFrame, StartupPacket,
    TLS_HANDSHAKE_RECORD,
};

/// Profile codes: 0 to 3 keep the meaning they had when only the seed, 15 and 18 existed (so
/// the corpus keeps its meaning), 4 to 7 are the versions added since.
pub const PROFILE_CODES: [Profile; 8] = [
    Profile::Seed,
    Profile::Pg15,
    Profile::Pg18,
    Profile::Pg18,
    Profile::Pg13,
    Profile::Pg14,
    Profile::Pg16,
    Profile::Pg17,
];

/// The server side of a connection, as the fuzzer chooses it.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct ServerChoice {
    /// Which PostgreSQL to behave like: a code into [`PROFILE_CODES`] (taken modulo 8).
    pub profile: u8,
    /// `ssl = on` with a loaded context.
    pub ssl_loaded: bool,
    /// A Unix-domain socket rather than TCP.
    pub unix: bool,
    /// `trace_connection_negotiation`.
    pub trace: bool,
}

impl ServerChoice {
    /// The profile selected.
    pub fn profile(&self) -> Profile {
        PROFILE_CODES[usize::from(self.profile) % PROFILE_CODES.len()]
    }

    fn config(&self) -> NegotiateConfig {
        NegotiateConfig {
            behaviour: self.profile().behaviour(),
            ssl_loaded: self.ssl_loaded,
            socket: if self.unix {
                SocketKind::Unix
            } else {
                SocketKind::Tcp
            },
            tls_version_range: ("TLSv1.2".into(), "TLSv1.3".into()),
            trace: self.trace,
        }
    }
}

/// How the simulated TLS handshake ends.
#[derive(Arbitrary, Clone, Debug)]
pub enum TlsOutcome {
    /// The handshake completes with this ALPN choice; the TLS library left `unread` bytes
    /// of the prefix (taken modulo the prefix length plus one).
    Established {
        /// ALPN selected.
        alpn: Alpn,
        /// Unread prefix bytes.
        unread: u16,
    },
    /// `authentication_timeout` fires during the handshake.
    TimedOut,
    /// The handshake fails.
    Failed {
        /// How.
        failure: Failure,
        /// Unread prefix bytes.
        unread: u16,
    },
}

/// ALPN as the TLS library reports it.
#[derive(Arbitrary, Clone, Debug)]
pub enum Alpn {
    /// No ALPN extension.
    None,
    /// `postgresql`.
    Postgresql,
    /// Something else.
    Other(Vec<u8>),
}

/// A handshake failure.
#[derive(Arbitrary, Clone, Debug)]
pub enum Failure {
    /// `EOF detected`.
    Eof,
    /// The library refused, with a reason.
    Refused {
        /// Reason text.
        reason: String,
        /// Add the protocol-range HINT.
        protocol_hint: bool,
    },
    /// A socket error.
    Io(String),
}

/// What the shadow framer finds in one layer's bytes.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Kind {
    Ssl,
    Gss,
    Cancel,
    Startup,
}

struct Shadow {
    /// Complete packets in order: kind and byte range.
    packets: Vec<(Kind, usize, usize)>,
    /// The framing stopped on an invalid length word.
    invalid: bool,
}

fn shadow_frame(stream: &[u8], direct_ssl_possible: bool) -> Shadow {
    let mut packets = Vec::new();
    if direct_ssl_possible && stream.first() == Some(&TLS_HANDSHAKE_RECORD) {
        return Shadow {
            packets,
            invalid: false,
        };
    }
    let mut pos = 0;
    loop {
        match frame_startup_packet(&stream[pos..]) {
            PacketFrame::Complete { total } => {
                let bytes = &stream[pos..pos + total];
                let kind = match StartupPacket::decode(bytes).expect("framed packets decode") {
                    StartupPacket::SslRequest { .. } => Kind::Ssl,
                    StartupPacket::GssEncRequest { .. } => Kind::Gss,
                    StartupPacket::Cancel(_) => Kind::Cancel,
                    StartupPacket::Startup(_) => Kind::Startup,
                };
                packets.push((kind, pos, pos + total));
                pos += total;
            }
            PacketFrame::InvalidLength { .. } => {
                return Shadow {
                    packets,
                    invalid: true,
                };
            }
            PacketFrame::NeedLength { .. } | PacketFrame::NeedBody { .. } => {
                return Shadow {
                    packets,
                    invalid: false,
                };
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LayerKind {
    Plain,
    Tls { direct: bool },
}

/// The driver. Feed it client bytes with [`Driver::received`]; it answers `StartTls` with
/// the next [`TlsOutcome`] from its script.
pub struct Driver {
    choice: ServerChoice,
    behaviour: &'static Behaviour,
    m: Negotiator,
    tls_script: Vec<TlsOutcome>,
    /// Bytes received on the current layer, in order.
    stream: Vec<u8>,
    layer: LayerKind,
    /// One-byte replies sent on the current layer, with the packet index they answer.
    replies: Vec<u8>,
    /// Where the current layer's readable packets end (after an `S`).
    layer_end: Option<usize>,
    /// Pipelined bytes still unaccounted for when TLS came up.
    pending_tls: bool,
    startups: usize,
    finished_seen: bool,
    /// Every action, for differential checks between drivers.
    pub transcript: Vec<Action>,
}

impl Driver {
    /// A driver for a fresh connection.
    pub fn new(choice: ServerChoice, tls_script: Vec<TlsOutcome>) -> Self {
        let mut tls_script = tls_script;
        tls_script.reverse();
        Self {
            choice,
            behaviour: choice.profile().behaviour(),
            m: Negotiator::new(choice.config()),
            tls_script,
            stream: Vec::new(),
            layer: LayerKind::Plain,
            replies: Vec::new(),
            layer_end: None,
            pending_tls: false,
            startups: 0,
            finished_seen: false,
            transcript: Vec::new(),
        }
    }

    /// The machine has finished.
    pub fn is_finished(&self) -> bool {
        self.m.is_finished()
    }

    fn ssl_possible(&self) -> bool {
        self.choice.ssl_loaded && !self.choice.unix
    }

    /// Client bytes arrive on the current layer.
    pub fn received(&mut self, chunk: &[u8]) {
        if self.m.is_finished() {
            self.m.handle(Event::Received(chunk));
            assert!(self.m.poll_action().is_none(), "acted after finishing");
            return;
        }
        assert!(
            !self.m.is_handshaking(),
            "driver fed bytes during a handshake"
        );
        self.stream.extend_from_slice(chunk);
        self.m.handle(Event::Received(chunk));
        self.drain();
        self.check_framing();
    }

    /// The client closes its side.
    pub fn eof(&mut self) {
        self.m.handle(Event::Eof);
        self.drain();
        assert!(self.m.is_finished(), "not finished after EOF");
    }

    /// `authentication_timeout` fires.
    pub fn timeout(&mut self) {
        self.m.handle(Event::Timeout);
        self.drain();
        assert!(self.m.is_finished(), "not finished after timeout");
    }

    /// A TLS event that no handshake asked for: the machine must ignore it.
    pub fn spurious_tls(&mut self, outcome: &TlsOutcome) {
        assert!(!self.m.is_handshaking());
        if matches!(outcome, TlsOutcome::TimedOut) {
            // A timeout is never spurious.
            return;
        }
        let before = self.m.is_finished();
        self.m.handle(tls_event(outcome, 0));
        assert!(
            self.m.poll_action().is_none(),
            "acted on a spurious TLS event"
        );
        assert_eq!(before, self.m.is_finished());
    }

    fn drain(&mut self) {
        while let Some(action) = self.m.poll_action() {
            assert!(
                !self.finished_seen,
                "action after Close/Startup: {action:?}"
            );
            self.transcript.push(action.clone());
            self.on_action(action);
        }
        if self.m.is_finished() {
            self.finished_seen = true;
        }
    }

    fn direct_possible(&self) -> bool {
        self.layer == LayerKind::Plain && self.behaviour.direct_ssl
    }

    fn on_action(&mut self, action: Action) {
        match action {
            Action::Send(bytes) if bytes.len() == 1 => self.on_reply(bytes[0]),
            Action::Send(bytes) => {
                let decoded = matches!(BackendMessage::decode(&bytes), Ok(Some((_, n))) if n == bytes.len())
                    || matches!(decode_v2_error(&bytes), Some((_, n)) if n == bytes.len());
                assert!(decoded, "reply does not decode: {bytes:?}");
            }
            Action::Log(record) => {
                assert!(!record.lines().is_empty());
            }
            Action::StartTls { prefix, direct } => self.on_start_tls(prefix, direct),
            Action::Cancel(cancel) => {
                let shadow = shadow_frame(&self.stream, self.direct_possible());
                let (kind, start, end) = shadow.packets[self.replies.len()];
                assert_eq!(kind, Kind::Cancel);
                assert_eq!(cancel.payload, self.stream[start + 8..end]);
            }
            Action::Startup(info) => self.on_startup(&info),
            Action::Close => {}
            // Only a timeout ends a connection without closing TLS, and only where the
            // profile's timeout handler exits at once (14+).
            Action::Abandon => assert_eq!(
                self.behaviour.startup_timeout_exit,
                pgssl_server::profile::StartupTimeoutExit::Immediate,
                "abandoned a connection under a profile whose timeout shuts TLS down"
            ),
        }
    }

    fn on_reply(&mut self, byte: u8) {
        assert!(
            byte == b'S' || byte == b'N',
            "unexpected reply byte {byte:#x}"
        );
        assert!(self.layer_end.is_none(), "reply after S on the same layer");
        let shadow = shadow_frame(&self.stream, self.direct_possible());
        let index = self.replies.len();
        let Some(&(kind, _, end)) = shadow.packets.get(index) else {
            panic!("reply {index} without a request: {:?}", shadow.packets);
        };
        match (kind, byte) {
            (Kind::Ssl, b'S') => {
                assert!(self.ssl_possible() && self.layer == LayerKind::Plain);
                self.layer_end = Some(end);
            }
            (Kind::Ssl | Kind::Gss, b'N') => {}
            other => panic!("reply {other:?} to packet {index}"),
        }
        if self.behaviour.request_bookkeeping == RequestBookkeeping::Sticky {
            let same_kind = shadow.packets[..index].iter().any(|p| p.0 == kind);
            assert!(!same_kind, "{kind:?} answered twice on one layer");
        }
        self.replies.push(byte);
    }

    fn on_start_tls(&mut self, prefix: Vec<u8>, direct: bool) {
        assert!(self.ssl_possible(), "TLS started though SSL is unavailable");
        assert_eq!(self.layer, LayerKind::Plain, "TLS started twice");
        let pipelined = if direct {
            assert!(self.behaviour.direct_ssl && self.replies.is_empty());
            assert_eq!(self.stream.first(), Some(&TLS_HANDSHAKE_RECORD));
            // The whole stream so far is the ClientHello's start.
            assert_eq!(prefix, self.stream);
            0
        } else {
            let end = self.layer_end.expect("StartTls without S");
            let after = &self.stream[end..];
            // Everything after the SSLRequest is either handed to TLS or still buffered.
            assert_eq!(prefix.len() + self.m.buffered_len(), after.len());
            assert_eq!(prefix, after[..prefix.len()]);
            if self.behaviour.pipelined_after_ssl == PipelinedAfterSsl::RefuseAfterHandshake {
                assert!(prefix.is_empty());
            }
            self.m.buffered_len()
        };
        let outcome = self.tls_script.pop().unwrap_or(TlsOutcome::Established {
            alpn: Alpn::Postgresql,
            unread: 0,
        });
        let unread = match &outcome {
            TlsOutcome::Established { unread, .. } | TlsOutcome::Failed { unread, .. } => {
                usize::from(*unread) % (prefix.len() + 1)
            }
            TlsOutcome::TimedOut => 0,
        };
        assert!(self.m.is_handshaking());
        // Nothing may be queued behind StartTls: it would run on the wrong layer.
        if let Some(action) = self.m.poll_action() {
            panic!("{action:?} queued behind StartTls");
        }
        self.m.handle(tls_event(&outcome, unread));
        // The TLS layer starts empty: the prefix went to the TLS library.
        self.layer = LayerKind::Tls { direct };
        self.stream.clear();
        self.replies.clear();
        self.layer_end = None;
        self.pending_tls = pipelined > 0 || unread > 0;
        assert!(!self.m.is_handshaking());
        if matches!(outcome, TlsOutcome::Failed { .. } | TlsOutcome::TimedOut) {
            assert!(
                self.m.is_finished(),
                "handshake failed but connection goes on"
            );
        }
        if !self.m.is_finished() {
            // CVE-2021-23214: with plaintext left over, the connection must not go on.
            assert!(
                !self.pending_tls,
                "pipelined plaintext ({pipelined} buffered, {unread} unread) survived the handshake"
            );
            assert_eq!(self.m.buffered_len(), 0, "pre-TLS bytes buffered after TLS");
        }
    }

    fn on_startup(&mut self, info: &StartupInfo) {
        self.startups += 1;
        assert_eq!(self.startups, 1, "two startups");
        assert!(!self.pending_tls);
        let tls = matches!(self.layer, LayerKind::Tls { .. });
        assert_eq!(info.ssl_in_use, tls);
        assert_eq!(
            info.direct_ssl,
            self.layer == LayerKind::Tls { direct: true }
        );
        assert!(!info.user.is_empty());
        assert!(info.user.chars().count() < NAMEDATALEN);
        assert!(info.database.chars().count() < NAMEDATALEN);
        // Re-derive the packet from this layer's bytes alone.
        let shadow = shadow_frame(&self.stream, self.direct_possible());
        let (kind, start, end) = shadow.packets[self.replies.len()];
        assert_eq!(kind, Kind::Startup, "startup from a {kind:?} packet");
        let Ok(StartupPacket::Startup(msg)) = StartupPacket::decode(&self.stream[start..end])
        else {
            panic!("shadow packet is not a StartupMessage");
        };
        assert_eq!(msg.version, info.requested_version);
        let params = msg
            .parameters()
            .expect("startup accepted with a bad layout");
        let last = |name: &[u8]| {
            params
                .iter()
                .rev()
                .find(|p| p.name == name)
                .map(|p| truncate(&p.value))
        };
        assert_eq!(last(b"user").as_deref(), Some(info.user.as_str()));
        let database = last(b"database")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| info.user.clone());
        assert_eq!(database, info.database);
        // A client may pipeline its first query behind the startup packet.
        assert_eq!(self.m.buffered_len(), self.stream.len() - end);
    }

    fn check_framing(&mut self) {
        if self.m.is_finished() || self.m.is_handshaking() {
            return;
        }
        // Never more buffered than one incomplete packet.
        assert!(
            self.m.buffered_len() < MAX_STARTUP_PACKET_LENGTH + 4,
            "{} bytes buffered",
            self.m.buffered_len()
        );
        let shadow = shadow_frame(&self.stream, self.direct_possible());
        if shadow.invalid && shadow.packets.len() == self.replies.len() {
            panic!("invalid length word left pending");
        }
        assert!(
            shadow.packets.len() == self.replies.len(),
            "complete packet not acted on"
        );
    }
}

fn truncate(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(NAMEDATALEN - 1)]).into_owned()
}

fn tls_event(outcome: &TlsOutcome, unread_prefix: usize) -> Event<'static> {
    match outcome {
        TlsOutcome::TimedOut => Event::Timeout,
        TlsOutcome::Established { alpn, .. } => Event::TlsEstablished {
            alpn: match alpn {
                Alpn::None => None,
                Alpn::Postgresql => Some(b"postgresql".to_vec()),
                Alpn::Other(p) => Some(p.clone()),
            },
            unread_prefix,
        },
        TlsOutcome::Failed { failure, .. } => Event::TlsFailed {
            failure: match failure {
                Failure::Eof => TlsFailure::Eof,
                Failure::Refused {
                    reason,
                    protocol_hint,
                } => TlsFailure::Refused {
                    reason: reason.clone(),
                    protocol_hint: *protocol_hint,
                },
                Failure::Io(e) => TlsFailure::Io(e.clone()),
            },
            unread_prefix,
        },
    }
}
