//! The PostgreSQL wire codec, free of IO: frontend startup packets and messages, backend
//! messages, and the single-byte encryption responses.
//!
//! Everything here works on byte slices and `Vec<u8>` buffers. The reference server, the
//! conformance client and the fuzzers share it, so what one side writes the other reads with
//! the same code.

pub mod backend;
pub mod frontend;

pub use backend::{BackendMessage, ErrorFields, Severity, TransactionStatus};
pub use frontend::{
    CancelRequest, FrontendMessage, PacketFrame, Parameter, ProtocolVersion, StartupMessage,
    StartupPacket,
};

/// `PG_PROTOCOL(1234, 5678)`: a CancelRequest.
pub const CANCEL_REQUEST_CODE: u32 = 0x04D2_162E;
/// `PG_PROTOCOL(1234, 5679)`: an SSLRequest.
pub const SSL_REQUEST_CODE: u32 = 0x04D2_162F;
/// `PG_PROTOCOL(1234, 5680)`: a GSSENCRequest.
pub const GSSENC_REQUEST_CODE: u32 = 0x04D2_1630;

/// Largest startup-packet body (after the length word) a server accepts.
pub const MAX_STARTUP_PACKET_LENGTH: usize = 10_000;
/// Smallest startup-packet body: the 4-byte protocol version or request code.
pub const MIN_STARTUP_PACKET_LENGTH: usize = 4;
/// Longest cancel key of protocol 3.2 (PostgreSQL 18).
pub const MAX_CANCEL_KEY_LENGTH: usize = 256;
/// `NAMEDATALEN`: user and database names are truncated to one less than this.
pub const NAMEDATALEN: usize = 64;

/// First byte of a TLS handshake record: a ClientHello sent without an SSLRequest.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// The ALPN protocol identifier PostgreSQL 17+ uses.
pub const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// Reply byte: the server will start TLS.
pub const REPLY_SSL_YES: u8 = b'S';
/// Reply byte: the server declines the encryption request.
pub const REPLY_NO: u8 = b'N';
/// Reply byte: the server will start GSSAPI encryption.
pub const REPLY_GSS_YES: u8 = b'G';

/// A wire-format violation found while decoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the length word promises, or than the fixed fields need.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A length word outside what the protocol allows.
    #[error("invalid length {length} for {what}")]
    InvalidLength {
        /// What was being decoded.
        what: &'static str,
        /// The length word as sent.
        length: i64,
    },
    /// A string field without its NUL terminator.
    #[error("unterminated string in {what}")]
    UnterminatedString {
        /// What was being decoded.
        what: &'static str,
    },
    /// A message type byte this codec does not know.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// Bytes left over inside a message after its fields.
    #[error("{extra} trailing bytes in {what}")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
}

/// A message that the protocol cannot carry, found while encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// More entries than a count word holds: RowDescription and DataRow count their fields
    /// and values in an `Int16`, so 32,767 is the most either can carry.
    #[error("{what} cannot carry {count} entries (at most {max})")]
    TooManyEntries {
        /// What was being encoded.
        what: &'static str,
        /// How many entries it had.
        count: usize,
        /// The most its count word holds.
        max: usize,
    },
}

/// `count` as the `Int16` count word of `what`.
pub(crate) fn count_i16(what: &'static str, count: usize) -> Result<i16, EncodeError> {
    i16::try_from(count).map_err(|_| EncodeError::TooManyEntries {
        what,
        count,
        max: i16::MAX as usize,
    })
}

pub(crate) fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

/// Reads a big-endian u32 at `at`, if there are four bytes there.
pub(crate) fn get_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Splits a NUL-terminated string off the front of `buf`.
pub(crate) fn take_cstr<'a>(
    buf: &'a [u8],
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    let nul = buf
        .iter()
        .position(|&b| b == 0)
        .ok_or(DecodeError::UnterminatedString { what })?;
    Ok((&buf[..nul], &buf[nul + 1..]))
}

/// Appends a typed message: type byte, length word covering itself and the body, body.
pub(crate) fn put_message(out: &mut Vec<u8>, kind: u8, body: impl FnOnce(&mut Vec<u8>)) {
    out.push(kind);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = (out.len() - len_at) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}
