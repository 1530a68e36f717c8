//! Messages a client sends: the startup packets that open a connection (SSLRequest,
//! GSSENCRequest, CancelRequest, StartupMessage) and the typed messages that follow startup.

use super::{
    CANCEL_REQUEST_CODE, DecodeError, GSSENC_REQUEST_CODE, MAX_STARTUP_PACKET_LENGTH,
    MIN_STARTUP_PACKET_LENGTH, SSL_REQUEST_CODE, get_u32, put_cstr, put_u32, take_cstr,
};

/// A protocol version as the startup packet carries it: major in the high 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion(pub u32);

impl ProtocolVersion {
    /// Protocol 3.0, the version every current server accepts.
    /// Protocol 2.0 (13 and earlier still spoke it).
    pub const V2_0: Self = Self::new(2, 0);
    pub const V3_0: Self = Self::new(3, 0);
    /// Protocol 3.2, introduced by PostgreSQL 18 (variable-length cancel keys).
    pub const V3_2: Self = Self::new(3, 2);

    /// The version `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self(((major as u32) << 16) | minor as u32)
    }

    /// The major version.
    pub const fn major(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The minor version.
    pub const fn minor(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major(), self.minor())
    }
}

/// How much of a startup packet a buffer holds, judged from its length word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketFrame {
    /// Fewer than four bytes: the length word is not complete.
    NeedLength {
        /// Bytes buffered so far.
        have: usize,
    },
    /// The length word is outside what a server accepts (total 8..=10004).
    InvalidLength {
        /// The length word as sent.
        length: u32,
    },
    /// The length is valid but the packet is not complete yet.
    NeedBody {
        /// Total packet length, length word included.
        total: usize,
    },
    /// A whole packet of `total` bytes is at the front of the buffer.
    Complete {
        /// Total packet length, length word included.
        total: usize,
    },
}

/// Judges how much of a startup packet `buf` holds.
///
/// The limits are PostgreSQL's: the body after the length word must be at least four bytes
/// (the code) and at most [`MAX_STARTUP_PACKET_LENGTH`].
pub fn frame_startup_packet(buf: &[u8]) -> PacketFrame {
    let Some(length) = get_u32(buf, 0) else {
        return PacketFrame::NeedLength { have: buf.len() };
    };
    // PostgreSQL reads the word as a signed int32; a negative length is simply too small.
    let body = i64::from(length as i32) - 4;
    if body < MIN_STARTUP_PACKET_LENGTH as i64 || body > MAX_STARTUP_PACKET_LENGTH as i64 {
        return PacketFrame::InvalidLength { length };
    }
    let total = body as usize + 4;
    if buf.len() < total {
        PacketFrame::NeedBody { total }
    } else {
        PacketFrame::Complete { total }
    }
}

/// One startup-phase packet: a length word, a four-byte code, and what the code implies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartupPacket {
    /// SSLRequest. PostgreSQL does not check its length, so any bytes after the code are kept.
    SslRequest {
        /// Bytes after the code (empty in a canonical request).
        extra: Vec<u8>,
    },
    /// GSSENCRequest; bytes after the code are kept as for SSLRequest.
    GssEncRequest {
        /// Bytes after the code (empty in a canonical request).
        extra: Vec<u8>,
    },
    /// CancelRequest: process id and secret key.
    Cancel(CancelRequest),
    /// Any other code is a protocol version: a StartupMessage.
    Startup(StartupMessage),
}

impl StartupPacket {
    /// Decodes one whole packet (length word included, exactly as framed).
    pub fn decode(packet: &[u8]) -> Result<Self, DecodeError> {
        let what = "startup packet";
        let length = get_u32(packet, 0).ok_or(DecodeError::Truncated {
            what,
            need: 8,
            have: packet.len(),
        })?;
        if length as usize != packet.len() {
            return Err(DecodeError::InvalidLength {
                what,
                length: i64::from(length),
            });
        }
        let code = get_u32(packet, 4).ok_or(DecodeError::Truncated {
            what,
            need: 8,
            have: packet.len(),
        })?;
        let rest = packet[8..].to_vec();
        Ok(match code {
            SSL_REQUEST_CODE => Self::SslRequest { extra: rest },
            GSSENC_REQUEST_CODE => Self::GssEncRequest { extra: rest },
            CANCEL_REQUEST_CODE => Self::Cancel(CancelRequest { payload: rest }),
            version => Self::Startup(StartupMessage {
                version: ProtocolVersion(version),
                raw_parameters: rest,
            }),
        })
    }

    /// The canonical SSLRequest.
    pub fn ssl_request() -> Self {
        Self::SslRequest { extra: Vec::new() }
    }

    /// The canonical GSSENCRequest.
    pub fn gssenc_request() -> Self {
        Self::GssEncRequest { extra: Vec::new() }
    }

    /// Appends the packet's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (code, rest) = match self {
            Self::SslRequest { extra } => (SSL_REQUEST_CODE, extra.as_slice()),
            Self::GssEncRequest { extra } => (GSSENC_REQUEST_CODE, extra.as_slice()),
            Self::Cancel(c) => (CANCEL_REQUEST_CODE, c.payload.as_slice()),
            Self::Startup(s) => (s.version.0, s.raw_parameters.as_slice()),
        };
        put_u32(out, (8 + rest.len()) as u32);
        put_u32(out, code);
        out.extend_from_slice(rest);
    }

    /// The packet's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A CancelRequest's payload: process id, then the secret key (4 bytes before protocol 3.2,
/// up to 256 bytes in 3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelRequest {
    /// Everything after the request code.
    pub payload: Vec<u8>,
}

impl CancelRequest {
    /// A request to cancel `pid` with `key`.
    pub fn new(pid: u32, key: &[u8]) -> Self {
        let mut payload = pid.to_be_bytes().to_vec();
        payload.extend_from_slice(key);
        Self { payload }
    }

    /// The process id, if the payload holds one.
    pub fn pid(&self) -> Option<u32> {
        get_u32(&self.payload, 0)
    }

    /// The secret key: whatever follows the process id.
    pub fn key(&self) -> &[u8] {
        self.payload.get(4..).unwrap_or(&[])
    }
}

/// A startup parameter: name and value as the client sent them (C strings, no encoding
/// guaranteed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameter {
    /// The name.
    pub name: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

impl Parameter {
    /// The name as text (invalid UTF-8 replaced).
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// The value as text (invalid UTF-8 replaced).
    pub fn value_lossy(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// The StartupMessage: a protocol version and the raw parameter area.
///
/// The parameter area is kept as sent because a server checks the version before it looks
/// at the layout; [`StartupMessage::parameters`] applies PostgreSQL's layout rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupMessage {
    /// The requested protocol version.
    pub version: ProtocolVersion,
    /// The bytes after the version: `name\0value\0`... then a terminating `\0`.
    pub raw_parameters: Vec<u8>,
}

/// The parameter area does not end with its terminator exactly at the last byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid startup packet layout: expected terminator as last byte")]
pub struct LayoutError;

impl StartupMessage {
    /// A well-formed StartupMessage with the given parameters.
    pub fn new<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        version: ProtocolVersion,
        params: &[(N, V)],
    ) -> Self {
        let mut raw = Vec::new();
        for (name, value) in params {
            put_cstr(&mut raw, name.as_ref());
            put_cstr(&mut raw, value.as_ref());
        }
        raw.push(0);
        Self {
            version,
            raw_parameters: raw,
        }
    }

    /// The name/value pairs, scanned as PostgreSQL's ProcessStartupPacket scans them.
    ///
    /// A name without a value stops the scan; the packet is valid only when the scan stops on
    /// a terminator that is the very last byte.
    pub fn parameters(&self) -> Result<Vec<Parameter>, LayoutError> {
        let (params, layout) = self.scan_parameters();
        layout.map(|()| params)
    }

    /// The pairs found before the scan stopped, and whether the layout was valid. A server
    /// acts on the pairs in order (a bad `replication` value is reported before a bad layout).
    pub fn scan_parameters(&self) -> (Vec<Parameter>, Result<(), LayoutError>) {
        let raw = &self.raw_parameters;
        // PostgreSQL appends a NUL after the packet, so an unterminated string ends there.
        let cstr_at = |at: usize| -> &[u8] {
            let tail = &raw[at.min(raw.len())..];
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            &tail[..end]
        };
        let mut params = Vec::new();
        let mut offset = 0usize;
        while offset < raw.len() {
            if raw[offset] == 0 {
                break;
            }
            let name = cstr_at(offset);
            let value_at = offset + name.len() + 1;
            if value_at >= raw.len() {
                break;
            }
            let value = cstr_at(value_at);
            params.push(Parameter {
                name: name.to_vec(),
                value: value.to_vec(),
            });
            offset = value_at + value.len() + 1;
        }
        let layout = if !raw.is_empty() && offset == raw.len() - 1 {
            Ok(())
        } else {
            Err(LayoutError)
        };
        (params, layout)
    }
}

/// A typed message a client sends after startup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrontendMessage {
    /// `Q`: a simple query.
    Query(Vec<u8>),
    /// `p`: a password (or SASL) response.
    Password(Vec<u8>),
    /// `X`: the client is closing the connection.
    Terminate,
    /// Any other type: kept whole so the server can refuse it by name.
    Other {
        /// The type byte.
        kind: u8,
        /// The body after the length word.
        body: Vec<u8>,
    },
}

impl FrontendMessage {
    /// Largest message body the reference server accepts after startup.
    pub const MAX_LENGTH: usize = 1 << 20;

    /// Decodes one message from the front of `buf`: `Ok(None)` while incomplete, otherwise the
    /// message and the number of bytes it used.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, DecodeError> {
        let what = "frontend message";
        let Some(length) = get_u32(buf, 1) else {
            return Ok(None);
        };
        if !(4..=Self::MAX_LENGTH as u32 + 4).contains(&length) {
            return Err(DecodeError::InvalidLength {
                what,
                length: i64::from(length),
            });
        }
        let total = length as usize + 1;
        if buf.len() < total {
            return Ok(None);
        }
        let body = &buf[5..total];
        let msg = match buf[0] {
            b'Q' => {
                let (text, rest) = take_cstr(body, "Query")?;
                if !rest.is_empty() {
                    return Err(DecodeError::TrailingBytes {
                        what: "Query",
                        extra: rest.len(),
                    });
                }
                Self::Query(text.to_vec())
            }
            b'p' => Self::Password(body.to_vec()),
            b'X' => Self::Terminate,
            kind => Self::Other {
                kind,
                body: body.to_vec(),
            },
        };
        Ok(Some((msg, total)))
    }

    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Query(q) => super::put_message(out, b'Q', |b| put_cstr(b, q)),
            Self::Password(p) => super::put_message(out, b'p', |b| b.extend_from_slice(p)),
            Self::Terminate => super::put_message(out, b'X', |_| {}),
            Self::Other { kind, body } => {
                super::put_message(out, *kind, |b| b.extend_from_slice(body))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ssl_request_bytes() {
        assert_eq!(
            StartupPacket::ssl_request().to_bytes(),
            [0x00, 0x00, 0x00, 0x08, 0x04, 0xD2, 0x16, 0x2F]
        );
        assert_eq!(
            StartupPacket::gssenc_request().to_bytes(),
            [0x00, 0x00, 0x00, 0x08, 0x04, 0xD2, 0x16, 0x30]
        );
    }

    #[test]
    fn framing_limits() {
        assert_eq!(
            frame_startup_packet(&[0, 0]),
            PacketFrame::NeedLength { have: 2 }
        );
        assert_eq!(
            frame_startup_packet(&7u32.to_be_bytes()),
            PacketFrame::InvalidLength { length: 7 }
        );
        assert_eq!(
            frame_startup_packet(&8u32.to_be_bytes()),
            PacketFrame::NeedBody { total: 8 }
        );
        assert_eq!(
            frame_startup_packet(&10_004u32.to_be_bytes()),
            PacketFrame::NeedBody { total: 10_004 }
        );
        assert_eq!(
            frame_startup_packet(&10_005u32.to_be_bytes()),
            PacketFrame::InvalidLength { length: 10_005 }
        );
        // Negative as int32: too small, not huge.
        assert_eq!(
            frame_startup_packet(&0x8000_0000u32.to_be_bytes()),
            PacketFrame::InvalidLength {
                length: 0x8000_0000
            }
        );
        let ssl = StartupPacket::ssl_request().to_bytes();
        assert_eq!(
            frame_startup_packet(&ssl),
            PacketFrame::Complete { total: 8 }
        );
    }

    #[test]
    fn startup_layout_rules() {
        let ok = StartupMessage::new(ProtocolVersion::V3_0, &[("user", "alice")]);
        let params = ok.parameters().unwrap();
        assert_eq!(params.len(), 1);
        assert_eq!(params[0].name, b"user");
        // No terminator at all.
        let mut raw = b"user\0alice\0".to_vec();
        let no_term = StartupMessage {
            version: ProtocolVersion::V3_0,
            raw_parameters: raw.clone(),
        };
        assert_eq!(no_term.parameters(), Err(LayoutError));
        // Junk after the terminator.
        raw.extend_from_slice(b"\0x");
        let junk = StartupMessage {
            version: ProtocolVersion::V3_0,
            raw_parameters: raw,
        };
        assert_eq!(junk.parameters(), Err(LayoutError));
        // A name without a value.
        let dangling = StartupMessage {
            version: ProtocolVersion::V3_0,
            raw_parameters: b"user\0".to_vec(),
        };
        assert_eq!(dangling.parameters(), Err(LayoutError));
        // Only the version: no terminator.
        let empty = StartupMessage {
            version: ProtocolVersion::V3_0,
            raw_parameters: Vec::new(),
        };
        assert_eq!(empty.parameters(), Err(LayoutError));
        let just_term = StartupMessage {
            version: ProtocolVersion::V3_0,
            raw_parameters: vec![0],
        };
        assert_eq!(just_term.parameters(), Ok(vec![]));
    }

    #[test]
    fn cancel_fields() {
        let c = CancelRequest::new(42, &[1, 2, 3, 4]);
        assert_eq!(c.pid(), Some(42));
        assert_eq!(c.key(), &[1, 2, 3, 4]);
        let short = CancelRequest { payload: vec![1] };
        assert_eq!(short.pid(), None);
        assert_eq!(short.key(), &[] as &[u8]);
    }

    #[test]
    fn frontend_message_round_trip() {
        for msg in [
            FrontendMessage::Query(b"select 1".to_vec()),
            FrontendMessage::Terminate,
            FrontendMessage::Password(b"secret\0".to_vec()),
            FrontendMessage::Other {
                kind: b'P',
                body: vec![1, 2],
            },
        ] {
            let mut out = Vec::new();
            msg.encode(&mut out);
            assert_eq!(FrontendMessage::decode(&out), Ok(Some((msg, out.len()))));
            assert_eq!(FrontendMessage::decode(&out[..out.len() - 1]), Ok(None));
        }
        assert!(FrontendMessage::decode(&[b'Q', 0, 0, 0, 3]).is_err());
    }

    fn arb_params() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
        let text = proptest::collection::vec(1u8..=255, 0..12);
        proptest::collection::vec((proptest::collection::vec(1u8..=255, 1..12), text), 0..6)
    }

    proptest! {
        #[test]
        fn canonical_startup_round_trips(major in 0u16..8, minor in 0u16..8, params in arb_params()) {
            let msg = StartupMessage::new(ProtocolVersion::new(major, minor), &params);
            let packet = StartupPacket::Startup(msg.clone());
            let bytes = packet.to_bytes();
            prop_assert_eq!(StartupPacket::decode(&bytes), Ok(packet));
            let decoded: Vec<_> = msg.parameters().unwrap().into_iter().map(|p| (p.name, p.value)).collect();
            prop_assert_eq!(decoded, params);
        }

        #[test]
        fn any_framed_packet_round_trips(body in proptest::collection::vec(any::<u8>(), 4..64)) {
            let mut bytes = ((body.len() + 4) as u32).to_be_bytes().to_vec();
            bytes.extend_from_slice(&body);
            prop_assert_eq!(frame_startup_packet(&bytes), PacketFrame::Complete { total: bytes.len() });
            let packet = StartupPacket::decode(&bytes).unwrap();
            prop_assert_eq!(packet.to_bytes(), bytes);
        }

        #[test]
        fn framing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = frame_startup_packet(&bytes);
            let _ = StartupPacket::decode(&bytes);
            let _ = FrontendMessage::decode(&bytes);
        }
    }
}
