//! The harness's client: carries out a case's steps over a real socket (raw bytes, single or
//! split writes, TLS handshakes with chosen options, startup, queries) and records what it sees
//! as a [`Trace`]. It speaks the protocol through `pgssl_server::wire`, the codec the reference
//! server uses; libpq steps run the real `psql`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use std::os::unix::net::UnixStream;

use openssl::ssl::{
    ShutdownState, SslConnector, SslMethod, SslSession, SslStream, SslVerifyMode, SslVersion,
};
use pgssl_server::wire::backend::{Authentication, decode_v2_error};
use pgssl_server::wire::{
    BackendMessage, CancelRequest, FrontendMessage, ProtocolVersion, StartupMessage, StartupPacket,
};

use crate::case::{LibpqStep, Packet, PacketSpec, SslMode, Step, TlsStep};
use crate::target::Running;
use crate::trace::Trace;

/// How long a read waits before the step records `timeout`.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to connect.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// TCP address.
    pub addr: SocketAddr,
}

enum Conn {
    Plain(TcpStream),
    Unix(UnixStream),
    Tls(Box<SslStream<TcpStream>>),
    Gone,
}

impl Conn {
    fn io(&mut self) -> Option<&mut dyn ReadWrite> {
        match self {
            Self::Plain(s) => Some(s),
            Self::Unix(s) => Some(s),
            Self::Tls(s) => Some(s.as_mut()),
            Self::Gone => None,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Runs `steps` against `endpoint`, returning the trace.
pub fn run_steps(endpoint: &Endpoint, steps: &[Step], server: Option<&dyn Running>) -> Trace {
    let mut client = Client {
        endpoint: endpoint.clone(),
        conn: Conn::Gone,
        buf: Vec::new(),
        key: None,
        trace: Trace::default(),
        server,
        session: None,
        last_reply: None,
    };
    client.connect();
    for step in steps {
        client.step(step);
    }
    client.trace
}

/// The bytes each write step of `steps` sends, in order (a CancelRequest for the session's
/// own key uses a zero key here): seeds for the fuzzers' corpora.
pub fn written_bytes(steps: &[Step]) -> Vec<Vec<u8>> {
    let detached = Client {
        endpoint: Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        },
        conn: Conn::Gone,
        buf: Vec::new(),
        key: Some((0, vec![0; 4])),
        trace: Trace::default(),
        server: None,
        session: None,
        last_reply: None,
    };
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Write(packets) | Step::WriteSplit { packets, .. } => {
                out.push(detached.encode(packets).0)
            }
            Step::Reconnect { login: true } => out.push(default_startup().to_bytes()),
            _ => {}
        }
    }
    out
}

struct Client<'a> {
    endpoint: Endpoint,
    conn: Conn,
    buf: Vec<u8>,
    key: Option<(u32, Vec<u8>)>,
    trace: Trace,
    server: Option<&'a dyn Running>,
    session: Option<SslSession>,
    /// The last S/N/G reply byte read.
    last_reply: Option<u8>,
}

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

enum ReadOutcome {
    Data,
    /// The connection was already gone (a failed handshake): nothing more to record.
    Gone,
    Eof,
    Timeout,
    Error(String),
}

impl Client<'_> {
    fn connect(&mut self) {
        self.buf.clear();
        self.last_reply = None;
        match TcpStream::connect_timeout(&self.endpoint.addr, STEP_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(STEP_TIMEOUT));
                let _ = s.set_write_timeout(Some(STEP_TIMEOUT));
                self.conn = Conn::Plain(s);
            }
            Err(e) => {
                self.trace.saw(format!("connect failed: {}", io_reason(&e)));
                self.conn = Conn::Gone;
            }
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Write(packets) => {
                let (bytes, names) = self.encode(packets);
                self.trace.sent(format!("write {}", names.join("+")));
                self.write(&bytes);
            }
            Step::WriteSplit { packets, at } => {
                let (bytes, names) = self.encode(packets);
                self.trace
                    .sent(format!("write {} split at {at:?}", names.join("+")));
                let mut from = 0;
                for &cut in at.iter().chain(std::iter::once(&bytes.len())) {
                    let cut = cut.min(bytes.len());
                    if cut > from {
                        self.write(&bytes[from..cut]);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    from = cut.max(from);
                }
            }
            Step::ReadByte => self.read_byte(),
            Step::Tls(opts) => self.tls(opts),
            Step::Read => self.read_messages(),
            Step::ReadV2Error => self.read_v2(),
            Step::ExpectClose => self.expect_close(),
            Step::ShutdownWrite => {
                self.trace.sent("shutdown write");
                match &self.conn {
                    Conn::Plain(s) => drop(s.shutdown(std::net::Shutdown::Write)),
                    Conn::Tls(s) => drop(s.get_ref().shutdown(std::net::Shutdown::Write)),
                    Conn::Unix(s) => drop(s.shutdown(std::net::Shutdown::Write)),
                    Conn::Gone => {}
                }
            }
            Step::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Reconnect { login } => {
                self.trace.sent(if *login {
                    "reconnect and log in"
                } else {
                    "reconnect"
                });
                self.connect();
                if *login {
                    let bytes = default_startup().to_bytes();
                    self.write(&bytes);
                    self.read_messages();
                }
            }
            Step::Libpq(step) => self.libpq(step),
            Step::Psql {
                conninfo,
                query,
                unix,
            } => self.psql(conninfo, query, *unix),
            Step::ConnectUnix => {
                self.trace.sent("connect over the Unix socket");
                self.buf.clear();
                let path = self.server.and_then(|s| s.unix_socket());
                match path.map(UnixStream::connect) {
                    Some(Ok(s)) => {
                        let _ = s.set_read_timeout(Some(STEP_TIMEOUT));
                        self.conn = Conn::Unix(s);
                    }
                    Some(Err(e)) => {
                        self.trace.saw(format!("connect failed: {}", io_reason(&e)));
                        self.conn = Conn::Gone;
                    }
                    None => self.trace.saw("no unix socket"),
                }
            }
            Step::Files(ops) => {
                self.trace.sent("change files");
                match self.server.and_then(|s| s.datadir()) {
                    Some((dir, owner)) => {
                        if let Err(e) = crate::setup::apply_file_ops(ops, &dir, owner) {
                            self.trace.saw(format!("files failed: {e}"));
                        }
                    }
                    None => self.trace.saw("no data directory"),
                }
            }
            Step::Reload => {
                self.trace.sent("reload");
                match self.server.map(|s| s.reload()) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => self.trace.saw(format!("reload failed: {e}")),
                    None => self.trace.saw("no server to reload"),
                }
            }
        }
    }

    fn encode(&self, packets: &[Packet]) -> (Vec<u8>, Vec<String>) {
        let mut bytes = Vec::new();
        let mut names = Vec::new();
        for p in packets {
            let (b, name) = self.encode_one(p);
            bytes.extend_from_slice(&b);
            names.push(name);
        }
        (bytes, names)
    }

    fn encode_one(&self, packet: &Packet) -> (Vec<u8>, String) {
        match packet {
            Packet::Named(name) => match name.as_str() {
                "ssl_request" => (StartupPacket::ssl_request().to_bytes(), "SSLRequest".into()),
                "gssenc_request" => (
                    StartupPacket::gssenc_request().to_bytes(),
                    "GSSENCRequest".into(),
                ),
                "startup" => (default_startup().to_bytes(), "StartupMessage".into()),
                "terminate" => {
                    let mut out = Vec::new();
                    FrontendMessage::Terminate.encode(&mut out);
                    (out, "Terminate".into())
                }
                other => match other.strip_prefix("query:") {
                    Some(sql) => {
                        let mut out = Vec::new();
                        FrontendMessage::Query(sql.as_bytes().to_vec()).encode(&mut out);
                        (out, format!("Query({sql})"))
                    }
                    None => (Vec::new(), format!("unknown packet {other:?}")),
                },
            },
            Packet::Detailed(spec) => self.encode_spec(spec),
        }
    }

    fn encode_spec(&self, spec: &PacketSpec) -> (Vec<u8>, String) {
        match spec {
            PacketSpec::Startup {
                version,
                params,
                no_terminator,
                pad_to,
            } => {
                let v = version.as_deref().unwrap_or("3.0");
                let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
                let version =
                    ProtocolVersion::new(major.parse().unwrap_or(3), minor.parse().unwrap_or(0));
                let mut params: Vec<(String, String)> = params.clone().unwrap_or_else(|| {
                    vec![
                        ("user".into(), "postgres".into()),
                        ("database".into(), "postgres".into()),
                    ]
                });
                if let Some(total) = pad_to {
                    let base = StartupPacket::Startup(StartupMessage::new(version, &params))
                        .to_bytes()
                        .len();
                    let overhead = "application_name".len() + 2;
                    let fill = total.saturating_sub(base + overhead);
                    params.push(("application_name".into(), "x".repeat(fill)));
                }
                let mut msg = StartupMessage::new(version, &params);
                if *no_terminator {
                    msg.raw_parameters.pop();
                }
                let bytes = StartupPacket::Startup(msg).to_bytes();
                let len = bytes.len();
                (bytes, format!("StartupMessage({v}, {len} bytes)"))
            }
            PacketSpec::Cancel {
                pid,
                key_len,
                own,
                wrong_key,
            } => {
                let (pid, mut key) = match (&self.key, own) {
                    (Some((p, k)), true) => (*p, k.clone()),
                    _ => (*pid, vec![0u8; *key_len]),
                };
                if *wrong_key && !key.is_empty() {
                    key[0] ^= 0xFF;
                }
                let name = if *own {
                    "CancelRequest(own key)".to_owned()
                } else {
                    format!("CancelRequest(pid {pid}, {}-byte key)", key.len())
                };
                (
                    StartupPacket::Cancel(CancelRequest::new(pid, &key)).to_bytes(),
                    name,
                )
            }
            PacketSpec::SslRequestPadded { extra } => (
                StartupPacket::SslRequest {
                    extra: vec![0; *extra],
                }
                .to_bytes(),
                format!("SSLRequest(+{extra} bytes)"),
            ),
            PacketSpec::Length { length, filler } => {
                let mut b = length.to_be_bytes().to_vec();
                b.extend(std::iter::repeat_n(0u8, *filler));
                (b, format!("length {length}"))
            }
            PacketSpec::Hex(hex) => {
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                    .collect();
                (bytes, format!("hex {hex}"))
            }
            PacketSpec::Text(text) => (text.as_bytes().to_vec(), format!("text {text:?}")),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let Some(io) = self.conn.io() else { return };
        if let Err(e) = io.write_all(bytes).and_then(|()| io.flush()) {
            self.trace.saw(format!("write failed: {}", io_reason(&e)));
        }
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self) -> ReadOutcome {
        let Some(io) = self.conn.io() else {
            return ReadOutcome::Gone;
        };
        let mut chunk = [0u8; 8192];
        match io.read(&mut chunk) {
            Ok(0) => ReadOutcome::Eof,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                ReadOutcome::Data
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                ReadOutcome::Timeout
            }
            Err(e) if is_closed(&e) => ReadOutcome::Eof,
            Err(e) => ReadOutcome::Error(io_reason(&e)),
        }
    }

    fn closed_line(&mut self) -> &'static str {
        let notified = match &mut self.conn {
            Conn::Tls(s) => s.get_shutdown().contains(ShutdownState::RECEIVED),
            _ => false,
        };
        if notified {
            "closed (close_notify)"
        } else {
            "closed"
        }
    }

    fn end(&mut self, outcome: ReadOutcome) {
        match outcome {
            ReadOutcome::Eof => {
                let line = self.closed_line();
                self.trace.saw(line);
                self.conn = Conn::Gone;
            }
            ReadOutcome::Timeout => self.trace.saw("timeout"),
            ReadOutcome::Error(e) => {
                self.trace.saw(format!("read failed: {e}"));
                self.conn = Conn::Gone;
            }
            ReadOutcome::Data | ReadOutcome::Gone => {}
        }
    }

    fn read_byte(&mut self) {
        if self.buf.is_empty() {
            match self.fill() {
                ReadOutcome::Data => {}
                other => return self.end(other),
            }
        }
        let b = self.buf[0];
        match b {
            b'S' | b'N' | b'G' => {
                self.buf.remove(0);
                self.last_reply = Some(b);
                self.trace.saw((b as char).to_string());
            }
            // An ErrorResponse where a reply byte belongs (allowed by the protocol).
            b'E' => self.read_messages(),
            other => {
                self.buf.remove(0);
                self.trace.saw(format!("byte 0x{other:02x}"));
            }
        }
    }

    fn read_messages(&mut self) {
        loop {
            match BackendMessage::decode(&self.buf) {
                Ok(Some((msg, used))) => {
                    self.buf.drain(..used);
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
                    self.buf.clear();
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
            BackendMessage::ParameterStatus { .. } => {}
            BackendMessage::BackendKeyData { pid, key } => {
                self.trace
                    .saw(format!("BackendKeyData key={} bytes", key.len()));
                self.key = Some((pid, key));
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
                // After a FATAL error the server closes: record that too.
                let outcome = if self.buf.is_empty() {
                    self.fill()
                } else {
                    ReadOutcome::Data
                };
                match outcome {
                    ReadOutcome::Data => {
                        self.trace
                            .saw(format!("data after FATAL: {} bytes", self.buf.len()));
                        self.buf.clear();
                    }
                    other => self.end(other),
                }
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

    fn read_v2(&mut self) {
        loop {
            if let Some((text, used)) = decode_v2_error(&self.buf) {
                self.buf.drain(..used);
                self.trace.saw(format!("v2 error: {text}"));
                return;
            }
            if !self.buf.is_empty() && self.buf[0] != b'E' {
                self.trace
                    .saw(format!("not a v2 error: {} bytes", self.buf.len()));
                self.buf.clear();
                return;
            }
            match self.fill() {
                ReadOutcome::Data => {}
                other => return self.end(other),
            }
        }
    }

    fn expect_close(&mut self) {
        if !self.buf.is_empty() {
            self.trace.saw(format!("data: {} bytes", self.buf.len()));
            self.buf.clear();
        }
        loop {
            match self.fill() {
                ReadOutcome::Data => {
                    self.trace.saw(format!("data: {} bytes", self.buf.len()));
                    self.buf.clear();
                }
                other => return self.end(other),
            }
        }
    }

    fn tls(&mut self, opts: &TlsStep) {
        if opts.only_after_s && self.last_reply != Some(b'S') {
            self.trace.sent("tls skipped: the reply was not S");
            return;
        }
        let mut desc = String::from("tls");
        if let Some(alpn) = &opts.alpn {
            desc.push_str(&format!(" alpn={}", alpn.join(",")));
        }
        if let Some(v) = &opts.min {
            desc.push_str(&format!(" min={v}"));
        }
        if let Some(v) = &opts.max {
            desc.push_str(&format!(" max={v}"));
        }
        if let Some(c) = &opts.ciphers {
            desc.push_str(&format!(" ciphers={c}"));
        }
        self.trace.sent(desc);
        let stream = match std::mem::replace(&mut self.conn, Conn::Gone) {
            Conn::Plain(s) => s,
            other => {
                self.conn = other;
                self.trace.saw("tls failed: no plain connection");
                return;
            }
        };
        let resume = if opts.resume {
            self.session.clone()
        } else {
            None
        };
        match tls_handshake(stream, opts, resume.as_ref()) {
            Ok(tls) => {
                let ssl = tls.ssl();
                let mut line = format!(
                    "tls {} {}",
                    ssl.version_str(),
                    ssl.current_cipher().map_or("?", |c| c.name())
                );
                if let Some(p) = ssl.selected_alpn_protocol() {
                    line.push_str(&format!(" alpn={}", String::from_utf8_lossy(p)));
                }
                let ca_names = client_ca_names(ssl);
                if ca_names > 0 {
                    line.push_str(&format!(" ca_names={ca_names}"));
                }
                if opts.peer {
                    let cn = ssl
                        .peer_certificate()
                        .and_then(|c| {
                            c.subject_name()
                                .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                                .next()
                                .and_then(|e| e.data().to_string().ok())
                        })
                        .unwrap_or_default();
                    line.push_str(&format!(" peer=CN={cn}"));
                }
                if opts.resume {
                    line.push_str(if ssl.session_reused() {
                        " resumed"
                    } else {
                        " not resumed"
                    });
                }
                self.session = ssl.session().map(|s| s.to_owned());
                self.trace.saw(line);
                self.conn = Conn::Tls(Box::new(tls));
            }
            Err(reason) => self.trace.saw(format!("tls failed: {reason}")),
        }
    }

    /// libpq's connection sequence for `step.sslmode` (fe-connect.c of libpq 15): `allow`
    /// retries with SSL after a refused plaintext login; `prefer` goes on in plaintext after
    /// N, and retries without SSL after a failed handshake or a login refused over SSL;
    /// `require` and stronger give up on N.
    fn libpq(&mut self, step: &LibpqStep) {
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
        self.read_messages();
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
        self.read_byte();
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

    fn psql(&mut self, conninfo: &str, query: &str, unix: bool) {
        self.trace
            .sent(format!("psql \"{conninfo}\" -c \"{query}\""));
        let host = match (unix, self.server.and_then(|s| s.unix_socket())) {
            (true, Some(socket)) => socket
                .parent()
                .map_or_else(String::new, |d| d.display().to_string()),
            _ => self.endpoint.addr.ip().to_string(),
        };
        let pki = crate::setup::pki()
            .map(|p| p.dir().display().to_string())
            .unwrap_or_default();
        let conninfo = conninfo.replace("{pki}", &pki);
        let full = format!("host={host} port={} {conninfo}", self.endpoint.addr.port());
        let out = std::process::Command::new("psql")
            .args([full.as_str(), "-X", "-A", "-t", "-c", query])
            .env("PGCONNECT_TIMEOUT", "5")
            .output();
        match out {
            Err(e) => self.trace.saw(format!("psql not runnable: {e}")),
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                self.trace
                    .saw(format!("psql ok: {}", text.trim().replace('\n', " / ")));
            }
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stderr);
                let port = self.endpoint.addr.port().to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .replace(&port, "PORT")
                    .replace(&host, "HOST");
                self.trace.saw(format!("psql failed: {first}"));
            }
        }
    }
}

unsafe extern "C" {
    /// libssl: on a client, the CA names the server's CertificateRequest listed (not bound by
    /// `openssl-sys`).
    fn SSL_get_client_CA_list(ssl: *const openssl_sys::SSL) -> *mut openssl_sys::OPENSSL_STACK;
}

/// How many CA names the server sent in its CertificateRequest (0 when it requested none).
fn client_ca_names(ssl: &openssl::ssl::SslRef) -> usize {
    use foreign_types::ForeignTypeRef;
    // SAFETY: `ssl` is a live SSL object; the returned stack belongs to it and is only counted.
    unsafe {
        let names = SSL_get_client_CA_list(ssl.as_ptr());
        if names.is_null() {
            0
        } else {
            usize::try_from(openssl_sys::OPENSSL_sk_num(names)).unwrap_or(0)
        }
    }
}

fn default_startup() -> StartupPacket {
    StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion::V3_0,
        &[("user", "postgres"), ("database", "postgres")],
    ))
}

fn tls_version(name: &str) -> Option<SslVersion> {
    Some(match name {
        "TLSv1" => SslVersion::TLS1,
        "TLSv1.1" => SslVersion::TLS1_1,
        "TLSv1.2" => SslVersion::TLS1_2,
        "TLSv1.3" => SslVersion::TLS1_3,
        _ => return None,
    })
}

/// A client handshake with the step's options; the error is the normalized failure.
fn tls_handshake(
    stream: TcpStream,
    opts: &TlsStep,
    resume: Option<&SslSession>,
) -> Result<SslStream<TcpStream>, String> {
    let setup = |e: openssl::error::ErrorStack| format!("client set-up: {e}");
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(setup)?;
    builder.set_verify(SslVerifyMode::NONE);
    if opts.ciphers.is_some()
        || opts
            .min
            .as_deref()
            .is_some_and(|m| m != "TLSv1.2" && m != "TLSv1.3")
    {
        // Old protocol versions and NULL ciphers need the security level lowered, as the
        // spec's probes did with @SECLEVEL=0.
        builder.set_security_level(0);
    }
    builder
        .set_min_proto_version(opts.min.as_deref().and_then(tls_version))
        .map_err(setup)?;
    builder
        .set_max_proto_version(opts.max.as_deref().and_then(tls_version))
        .map_err(setup)?;
    if let Some(c) = &opts.ciphers {
        builder.set_cipher_list(c).map_err(setup)?;
    }
    if let Some(alpn) = &opts.alpn {
        let mut wire = Vec::new();
        for p in alpn {
            wire.push(p.len() as u8);
            wire.extend_from_slice(p.as_bytes());
        }
        builder.set_alpn_protos(&wire).map_err(setup)?;
    }
    if let Some((cert, key)) = &opts.cert {
        let pki = crate::setup::pki().map_err(|e| e.to_string())?;
        builder
            .set_certificate_chain_file(pki.path(cert))
            .map_err(setup)?;
        builder
            .set_private_key_file(pki.path(key), openssl::ssl::SslFiletype::PEM)
            .map_err(setup)?;
    }
    if resume.is_some() {
        builder.set_session_cache_mode(openssl::ssl::SslSessionCacheMode::CLIENT);
    }
    if let Some(root) = &opts.verify {
        let pki = crate::setup::pki().map_err(|e| e.to_string())?;
        builder.set_ca_file(pki.path(root)).map_err(setup)?;
        builder.set_verify(SslVerifyMode::PEER);
    }
    let connector = builder.build();
    let mut config = connector
        .configure()
        .map_err(setup)?
        .verify_hostname(opts.verify.is_some() && opts.verify_host.is_some());
    if let Some(session) = resume {
        // SAFETY: the session comes from an earlier connection made with the same options.
        unsafe { config.set_session(session).map_err(setup)? };
    }
    if opts.sni.is_none() {
        config = config.use_server_name_indication(false);
    }
    let sni = opts
        .verify_host
        .as_deref()
        .or(opts.sni.as_deref())
        .unwrap_or("localhost");
    let deadline = Instant::now() + STEP_TIMEOUT;
    match config.connect(sni, stream) {
        Ok(s) => Ok(s),
        Err(openssl::ssl::HandshakeError::Failure(mid)) => Err(classify(mid.error(), deadline)),
        Err(openssl::ssl::HandshakeError::WouldBlock(_)) => Err("timeout".into()),
        Err(openssl::ssl::HandshakeError::SetupFailure(e)) => Err(format!("client set-up: {e}")),
    }
}

/// Alerts by the reason OpenSSL gives for them on the client side.
const ALERTS: &[(&str, &str)] = &[
    ("no application protocol", "no_application_protocol"),
    ("handshake failure", "handshake_failure"),
    ("protocol version", "protocol_version"),
    ("unknown ca", "unknown_ca"),
    ("certificate revoked", "certificate_revoked"),
    ("certificate required", "certificate_required"),
    ("bad certificate", "bad_certificate"),
    ("decrypt error", "decrypt_error"),
    ("internal error", "internal_error"),
];

fn classify(err: &openssl::ssl::Error, deadline: Instant) -> String {
    if let Some(io) = err.io_error() {
        if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
            || Instant::now() >= deadline
        {
            return "timeout".into();
        }
        return if is_closed(io) {
            "closed".into()
        } else {
            io_reason(io)
        };
    }
    let reason = err
        .ssl_error()
        .and_then(|s| s.errors().first())
        .and_then(|e| e.reason())
        .unwrap_or("");
    if let Some((_, alert)) = ALERTS.iter().find(|(text, _)| reason.contains(text)) {
        return format!("alert {alert}");
    }
    if reason.is_empty() || reason.contains("unexpected eof") {
        return "closed".into();
    }
    reason.to_owned()
}

fn is_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}
