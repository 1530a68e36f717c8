//! Messages a server sends: authentication requests, parameter status, key data, errors and
//! notices, protocol negotiation, query results; and the headerless error format that protocol
//! 2.0 clients get.

use super::frontend::ProtocolVersion;
use super::{
    DecodeError, EncodeError, count_i16, get_u32, put_cstr, put_i32, put_message, put_u32,
    take_cstr,
};

/// Severity of an ErrorResponse or NoticeResponse, as the `S`/`V` fields spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `ERROR`: the statement failed, the session goes on.
    Error,
    /// `FATAL`: the session ends.
    Fatal,
    /// `PANIC`.
    Panic,
    /// `WARNING`.
    Warning,
    /// `NOTICE`.
    Notice,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `LOG`.
    Log,
}

impl Severity {
    /// The word PostgreSQL uses on the wire and in its log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
            Self::Panic => "PANIC",
            Self::Warning => "WARNING",
            Self::Notice => "NOTICE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Log => "LOG",
        }
    }

    /// Parses the non-localized severity word.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "ERROR" => Self::Error,
            "FATAL" => Self::Fatal,
            "PANIC" => Self::Panic,
            "WARNING" => Self::Warning,
            "NOTICE" => Self::Notice,
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "LOG" => Self::Log,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of an ErrorResponse or NoticeResponse, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorFields {
    /// `(field code, value)` pairs: `S`, `V`, `C`, `M`, `D`, `H`, and any others.
    pub fields: Vec<(u8, String)>,
}

impl ErrorFields {
    /// Severity, SQLSTATE and primary message.
    pub fn new(severity: Severity, sqlstate: &str, message: impl Into<String>) -> Self {
        Self {
            fields: vec![
                (b'S', severity.as_str().to_owned()),
                (b'V', severity.as_str().to_owned()),
                (b'C', sqlstate.to_owned()),
                (b'M', message.into()),
            ],
        }
    }

    /// Adds a `D` (detail) field.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.fields.push((b'D', detail.into()));
        self
    }

    /// Adds an `H` (hint) field.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.fields.push((b'H', hint.into()));
        self
    }

    /// Adds a `P` (position) field: a 1-based character index into the query text.
    pub fn with_position(mut self, position: usize) -> Self {
        self.fields.push((b'P', position.to_string()));
        self
    }

    /// The value of field `code`, if present.
    pub fn get(&self, code: u8) -> Option<&str> {
        self.fields
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_str())
    }

    /// The severity (`V`, falling back to `S`).
    pub fn severity(&self) -> Option<Severity> {
        self.get(b'V')
            .or_else(|| self.get(b'S'))
            .and_then(Severity::parse)
    }

    /// The SQLSTATE (`C`).
    pub fn code(&self) -> &str {
        self.get(b'C').unwrap_or("")
    }

    /// The primary message (`M`).
    pub fn message(&self) -> &str {
        self.get(b'M').unwrap_or("")
    }

    /// The detail (`D`).
    pub fn detail(&self) -> Option<&str> {
        self.get(b'D')
    }

    /// The hint (`H`).
    pub fn hint(&self) -> Option<&str> {
        self.get(b'H')
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        for (code, value) in &self.fields {
            out.push(*code);
            put_cstr(out, value.as_bytes());
        }
        out.push(0);
    }

    fn decode_body(mut body: &[u8], what: &'static str) -> Result<Self, DecodeError> {
        let mut fields = Vec::new();
        loop {
            let Some((&code, rest)) = body.split_first() else {
                return Err(DecodeError::UnterminatedString { what });
            };
            if code == 0 {
                if !rest.is_empty() {
                    return Err(DecodeError::TrailingBytes {
                        what,
                        extra: rest.len(),
                    });
                }
                return Ok(Self { fields });
            }
            let (value, rest) = take_cstr(rest, what)?;
            fields.push((code, String::from_utf8_lossy(value).into_owned()));
            body = rest;
        }
    }
}

/// Transaction status in ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// `I`: not in a transaction.
    Idle,
    /// `T`: in a transaction block.
    InTransaction,
    /// `E`: in a failed transaction block.
    Failed,
}

impl TransactionStatus {
    fn byte(self) -> u8 {
        match self {
            Self::Idle => b'I',
            Self::InTransaction => b'T',
            Self::Failed => b'E',
        }
    }
}

/// One column in a RowDescription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDescription {
    /// Column name.
    pub name: String,
    /// Table OID, or 0.
    pub table_oid: u32,
    /// Column attribute number, or 0.
    pub column: i16,
    /// Type OID.
    pub type_oid: u32,
    /// Type size (negative for variable width).
    pub type_size: i16,
    /// Type modifier.
    pub type_modifier: i32,
    /// 0 = text, 1 = binary.
    pub format: i16,
}

impl FieldDescription {
    /// `text`.
    pub const TEXT_OID: u32 = 25;
    /// `int4`.
    pub const INT4_OID: u32 = 23;
    /// `bool`.
    pub const BOOL_OID: u32 = 16;

    /// A text-format result column of type `type_oid`, not from a table.
    pub fn computed(name: impl Into<String>, type_oid: u32) -> Self {
        let type_size = match type_oid {
            Self::INT4_OID => 4,
            Self::BOOL_OID => 1,
            _ => -1,
        };
        Self {
            name: name.into(),
            table_oid: 0,
            column: 0,
            type_oid,
            type_size,
            type_modifier: -1,
            format: 0,
        }
    }
}

/// Authentication request codes (`R` messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authentication {
    /// 0: authenticated.
    Ok,
    /// 3: send the password in clear text.
    CleartextPassword,
    /// 5: send an MD5-hashed password with this salt.
    Md5Password([u8; 4]),
    /// Any other request, kept whole.
    Other {
        /// The request code.
        code: u32,
        /// Bytes after the code.
        data: Vec<u8>,
    },
}

/// A typed message from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendMessage {
    /// `R`.
    Authentication(Authentication),
    /// `S`: a run-time parameter's current value.
    ParameterStatus {
        /// Parameter name.
        name: String,
        /// Its value.
        value: String,
    },
    /// `K`: the process id and secret key a CancelRequest must quote.
    BackendKeyData {
        /// Process id.
        pid: u32,
        /// Secret key: 4 bytes before protocol 3.2, 32 bytes from PostgreSQL 18 with 3.2.
        key: Vec<u8>,
    },
    /// `Z`.
    ReadyForQuery(TransactionStatus),
    /// `E`.
    ErrorResponse(ErrorFields),
    /// `N`.
    NoticeResponse(ErrorFields),
    /// `v`: the newest minor version the server supports and the options it did not know.
    NegotiateProtocolVersion {
        /// Newest supported version (or, in PostgreSQL 18, the version it settled on).
        newest: ProtocolVersion,
        /// Unrecognized `_pq_.` options, in the order the client sent them.
        unrecognized: Vec<String>,
    },
    /// `T`.
    RowDescription(Vec<FieldDescription>),
    /// `D`: column values, `None` for NULL.
    DataRow(Vec<Option<Vec<u8>>>),
    /// `C`: the command tag.
    CommandComplete(String),
    /// `I`.
    EmptyQueryResponse,
    /// Any other type, kept whole.
    Other {
        /// Type byte.
        kind: u8,
        /// Body after the length word.
        body: Vec<u8>,
    },
}

impl BackendMessage {
    /// Largest body this decoder accepts (the conformance client's safety limit).
    pub const MAX_LENGTH: usize = 1 << 24;

    /// Appends the message's bytes to `out`. A RowDescription or DataRow with more entries
    /// than its `Int16` count word holds cannot be sent as it is: it is replaced by an
    /// ErrorResponse saying so (use [`Self::try_encode`] to handle that case yourself).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if let Err(e) = self.try_encode(out) {
            out.truncate(start);
            Self::ErrorResponse(ErrorFields::new(Severity::Error, "54011", e.to_string()))
                .encode(out);
        }
    }

    /// Appends the message's bytes to `out`, or fails (with `out` possibly partly written)
    /// when a count does not fit its count word.
    pub fn try_encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Authentication(auth) => put_message(out, b'R', |b| match auth {
                Authentication::Ok => put_u32(b, 0),
                Authentication::CleartextPassword => put_u32(b, 3),
                Authentication::Md5Password(salt) => {
                    put_u32(b, 5);
                    b.extend_from_slice(salt);
                }
                Authentication::Other { code, data } => {
                    put_u32(b, *code);
                    b.extend_from_slice(data);
                }
            }),
            Self::ParameterStatus { name, value } => put_message(out, b'S', |b| {
                put_cstr(b, name.as_bytes());
                put_cstr(b, value.as_bytes());
            }),
            Self::BackendKeyData { pid, key } => put_message(out, b'K', |b| {
                put_u32(b, *pid);
                b.extend_from_slice(key);
            }),
            Self::ReadyForQuery(status) => put_message(out, b'Z', |b| b.push(status.byte())),
            Self::ErrorResponse(f) => put_message(out, b'E', |b| f.encode_body(b)),
            Self::NoticeResponse(f) => put_message(out, b'N', |b| f.encode_body(b)),
            Self::NegotiateProtocolVersion {
                newest,
                unrecognized,
            } => put_message(out, b'v', |b| {
                put_u32(b, newest.0);
                put_u32(b, unrecognized.len() as u32);
                for name in unrecognized {
                    put_cstr(b, name.as_bytes());
                }
            }),
            Self::RowDescription(fields) => {
                let count = count_i16("RowDescription", fields.len())?;
                put_message(out, b'T', |b| {
                    b.extend_from_slice(&count.to_be_bytes());
                    for f in fields {
                        put_cstr(b, f.name.as_bytes());
                        put_u32(b, f.table_oid);
                        b.extend_from_slice(&f.column.to_be_bytes());
                        put_u32(b, f.type_oid);
                        b.extend_from_slice(&f.type_size.to_be_bytes());
                        put_i32(b, f.type_modifier);
                        b.extend_from_slice(&f.format.to_be_bytes());
                    }
                })
            }
            Self::DataRow(values) => {
                let count = count_i16("DataRow", values.len())?;
                put_message(out, b'D', |b| {
                    b.extend_from_slice(&count.to_be_bytes());
                    for v in values {
                        match v {
                            None => put_i32(b, -1),
                            Some(v) => {
                                put_i32(b, v.len() as i32);
                                b.extend_from_slice(v);
                            }
                        }
                    }
                })
            }
            Self::CommandComplete(tag) => put_message(out, b'C', |b| put_cstr(b, tag.as_bytes())),
            Self::EmptyQueryResponse => put_message(out, b'I', |_| {}),
            Self::Other { kind, body } => put_message(out, *kind, |b| b.extend_from_slice(body)),
        }
        Ok(())
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one message from the front of `buf`: `Ok(None)` while incomplete, otherwise the
    /// message and the bytes it used.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, DecodeError> {
        let Some(length) = get_u32(buf, 1) else {
            return Ok(None);
        };
        if !(4..=Self::MAX_LENGTH as u32).contains(&length) {
            return Err(DecodeError::InvalidLength {
                what: "backend message",
                length: i64::from(length),
            });
        }
        let total = length as usize + 1;
        if buf.len() < total {
            return Ok(None);
        }
        let body = &buf[5..total];
        Ok(Some((Self::decode_body(buf[0], body)?, total)))
    }

    fn decode_body(kind: u8, body: &[u8]) -> Result<Self, DecodeError> {
        let need = |what: &'static str, need: usize| DecodeError::Truncated {
            what,
            need,
            have: body.len(),
        };
        Ok(match kind {
            b'R' => {
                let code = get_u32(body, 0).ok_or(need("Authentication", 4))?;
                let data = &body[4..];
                Self::Authentication(match (code, data.len()) {
                    (0, 0) => Authentication::Ok,
                    (3, 0) => Authentication::CleartextPassword,
                    (5, 4) => Authentication::Md5Password([data[0], data[1], data[2], data[3]]),
                    _ => Authentication::Other {
                        code,
                        data: data.to_vec(),
                    },
                })
            }
            b'S' => {
                let (name, rest) = take_cstr(body, "ParameterStatus")?;
                let (value, rest) = take_cstr(rest, "ParameterStatus")?;
                expect_end(rest, "ParameterStatus")?;
                Self::ParameterStatus {
                    name: String::from_utf8_lossy(name).into_owned(),
                    value: String::from_utf8_lossy(value).into_owned(),
                }
            }
            b'K' => Self::BackendKeyData {
                pid: get_u32(body, 0).ok_or(need("BackendKeyData", 4))?,
                key: body[4..].to_vec(),
            },
            b'Z' => {
                let status = match body {
                    [b'I'] => TransactionStatus::Idle,
                    [b'T'] => TransactionStatus::InTransaction,
                    [b'E'] => TransactionStatus::Failed,
                    _ => {
                        return Ok(Self::Other {
                            kind,
                            body: body.to_vec(),
                        });
                    }
                };
                Self::ReadyForQuery(status)
            }
            b'E' => Self::ErrorResponse(ErrorFields::decode_body(body, "ErrorResponse")?),
            b'N' => Self::NoticeResponse(ErrorFields::decode_body(body, "NoticeResponse")?),
            b'v' => {
                let newest =
                    ProtocolVersion(get_u32(body, 0).ok_or(need("NegotiateProtocolVersion", 8))?);
                let count = get_u32(body, 4).ok_or(need("NegotiateProtocolVersion", 8))?;
                let mut rest = &body[8..];
                let mut unrecognized = Vec::new();
                for _ in 0..count {
                    let (name, tail) = take_cstr(rest, "NegotiateProtocolVersion")?;
                    unrecognized.push(String::from_utf8_lossy(name).into_owned());
                    rest = tail;
                }
                expect_end(rest, "NegotiateProtocolVersion")?;
                Self::NegotiateProtocolVersion {
                    newest,
                    unrecognized,
                }
            }
            b'T' => Self::RowDescription(decode_row_description(body)?),
            b'D' => Self::DataRow(decode_data_row(body)?),
            b'C' => {
                let (tag, rest) = take_cstr(body, "CommandComplete")?;
                expect_end(rest, "CommandComplete")?;
                Self::CommandComplete(String::from_utf8_lossy(tag).into_owned())
            }
            b'I' if body.is_empty() => Self::EmptyQueryResponse,
            _ => Self::Other {
                kind,
                body: body.to_vec(),
            },
        })
    }
}

fn expect_end(rest: &[u8], what: &'static str) -> Result<(), DecodeError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            what,
            extra: rest.len(),
        })
    }
}

fn take<'a>(buf: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
    if buf.len() < n {
        return Err(DecodeError::Truncated {
            what,
            need: n,
            have: buf.len(),
        });
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn take_i16(buf: &mut &[u8], what: &'static str) -> Result<i16, DecodeError> {
    let b = take(buf, 2, what)?;
    Ok(i16::from_be_bytes([b[0], b[1]]))
}

fn take_u32(buf: &mut &[u8], what: &'static str) -> Result<u32, DecodeError> {
    let b = take(buf, 4, what)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn decode_row_description(mut body: &[u8]) -> Result<Vec<FieldDescription>, DecodeError> {
    let what = "RowDescription";
    let count = take_i16(&mut body, what)?;
    let mut fields = Vec::new();
    for _ in 0..count.max(0) {
        let (name, rest) = take_cstr(body, what)?;
        body = rest;
        fields.push(FieldDescription {
            name: String::from_utf8_lossy(name).into_owned(),
            table_oid: take_u32(&mut body, what)?,
            column: take_i16(&mut body, what)?,
            type_oid: take_u32(&mut body, what)?,
            type_size: take_i16(&mut body, what)?,
            type_modifier: take_u32(&mut body, what)? as i32,
            format: take_i16(&mut body, what)?,
        });
    }
    expect_end(body, what)?;
    Ok(fields)
}

fn decode_data_row(mut body: &[u8]) -> Result<Vec<Option<Vec<u8>>>, DecodeError> {
    let what = "DataRow";
    let count = take_i16(&mut body, what)?;
    let mut values = Vec::new();
    for _ in 0..count.max(0) {
        let len = take_u32(&mut body, what)? as i32;
        if len < 0 {
            values.push(None);
        } else {
            values.push(Some(take(&mut body, len as usize, what)?.to_vec()));
        }
    }
    expect_end(body, what)?;
    Ok(values)
}

/// The error a protocol-2.0 client gets: `E`, then `SEVERITY:  message\n` and a NUL, with no
/// length word (PostgreSQL keeps this format only to refuse such clients).
pub fn encode_v2_error(severity: Severity, message: &str, out: &mut Vec<u8>) {
    out.push(b'E');
    out.extend_from_slice(severity.as_str().as_bytes());
    out.extend_from_slice(b":  ");
    out.extend_from_slice(message.as_bytes());
    out.push(b'\n');
    out.push(0);
}

/// Reads a protocol-2.0 error from the front of `buf`: its text (without the trailing newline)
/// and the bytes used; `None` while the NUL has not arrived or `buf` does not start with `E`.
pub fn decode_v2_error(buf: &[u8]) -> Option<(String, usize)> {
    let rest = buf.strip_prefix(b"E")?;
    let nul = rest.iter().position(|&b| b == 0)?;
    let text = String::from_utf8_lossy(&rest[..nul]);
    Some((text.trim_end_matches('\n').to_owned(), nul + 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn error_response_bytes_match_postgres_layout() {
        let e = ErrorFields::new(Severity::Fatal, "08P01", "received unencrypted data after SSL request")
            .with_detail("This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.");
        let bytes = BackendMessage::ErrorResponse(e.clone()).to_bytes();
        assert_eq!(bytes[0], b'E');
        assert!(bytes.ends_with(b"attack.\0\0"));
        assert!(bytes[5..].starts_with(b"SFATAL\0VFATAL\0C08P01\0M"));
        let (decoded, used) = BackendMessage::decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(decoded, BackendMessage::ErrorResponse(e));
    }

    #[test]
    fn counts_that_do_not_fit_an_int16_are_refused_not_wrapped() {
        let field = FieldDescription::computed("?column?", FieldDescription::INT4_OID);
        let fits = BackendMessage::RowDescription(vec![field.clone(); 32_767]);
        let mut out = Vec::new();
        assert_eq!(fits.try_encode(&mut out), Ok(()));
        assert_eq!(out[5..7], 32_767i16.to_be_bytes());
        for (msg, what) in [
            (
                BackendMessage::RowDescription(vec![field; 40_000]),
                "RowDescription",
            ),
            (BackendMessage::DataRow(vec![None; 32_768]), "DataRow"),
        ] {
            let count = match &msg {
                BackendMessage::RowDescription(f) => f.len(),
                BackendMessage::DataRow(v) => v.len(),
                _ => unreachable!(),
            };
            let mut out = Vec::new();
            assert_eq!(
                msg.try_encode(&mut out),
                Err(EncodeError::TooManyEntries {
                    what,
                    count,
                    max: 32_767
                })
            );
            // `encode` sends an ErrorResponse instead of a malformed message.
            let (decoded, used) = BackendMessage::decode(&msg.to_bytes())
                .expect("decodes")
                .expect("whole");
            assert!(
                matches!(&decoded, BackendMessage::ErrorResponse(e) if e.code() == "54011"),
                "{decoded:?}"
            );
            assert_eq!(used, msg.to_bytes().len());
        }
    }

    #[test]
    fn negotiate_protocol_version_bytes() {
        // Observed from PostgreSQL 18: `76 00000015 00030002 00000001 '_pq_.foo\0'`.
        let v = BackendMessage::NegotiateProtocolVersion {
            newest: ProtocolVersion::V3_2,
            unrecognized: vec!["_pq_.foo".into()],
        };
        let mut expected = vec![b'v', 0, 0, 0, 0x15, 0, 3, 0, 2, 0, 0, 0, 1];
        expected.extend_from_slice(b"_pq_.foo\0");
        assert_eq!(v.to_bytes(), expected);
    }

    #[test]
    fn v2_error_format() {
        let mut out = Vec::new();
        encode_v2_error(
            Severity::Fatal,
            "unsupported frontend protocol 2.0: server supports 3.0 to 3.0",
            &mut out,
        );
        assert_eq!(
            out,
            b"EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0"
        );
        let (text, used) = decode_v2_error(&out).unwrap();
        assert_eq!(used, out.len());
        assert_eq!(
            text,
            "FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0"
        );
        assert_eq!(decode_v2_error(&out[..out.len() - 1]), None);
    }

    fn arb_message() -> impl Strategy<Value = BackendMessage> {
        let s = "[a-zA-Z0-9 _.]{0,12}";
        prop_oneof![
            Just(BackendMessage::Authentication(Authentication::Ok)),
            Just(BackendMessage::Authentication(
                Authentication::CleartextPassword
            )),
            any::<[u8; 4]>()
                .prop_map(|s| BackendMessage::Authentication(Authentication::Md5Password(s))),
            (s, s).prop_map(|(name, value)| BackendMessage::ParameterStatus { name, value }),
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 4..=32))
                .prop_map(|(pid, key)| BackendMessage::BackendKeyData { pid, key }),
            Just(BackendMessage::ReadyForQuery(TransactionStatus::Idle)),
            (s, s).prop_map(|(m, d)| BackendMessage::ErrorResponse(
                ErrorFields::new(Severity::Fatal, "28000", m).with_detail(d)
            )),
            (s, s).prop_map(|(m, h)| BackendMessage::NoticeResponse(
                ErrorFields::new(Severity::Notice, "42622", m).with_hint(h)
            )),
            (0u16..5, proptest::collection::vec(s, 0..3)).prop_map(|(minor, names)| {
                BackendMessage::NegotiateProtocolVersion {
                    newest: ProtocolVersion::new(3, minor),
                    unrecognized: names,
                }
            }),
            proptest::collection::vec(s, 0..3).prop_map(|names| BackendMessage::RowDescription(
                names
                    .into_iter()
                    .map(|n| FieldDescription::computed(n, FieldDescription::TEXT_OID))
                    .collect()
            )),
            proptest::collection::vec(
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                0..4
            )
            .prop_map(BackendMessage::DataRow),
            s.prop_map(BackendMessage::CommandComplete),
            Just(BackendMessage::EmptyQueryResponse),
        ]
    }

    proptest! {
        #[test]
        fn backend_messages_round_trip(msg in arb_message()) {
            let bytes = msg.to_bytes();
            prop_assert_eq!(BackendMessage::decode(&bytes), Ok(Some((msg.clone(), bytes.len()))));
            prop_assert_eq!(BackendMessage::decode(&bytes[..bytes.len() - 1]), Ok(None));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = BackendMessage::decode(&bytes);
            let _ = decode_v2_error(&bytes);
        }
    }
}
