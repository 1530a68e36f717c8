//! Shared helpers for the integration tests: a data directory with a fresh certificate, the
//! server binary started on a free port with its log captured, and raw and TLS clients.

#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode, SslVersion};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509, X509NameBuilder};

pub use pgssl_server::wire::{
    BackendMessage, CancelRequest, ErrorFields, ProtocolVersion, StartupMessage, StartupPacket,
};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The `pg_hba.conf` test data directories get: trust every connection (the server, like
/// PostgreSQL, refuses to start without one).
pub const PERMISSIVE_HBA: &str =
    "local all all trust\nhost all all 0.0.0.0/0 trust\nhost all all ::0/0 trust\n";

/// A temporary data directory holding `server.crt` and `server.key` (P-256, CN=localhost).
pub struct DataDir {
    pub dir: tempfile::TempDir,
}

impl DataDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "localhost").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&cert.x509v3_context(None, None))
            .unwrap();
        cert.append_extension(san).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = cert.build();
        std::fs::write(dir.path().join("server.crt"), cert.to_pem().unwrap()).unwrap();
        write_private(
            &dir.path().join("server.key"),
            &key.private_key_to_pem_pkcs8().unwrap(),
        );
        std::fs::write(dir.path().join("pg_hba.conf"), PERMISSIVE_HBA).unwrap();
        std::fs::write(dir.path().join("pg_ident.conf"), "").unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn write_private(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A running `pgssl-server` process; stopped (SIGINT) when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub socket_dir: PathBuf,
    log: Arc<tempfile::NamedTempFile>,
    _data: DataDir,
    _sockets: tempfile::TempDir,
}

/// Outcome of starting the binary.
pub enum Started {
    Running(Server),
    Exited {
        status: std::process::ExitStatus,
        log: Vec<String>,
    },
}

impl Server {
    /// Starts the server with `-c` settings on a fresh data directory.
    pub fn start(settings: &[&str]) -> Server {
        match Self::try_start(DataDir::new(), settings) {
            Started::Running(s) => s,
            Started::Exited { status, log } => {
                panic!("server exited ({status}):\n{}", log.join("\n"))
            }
        }
    }

    /// Starts the server on `data`; reports whether it came up or exited.
    pub fn try_start(data: DataDir, settings: &[&str]) -> Started {
        let sockets = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgssl-server"));
        cmd.arg("-D")
            .arg(data.path())
            .args(["-p", "0", "-h", "127.0.0.1", "-k"])
            .arg(sockets.path());
        for s in settings {
            cmd.args(["-c", s]);
        }
        // The log goes to a file: every line the server wrote before it answered a client is
        // there when the client looks (a pipe read on a thread can lag behind).
        let log_file = tempfile::NamedTempFile::new().expect("log file");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file.reopen().expect("reopen the log file"))
            .spawn()
            .expect("spawn pgssl-server");
        let log = Arc::new(log_file);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let log = read_lines(&log);
                return Started::Exited { status, log };
            }
            let lines = read_lines(&log);
            if lines
                .iter()
                .any(|l| l.contains("ready to accept connections"))
            {
                let port = lines
                    .iter()
                    .find_map(|l| l.split("port ").nth(1)?.trim().parse().ok())
                    .expect("port in log");
                return Started::Running(Server {
                    child,
                    port,
                    socket_dir: sockets.path().to_path_buf(),
                    log,
                    _data: data,
                    _sockets: sockets,
                });
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "server did not start:\n{}",
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    pub fn unix_path(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{}", self.port))
    }

    pub fn log(&self) -> Vec<String> {
        read_lines(&self.log)
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "no log line with {needle:?}:\n{}",
                self.log().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `count` log lines contain `needle` (the log arrives through a pipe, after
    /// the client has seen the server act); returns those lines' messages.
    pub fn wait_for_count(&self, needle: &str, count: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let found = self.log_messages(needle);
            if found.len() >= count || start.elapsed() > TIMEOUT {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log lines after the `[pid] ` prefix that contain `needle`.
    pub fn log_messages(&self, needle: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| l.contains(needle))
            .map(|l| l.split_once("] ").map_or(l.clone(), |(_, m)| m.to_owned()))
            .collect()
    }

    pub fn send_signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(start.elapsed() < TIMEOUT, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.send_signal(libc::SIGINT);
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none()
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(file: &tempfile::NamedTempFile) -> Vec<String> {
    std::fs::read_to_string(file.path())
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn ssl_request() -> Vec<u8> {
    StartupPacket::ssl_request().to_bytes()
}

pub fn gssenc_request() -> Vec<u8> {
    StartupPacket::gssenc_request().to_bytes()
}

pub fn startup(version: ProtocolVersion, params: &[(&str, &str)]) -> Vec<u8> {
    StartupPacket::Startup(StartupMessage::new(version, params)).to_bytes()
}

pub fn login() -> Vec<u8> {
    startup(
        ProtocolVersion::V3_0,
        &[("user", "alice"), ("database", "postgres")],
    )
}

/// Reads until EOF (or timeout); returns everything read.
pub fn read_to_end(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

pub fn read_byte(s: &mut impl Read) -> u8 {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("one byte");
    b[0]
}

/// Reads backend messages until ReadyForQuery or an ErrorResponse, or EOF.
pub fn read_messages(s: &mut impl Read) -> Vec<BackendMessage> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Ok(Some((msg, used))) = BackendMessage::decode(&buf) {
            buf.drain(..used);
            let done = matches!(
                msg,
                BackendMessage::ReadyForQuery(_) | BackendMessage::ErrorResponse(_)
            );
            out.push(msg);
            if done {
                return out;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return out,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

pub fn only_error(msgs: &[BackendMessage]) -> ErrorFields {
    match msgs {
        [BackendMessage::ErrorResponse(e)] => e.clone(),
        other => panic!("expected one ErrorResponse, got {other:?}"),
    }
}

/// TLS client options.
#[derive(Clone, Default)]
pub struct TlsOptions {
    pub alpn: Option<Vec<&'static str>>,
    pub max: Option<SslVersion>,
    pub min: Option<SslVersion>,
}

/// Runs a TLS client handshake over `tcp`.
pub fn tls_connect(
    tcp: TcpStream,
    options: &TlsOptions,
) -> Result<SslStream<TcpStream>, openssl::ssl::HandshakeError<TcpStream>> {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder.set_verify(SslVerifyMode::NONE);
    builder.set_min_proto_version(options.min).unwrap();
    builder.set_max_proto_version(options.max).unwrap();
    if matches!(options.max, Some(v) if v == SslVersion::TLS1 || v == SslVersion::TLS1_1) {
        // OpenSSL 3 offers TLS 1.0 and 1.1 only at security level 0 (3.6 sends no usable
        // ClientHello otherwise; Debian's 3.0 did).
        builder.set_security_level(0);
    }
    if let Some(alpn) = &options.alpn {
        let mut wire = Vec::new();
        for p in alpn {
            wire.push(p.len() as u8);
            wire.extend_from_slice(p.as_bytes());
        }
        builder.set_alpn_protos(&wire).unwrap();
    }
    let connector = builder.build();
    let config = connector.configure().unwrap().verify_hostname(false);
    config.connect("localhost", tcp)
}

/// Writes all of `bytes` in one write call.
pub fn send(s: &mut impl Write, bytes: &[u8]) {
    s.write_all(bytes).unwrap();
    s.flush().unwrap();
}
