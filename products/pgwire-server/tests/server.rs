//! The built binary, started as the conformance target starts it: it answers SSLRequest with
//! `S`, completes a TLS handshake that verifies its certificate, logs in `postgres` and answers
//! `SELECT 1`; with TLS off it answers `N`; a bad configuration is a `FATAL:` line and exit
//! status 1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVersion};
use openssl::x509::X509;
use pgssl_pki::{CertBuilder, KeyType, San};

const SERVER: &str = env!("CARGO_BIN_EXE_pgssl-pgwire-server");
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const TIMEOUT: Duration = Duration::from_secs(20);

/// A running server, killed when dropped.
struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `server.crt` and `server.key` for localhost into `dir`; returns the certificate.
fn certificate(dir: &Path) -> X509 {
    let id = CertBuilder::common_name("localhost")
        .key_type(KeyType::P256)
        .valid_days(2)
        .subject_alt_names(&[San::Dns("localhost"), San::Ip("127.0.0.1")])
        .build()
        .expect("certificate");
    std::fs::write(dir.join("server.crt"), id.cert_pem().expect("pem")).expect("write crt");
    std::fs::write(dir.join("server.key"), id.key_pem().expect("pem")).expect("write key");
    id.cert
}

fn write_config(dir: &Path, tls: bool) -> std::path::PathBuf {
    let mut text = "listen_address = \"127.0.0.1\"\nport = 0\nlog_connections = true\n".to_owned();
    if tls {
        text.push_str("[tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\n");
    }
    let path = dir.join("server.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Starts the server and waits for its ready line, which names the port.
fn start(config: &Path) -> Running {
    let mut child = Command::new(SERVER)
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let line = rx.recv_timeout(TIMEOUT).expect("a first log line");
    assert!(line.contains("ready: listening on 127.0.0.1:"), "{line}");
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("port in the ready line");
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    Running { child, port }
}

fn connect(port: u16) -> TcpStream {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    tcp
}

/// One backend message: its type and body.
fn message(stream: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).expect("message header");
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    assert!((4..65_536).contains(&len), "message length {len}");
    let mut body = vec![0u8; len - 4];
    stream.read_exact(&mut body).expect("message body");
    (head[0], body)
}

/// Messages up to and including ReadyForQuery.
fn until_ready(stream: &mut impl Read) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let m = message(stream);
        let done = m.0 == b'Z';
        out.push(m);
        if done {
            return out;
        }
    }
}

fn startup_packet() -> Vec<u8> {
    let body = b"\0\x03\0\0user\0postgres\0database\0postgres\0\0";
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(body);
    packet
}

fn query(sql: &str) -> Vec<u8> {
    let mut packet = vec![b'Q'];
    packet.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    packet.extend_from_slice(sql.as_bytes());
    packet.push(0);
    packet
}

#[test]
fn ssl_request_gets_s_then_tls_then_select_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = certificate(dir.path());
    let server = start(&write_config(dir.path(), true));
    let mut tcp = connect(server.port);
    tcp.write_all(&SSL_REQUEST).expect("write SSLRequest");
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).expect("answer");
    assert_eq!(answer[0], b'S');

    let mut builder = SslConnector::builder(SslMethod::tls_client()).expect("connector");
    builder
        .cert_store_mut()
        .add_cert(cert)
        .expect("trust the certificate");
    let mut tls = builder
        .build()
        .connect("localhost", tcp)
        .expect("TLS handshake with a verified certificate");
    assert_eq!(tls.ssl().version2(), Some(SslVersion::TLS1_3));

    tls.write_all(&startup_packet()).expect("startup");
    let login = until_ready(&mut tls);
    assert_eq!(
        login.first().map(|m| m.0),
        Some(b'R'),
        "AuthenticationOk first"
    );
    assert_eq!(login[0].1, [0, 0, 0, 0], "AuthenticationOk");

    tls.write_all(&query("SELECT 1")).expect("query");
    let reply = until_ready(&mut tls);
    let row = reply.iter().find(|m| m.0 == b'D').expect("a DataRow");
    // One column, its value 1 byte long: "1".
    assert_eq!(row.1, [0, 1, 0, 0, 0, 1, b'1']);

    tls.write_all(&query("SELECT 2")).expect("query");
    let reply = until_ready(&mut tls);
    assert_eq!(
        reply.first().map(|m| m.0),
        Some(b'E'),
        "an error, then ReadyForQuery"
    );
}

#[test]
fn tls_off_answers_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&write_config(dir.path(), false));
    let mut tcp = connect(server.port);
    tcp.write_all(&SSL_REQUEST).expect("write SSLRequest");
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).expect("answer");
    assert_eq!(answer[0], b'N');
}

#[test]
fn bad_configuration_is_fatal_with_exit_status_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    certificate(dir.path());
    let cases = [
        (
            "listen_address = \"127.0.0.1\"\nport = 0\nssl = true\n",
            "ssl",
        ),
        (
            "listen_address = \"127.0.0.1\"\nport = 0\n[tls]\ncert_file = \"server.crt\"\nkey_file = \"missing.key\"\n",
            "missing.key",
        ),
        (
            "listen_address = \"127.0.0.1\"\nport = 0\n[tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\nmin_version = \"1.1\"\n",
            "tls.min_version",
        ),
    ];
    for (text, needle) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).expect("write config");
        let out = Command::new(SERVER).arg(&path).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(
            stderr.starts_with("FATAL:  ") && stderr.contains(needle),
            "{text}: {stderr}"
        );
    }
}

#[test]
fn version_is_the_pgwire_crates() {
    let out = Command::new(SERVER)
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("pgwire 0."), "{text}");
}
