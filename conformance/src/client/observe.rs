//! Observation: what the client reads off the connection, as trace lines — reply bytes
//! (`S`, `N`, `G`), backend messages (ParameterStatus as `ParameterStatus NAME=VALUE`), v2
//! errors, the close (`closed`, `closed (close_notify)`), a TCP reset (`reset`, never folded
//! into `closed`), timeouts. The connection is behind [`Source`], so the same code reads a
//! socket, a TLS stream, or bytes in memory.

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use pgssl_server::wire::BackendMessage;
use pgssl_server::wire::backend::{Authentication, decode_v2_error};

use super::packet::CancelKey;
use crate::trace::{PARAMETER_STATUS, Trace};

/// The connection, as reading sees it.
pub(super) trait Source {
    /// Reads what is there into `chunk`; `None` when there is no connection.
    fn read_some(&mut self, chunk: &mut [u8]) -> Option<io::Result<usize>>;
    /// Sets how long one read waits (a wait with a deadline shortens it near the end).
    fn set_read_wait(&mut self, _wait: Duration) {}
    /// Whether the peer's TLS close_notify has been received.
    fn close_notified(&mut self) -> bool;
    /// The connection is over (EOF or a read error): drop it.
    fn lose(&mut self);
}

/// What reading keeps between steps.
#[derive(Debug, Default)]
pub(super) struct Reader {
    /// Bytes received and not yet consumed.
    pub(super) buf: Vec<u8>,
    /// The last S/N/G reply byte read.
    pub(super) last_reply: Option<u8>,
    /// The session's cancel key, from its BackendKeyData.
    pub(super) key: Option<CancelKey>,
}

enum ReadOutcome {
    Data,
    /// The connection was already gone (a failed handshake): nothing more to record.
    Gone,
    Eof,
    /// The peer reset the connection (ECONNRESET).
    Reset,
    Timeout,
    Error(String),
}

/// One read step: the reader's state, the connection, and the trace it records into.
pub(super) struct Reading<'a> {
    pub(super) state: &'a mut Reader,
    pub(super) source: &'a mut dyn Source,
    pub(super) trace: &'a mut Trace,
}

impl Reading<'_> {
    /// Reads more bytes into the buffer.
    fn fill(&mut self) -> ReadOutcome {
        let mut chunk = [0u8; 8192];
        match self.source.read_some(&mut chunk) {
            None => ReadOutcome::Gone,
            Some(Ok(0)) => ReadOutcome::Eof,
            Some(Ok(n)) => {
                self.state.buf.extend_from_slice(&chunk[..n]);
                ReadOutcome::Data
            }
            Some(Err(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                ReadOutcome::Timeout
            }
            Some(Err(e)) if is_reset(&e) => ReadOutcome::Reset,
            Some(Err(e)) if is_closed(&e) => ReadOutcome::Eof,
            Some(Err(e)) => ReadOutcome::Error(read_reason(&e)),
        }
    }

    /// Records how a read ended.
    fn end(&mut self, outcome: ReadOutcome) {
        match outcome {
            ReadOutcome::Eof => {
                let line = if self.source.close_notified() {
                    "closed (close_notify)"
                } else {
                    "closed"
                };
                self.trace.saw(line);
                self.source.lose();
            }
            ReadOutcome::Reset => {
                self.trace.saw(RESET);
                self.source.lose();
            }
            ReadOutcome::Timeout => self.trace.saw("timeout"),
            ReadOutcome::Error(e) => {
                self.trace.saw(format!("read failed: {e}"));
                self.source.lose();
            }
            ReadOutcome::Data | ReadOutcome::Gone => {}
        }
    }

    /// One reply byte: `S`, `N`, `G`, another byte in hex, or an ErrorResponse where the byte
    /// belongs.
    pub(super) fn read_byte(&mut self) {
        if self.state.buf.is_empty() {
            match self.fill() {
                ReadOutcome::Data => {}
                other => return self.end(other),
            }
        }
        let b = self.state.buf[0];
        match b {
            b'S' | b'N' | b'G' => {
                self.state.buf.remove(0);
                self.state.last_reply = Some(b);
                self.trace.saw((b as char).to_string());
            }
            // An ErrorResponse where a reply byte belongs (allowed by the protocol).
            b'E' => self.read_messages(),
            other => {
                self.state.buf.remove(0);
                self.trace.saw(format!("byte 0x{other:02x}"));
            }
        }
    }

    /// Backend messages up to ReadyForQuery, a FATAL error, the close or a timeout.
    ///
    /// One declared reading: an `E` followed by an upper-case letter is a protocol-2 error
    /// (`EFATAL:  ...`), which 13 sends before a startup packet has named protocol 3; as a
    /// protocol-3 length word those bytes would announce over 1 GB, which no server sends.
    pub(super) fn read_messages(&mut self) {
        loop {
            if let [b'E', second, ..] = self.state.buf[..] {
                if second.is_ascii_uppercase() {
                    self.read_v2();
                    return self.after_fatal();
                }
            }
            match BackendMessage::decode(&self.state.buf) {
                Ok(Some((msg, used))) => {
                    self.state.buf.drain(..used);
                    if self.observe(msg) {
                        return;
                    }
                }
                Ok(None) => match self.fill() {
                    ReadOutcome::Data => {}
                    other => return self.end(other),
                },
                Err(e) => {
                    self.trace.saw(format!("garbage: {e}"));
                    self.state.buf.clear();
                    return;
                }
            }
        }
    }

    /// Records one message; returns true when the read step is over.
    fn observe(&mut self, msg: BackendMessage) -> bool {
        match msg {
            BackendMessage::Authentication(Authentication::Ok) => {
                self.trace.saw("AuthenticationOk")
            }
            BackendMessage::Authentication(other) => {
                self.trace.saw(format!("Authentication {other:?}"))
            }
            BackendMessage::ParameterStatus { name, value } => {
                self.trace.saw(format!("{PARAMETER_STATUS}{name}={value}"))
            }
            BackendMessage::BackendKeyData { pid, key } => {
                self.trace
                    .saw(format!("BackendKeyData key={} bytes", key.len()));
                self.state.key = Some((pid, key));
            }
            BackendMessage::ReadyForQuery(_) => {
                self.trace.saw("ReadyForQuery");
                return true;
            }
            BackendMessage::ErrorResponse(e) => {
                let severity = e.severity().map_or("?", |s| s.as_str());
                self.trace
                    .saw(format!("E {severity} {} {}", e.code(), e.message()));
                if let Some(d) = e.detail() {
                    self.trace.saw(format!("  DETAIL: {d}"));
                }
                if let Some(h) = e.hint() {
                    self.trace.saw(format!("  HINT: {h}"));
                }
                if severity != "FATAL" {
                    return false;
                }
                self.after_fatal();
                return true;
            }
            BackendMessage::NoticeResponse(n) => {
                let severity = n.severity().map_or("?", |s| s.as_str());
                self.trace
                    .saw(format!("N {severity} {} {}", n.code(), n.message()));
            }
            BackendMessage::NegotiateProtocolVersion {
                newest,
                unrecognized,
            } => {
                self.trace.saw(format!(
                    "NegotiateProtocolVersion {newest} [{}]",
                    unrecognized.join(", ")
                ));
            }
            BackendMessage::RowDescription(fields) => {
                let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
                self.trace
                    .saw(format!("RowDescription {}", names.join(",")));
            }
            BackendMessage::DataRow(values) => {
                let cells: Vec<String> = values
                    .iter()
                    .map(|v| {
                        v.as_ref()
                            .map_or("NULL".into(), |v| String::from_utf8_lossy(v).into_owned())
                    })
                    .collect();
                self.trace.saw(format!("DataRow {}", cells.join("|")));
            }
            BackendMessage::CommandComplete(tag) => {
                self.trace.saw(format!("CommandComplete {tag}"))
            }
            BackendMessage::EmptyQueryResponse => self.trace.saw("EmptyQueryResponse"),
            BackendMessage::Other { kind, body } => {
                self.trace
                    .saw(format!("message {:?} ({} bytes)", kind as char, body.len()))
            }
        }
        false
    }

    /// After a FATAL error the server closes: record that too.
    fn after_fatal(&mut self) {
        let outcome = if self.state.buf.is_empty() {
            self.fill()
        } else {
            ReadOutcome::Data
        };
        match outcome {
            ReadOutcome::Data => {
                self.trace
                    .saw(format!("data after FATAL: {} bytes", self.state.buf.len()));
                self.state.buf.clear();
            }
            other => self.end(other),
        }
    }

    /// A protocol-2 error: `E`, then NUL-terminated text.
    pub(super) fn read_v2(&mut self) {
        loop {
            if let Some((text, used)) = decode_v2_error(&self.state.buf) {
                self.state.buf.drain(..used);
                self.trace.saw(format!("v2 error: {text}"));
                return;
            }
            if !self.state.buf.is_empty() && self.state.buf[0] != b'E' {
                self.trace
                    .saw(format!("not a v2 error: {} bytes", self.state.buf.len()));
                self.state.buf.clear();
                return;
            }
            match self.fill() {
                ReadOutcome::Data => {}
                other => return self.end(other),
            }
        }
    }

    /// Whatever comes until the close, counted, then how it ended.
    pub(super) fn expect_close(&mut self) {
        self.until_close(None);
    }

    /// Waits until the server closes, reporting any bytes, or until `within` has passed.
    pub(super) fn await_close(&mut self, within: Duration) {
        self.until_close(Some(within));
    }

    /// Reports buffered and arriving bytes until the close; a read timeout ends the wait at
    /// once (`timeout`) or, with `within`, only once that has passed (`still open after`).
    ///
    /// One declared reading: bytes that start with `E` and decode as a whole ErrorResponse
    /// are recorded as one (a proxy's own error on a timeout), and an `E` whose message is
    /// still arriving is read on (up to [`ERROR_PEEK`] bytes); anything else is counted.
    fn until_close(&mut self, within: Option<Duration>) {
        let deadline = within.map(|w| Instant::now() + w);
        loop {
            match self.buffered() {
                Buffered::Error(msg) => {
                    if self.observe(msg) {
                        return;
                    }
                    continue;
                }
                Buffered::ReadOn => {}
                Buffered::Data => self.count_leftover(),
            }
            if let Some(at) = deadline {
                let left = at.saturating_duration_since(Instant::now());
                self.source
                    .set_read_wait(left.clamp(Duration::from_millis(10), super::STEP_TIMEOUT));
            }
            let filled = self.fill();
            if deadline.is_some() {
                self.source.set_read_wait(super::STEP_TIMEOUT);
            }
            match (filled, deadline) {
                (ReadOutcome::Data, _) => {}
                (ReadOutcome::Timeout, Some(at)) if Instant::now() < at => {}
                (ReadOutcome::Timeout, Some(_)) => {
                    self.count_leftover();
                    let secs = within.map_or(0, |w| w.as_secs());
                    self.trace.saw(format!("still open after {secs} s"));
                    return;
                }
                (other, _) => {
                    self.count_leftover();
                    return self.end(other);
                }
            }
        }
    }

    /// What [`until_close`](Self::until_close) makes of the buffer; a whole ErrorResponse
    /// is taken off it.
    fn buffered(&mut self) -> Buffered {
        let buf = &self.state.buf;
        if buf.is_empty() {
            return Buffered::ReadOn;
        }
        if buf[0] != b'E' {
            return Buffered::Data;
        }
        match BackendMessage::decode(buf) {
            Ok(Some((msg @ BackendMessage::ErrorResponse(_), used))) => {
                self.state.buf.drain(..used);
                Buffered::Error(msg)
            }
            Ok(None) if buf.len() < ERROR_PEEK => Buffered::ReadOn,
            _ => Buffered::Data,
        }
    }

    /// Counts bytes left in the buffer when a wait ends (a message cut short).
    fn count_leftover(&mut self) {
        if !self.state.buf.is_empty() {
            self.trace
                .saw(format!("data: {} bytes", self.state.buf.len()));
            self.state.buf.clear();
        }
    }
}

/// The buffer, as a wait for the close reads it.
enum Buffered {
    /// Nothing, or an ErrorResponse still arriving: read on.
    ReadOn,
    /// A whole ErrorResponse, taken off the buffer.
    Error(BackendMessage),
    /// Anything else: counted as data.
    Data,
}

/// The most bytes of an ErrorResponse still arriving that a wait for the close reads on
/// before counting them as data.
const ERROR_PEEK: usize = 8192;

/// The observation of a TCP reset.
pub(super) const RESET: &str = "reset";

/// An error that means the peer reset the connection (an RST, not a FIN).
pub(super) fn is_reset(e: &io::Error) -> bool {
    e.kind() == ErrorKind::ConnectionReset
}

/// An error that means the peer closed the connection in order (a read at EOF reported as an
/// error). A reset is not a close: see [`is_reset`].
pub(super) fn is_closed(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof)
}

/// Why a read failed: an alert the peer sent over TLS, by its name (`alert unknown_ca`, as
/// a failed handshake records it), else the error's text.
fn read_reason(e: &io::Error) -> String {
    let alert = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<openssl::ssl::Error>())
        .and_then(super::tls::first_reason)
        .and_then(super::tls::alert_named);
    match alert {
        Some(name) => format!("alert {name}"),
        None => io_reason(e),
    }
}

/// The OS error's text without its `(os error N)`.
pub(crate) fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A connection that hands out its reads in order, then EOF.
    struct Scripted {
        reads: VecDeque<io::Result<Vec<u8>>>,
        connected: bool,
        close_notify: bool,
    }

    impl Source for Scripted {
        fn read_some(&mut self, chunk: &mut [u8]) -> Option<io::Result<usize>> {
            if !self.connected {
                return None;
            }
            Some(match self.reads.pop_front() {
                None => Ok(0),
                Some(Err(e)) => Err(e),
                Some(Ok(mut bytes)) => {
                    let n = bytes.len().min(chunk.len());
                    chunk[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.reads.push_front(Ok(bytes.split_off(n)));
                    }
                    Ok(n)
                }
            })
        }

        fn close_notified(&mut self) -> bool {
            self.close_notify
        }

        fn lose(&mut self) {
            self.connected = false;
        }
    }

    fn scripted(reads: Vec<io::Result<Vec<u8>>>) -> Scripted {
        Scripted {
            reads: reads.into(),
            connected: true,
            close_notify: false,
        }
    }

    /// Runs `step` over `source`; the trace's lines, the reader, whether still connected.
    fn observe_with(
        mut source: Scripted,
        step: impl FnOnce(&mut Reading<'_>),
    ) -> (Vec<String>, Reader, bool) {
        let mut state = Reader::default();
        let mut trace = Trace::default();
        step(&mut Reading {
            state: &mut state,
            source: &mut source,
            trace: &mut trace,
        });
        (trace.lines, state, source.connected)
    }

    fn observe(reads: Vec<Vec<u8>>, step: impl FnOnce(&mut Reading<'_>)) -> Vec<String> {
        observe_with(scripted(reads.into_iter().map(Ok).collect()), step).0
    }

    /// A backend message: type, length word (counting itself), body.
    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// An ErrorResponse or NoticeResponse body from its fields.
    fn fields(pairs: &[(u8, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (code, value) in pairs {
            body.push(*code);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        body
    }

    fn login() -> Vec<u8> {
        let mut bytes = msg(b'R', &[0, 0, 0, 0]);
        bytes.extend(msg(b'S', b"server_version\x0015.0\x00"));
        bytes.extend(msg(b'K', &[0, 0, 0x30, 0x39, 1, 2, 3, 4]));
        bytes.extend(msg(b'Z', b"I"));
        bytes
    }

    #[test]
    fn reply_bytes_are_recorded_and_remembered() {
        for (byte, line) in [(b'S', "< S"), (b'N', "< N"), (b'G', "< G")] {
            let (lines, state, connected) =
                observe_with(scripted(vec![Ok(vec![byte])]), |r| r.read_byte());
            assert_eq!(lines, [line]);
            assert_eq!(state.last_reply, Some(byte));
            assert!(state.buf.is_empty());
            assert!(connected);
        }
        assert_eq!(
            observe(vec![vec![0x16]], |r| r.read_byte()),
            ["< byte 0x16"]
        );
    }

    #[test]
    fn bytes_after_the_reply_stay_for_the_next_step() {
        let (lines, state, _) = observe_with(scripted(vec![Ok(b"SZ".to_vec())]), |r| {
            r.read_byte();
            r.read_byte();
        });
        assert_eq!(lines, ["< S", "< byte 0x5a"]);
        assert_eq!(state.last_reply, Some(b'S'));
    }

    #[test]
    fn an_error_response_in_place_of_the_reply_byte() {
        let error = msg(
            b'E',
            &fields(&[
                (b'S', "FATAL"),
                (b'V', "FATAL"),
                (b'C', "0A000"),
                (b'M', "unsupported frontend protocol 1234.5679"),
            ]),
        );
        let (lines, state, connected) = observe_with(scripted(vec![Ok(error)]), |r| r.read_byte());
        assert_eq!(
            lines,
            [
                "< E FATAL 0A000 unsupported frontend protocol 1234.5679",
                "< closed"
            ]
        );
        assert_eq!(state.last_reply, None);
        assert!(!connected);
    }

    #[test]
    fn a_login_records_authentication_key_and_ready() {
        // Split across reads in the middle of messages.
        let bytes = login();
        let (a, b) = bytes.split_at(11);
        let (lines, state, connected) =
            observe_with(scripted(vec![Ok(a.to_vec()), Ok(b.to_vec())]), |r| {
                r.read_messages()
            });
        assert_eq!(
            lines,
            [
                "< AuthenticationOk",
                "< ParameterStatus server_version=15.0",
                "< BackendKeyData key=4 bytes",
                "< ReadyForQuery"
            ]
        );
        assert_eq!(state.key, Some((12345, vec![1, 2, 3, 4])));
        assert!(connected);
    }

    #[test]
    fn an_error_response_with_its_fields_then_the_close() {
        let error = msg(
            b'E',
            &fields(&[
                (b'S', "FATAL"),
                (b'C', "28000"),
                (b'M', "no pg_hba.conf entry"),
                (b'D', "the detail"),
                (b'H', "the hint"),
                (b'F', "auth.c"),
            ]),
        );
        let (lines, _, connected) = observe_with(scripted(vec![Ok(error)]), |r| r.read_messages());
        assert_eq!(
            lines,
            [
                "< E FATAL 28000 no pg_hba.conf entry",
                "<   DETAIL: the detail",
                "<   HINT: the hint",
                "< closed"
            ]
        );
        assert!(!connected);
    }

    #[test]
    fn data_after_a_fatal_error_is_counted() {
        let mut bytes = msg(
            b'E',
            &fields(&[(b'S', "FATAL"), (b'C', "08P01"), (b'M', "m")]),
        );
        bytes.extend_from_slice(b"xyz");
        let (lines, state, connected) =
            observe_with(scripted(vec![Ok(bytes)]), |r| r.read_messages());
        assert_eq!(lines, ["< E FATAL 08P01 m", "< data after FATAL: 3 bytes"]);
        assert!(state.buf.is_empty());
        assert!(connected);
    }

    #[test]
    fn a_non_fatal_error_and_a_notice_do_not_end_the_read() {
        let mut bytes = msg(
            b'E',
            &fields(&[(b'S', "ERROR"), (b'C', "42601"), (b'M', "syntax")]),
        );
        bytes.extend(msg(
            b'N',
            &fields(&[(b'S', "WARNING"), (b'C', "01000"), (b'M', "w")]),
        ));
        bytes.extend(msg(b'Z', b"I"));
        assert_eq!(
            observe(vec![bytes], |r| r.read_messages()),
            [
                "< E ERROR 42601 syntax",
                "< N WARNING 01000 w",
                "< ReadyForQuery"
            ]
        );
    }

    #[test]
    fn query_results_and_protocol_negotiation() {
        let mut row_description = vec![0, 2];
        for name in ["a", "b"] {
            row_description.extend_from_slice(name.as_bytes());
            row_description.extend_from_slice(&[0; 19]);
        }
        let mut bytes = msg(b'v', b"\x00\x03\x00\x00\x00\x00\x00\x01_pq_.x\x00");
        bytes.extend(msg(b'T', &row_description));
        bytes.extend(msg(b'D', b"\x00\x02\x00\x00\x00\x011\xff\xff\xff\xff"));
        bytes.extend(msg(b'C', b"SELECT 1\x00"));
        bytes.extend(msg(b'I', b""));
        bytes.extend(msg(b'!', b"ab"));
        bytes.extend(msg(b'R', &[0, 0, 0, 3]));
        bytes.extend(msg(b'Z', b"I"));
        assert_eq!(
            observe(vec![bytes], |r| r.read_messages()),
            [
                "< NegotiateProtocolVersion 3.0 [_pq_.x]",
                "< RowDescription a,b",
                "< DataRow 1|NULL",
                "< CommandComplete SELECT 1",
                "< EmptyQueryResponse",
                "< message '!' (2 bytes)",
                "< Authentication CleartextPassword",
                "< ReadyForQuery"
            ]
        );
    }

    #[test]
    fn a_clean_close_and_an_eof_in_the_middle_of_a_message() {
        let (lines, state, connected) = observe_with(scripted(vec![]), |r| r.read_messages());
        assert_eq!(lines, ["< closed"]);
        assert!(state.buf.is_empty());
        assert!(!connected);
        // Half a message, then EOF: the close is what the step saw, the half stays unread.
        let half = msg(b'Z', b"I")[..3].to_vec();
        let (lines, state, connected) =
            observe_with(scripted(vec![Ok(half)]), |r| r.read_messages());
        assert_eq!(lines, ["< closed"]);
        assert_eq!(state.buf, [b'Z', 0, 0]);
        assert!(!connected);
    }

    #[test]
    fn a_close_after_close_notify_says_so() {
        let mut source = scripted(vec![]);
        source.close_notify = true;
        let (lines, _, _) = observe_with(source, |r| r.read_messages());
        assert_eq!(lines, ["< closed (close_notify)"]);
    }

    #[test]
    fn timeouts_resets_and_read_errors() {
        let timeout = io::Error::new(ErrorKind::WouldBlock, "Resource temporarily unavailable");
        let (lines, _, connected) = observe_with(scripted(vec![Err(timeout)]), |r| r.read_byte());
        assert_eq!(lines, ["< timeout"]);
        assert!(connected);
        let reset = || io::Error::new(ErrorKind::ConnectionReset, "reset");
        let (lines, _, connected) =
            observe_with(scripted(vec![Err(reset())]), |r| r.read_messages());
        assert_eq!(lines, ["< reset"]);
        assert!(!connected);
        // After a FATAL error, and while waiting for the close: a reset, not a close.
        let fatal = msg(
            b'E',
            &fields(&[(b'S', "FATAL"), (b'C', "08P01"), (b'M', "m")]),
        );
        let (lines, _, _) = observe_with(scripted(vec![Ok(fatal), Err(reset())]), |r| {
            r.read_messages()
        });
        assert_eq!(lines, ["< E FATAL 08P01 m", "< reset"]);
        let (lines, _, _) = observe_with(scripted(vec![Ok(vec![1]), Err(reset())]), |r| {
            r.expect_close()
        });
        assert_eq!(lines, ["< data: 1 bytes", "< reset"]);
        let (lines, _, _) = observe_with(scripted(vec![Err(reset())]), |r| r.read_byte());
        assert_eq!(lines, ["< reset"]);
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        let (lines, _, _) = observe_with(scripted(vec![Err(aborted)]), |r| r.read_byte());
        assert_eq!(lines, ["< read failed: Software caused connection abort"]);
        let other = io::Error::from_raw_os_error(libc::EIO);
        let (lines, _, connected) = observe_with(scripted(vec![Err(other)]), |r| r.read_v2());
        assert_eq!(lines, ["< read failed: Input/output error"]);
        assert!(!connected);
    }

    #[test]
    fn nothing_is_recorded_without_a_connection() {
        let mut source = scripted(vec![Ok(b"S".to_vec())]);
        source.connected = false;
        let (lines, _, _) = observe_with(source, |r| {
            r.read_byte();
            r.read_messages();
            r.expect_close();
        });
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn a_bad_length_word_is_garbage() {
        let (lines, state, connected) =
            observe_with(scripted(vec![Ok(b"Z\0\0\0\0rest".to_vec())]), |r| {
                r.read_messages()
            });
        assert_eq!(lines, ["< garbage: invalid length 0 for backend message"]);
        assert!(state.buf.is_empty());
        assert!(connected);
    }

    #[test]
    fn protocol_2_errors() {
        assert_eq!(
            observe(vec![b"EFATAL:  unsupported\n\0".to_vec()], |r| r.read_v2()),
            ["< v2 error: FATAL:  unsupported"]
        );
        assert_eq!(
            observe(vec![b"Rxyz".to_vec()], |r| r.read_v2()),
            ["< not a v2 error: 4 bytes"]
        );
    }

    #[test]
    fn expect_close_counts_what_comes_before_the_close() {
        let (lines, _, connected) = observe_with(scripted(vec![Ok(vec![1; 3])]), |r| {
            r.state.buf.extend_from_slice(&[0, 0]);
            r.expect_close();
        });
        assert_eq!(lines, ["< data: 2 bytes", "< data: 3 bytes", "< closed"]);
        assert!(!connected);
    }

    #[test]
    fn io_reasons_drop_the_os_error_number() {
        assert_eq!(
            io_reason(&io::Error::from_raw_os_error(libc::ECONNREFUSED)),
            "Connection refused"
        );
        assert!(is_closed(&io::Error::from(ErrorKind::BrokenPipe)));
        assert!(!is_closed(&io::Error::from(ErrorKind::TimedOut)));
        let reset = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert!(is_reset(&reset) && !is_closed(&reset));
    }
}
