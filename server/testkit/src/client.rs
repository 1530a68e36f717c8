//! Clients for the server under test: protocol packets built with the server's own codec
//! and read back, a TLS client (openssl crate) with version and ALPN options, and
//! `openssl s_client -starttls postgres`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openssl::ssl::{
    HandshakeError, SslConnector, SslConnectorBuilder, SslMethod, SslStream, SslVerifyMode,
    SslVersion,
};

pub use pgssl_server::wire::{
    BackendMessage, CancelRequest, ErrorFields, ProtocolVersion, StartupMessage, StartupPacket,
};

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

/// A TLS client handshake over `tcp` that verifies nothing (neither chain nor host name),
/// with `configure` applied to the client first.
pub fn tls_handshake(
    tcp: TcpStream,
    configure: impl FnOnce(&mut SslConnectorBuilder),
) -> Result<SslStream<TcpStream>, HandshakeError<TcpStream>> {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).expect("TLS client");
    builder.set_verify(SslVerifyMode::NONE);
    configure(&mut builder);
    let connector = builder.build();
    let config = connector
        .configure()
        .expect("TLS client configuration")
        .verify_hostname(false);
    config.connect("localhost", tcp)
}

/// Runs a TLS client handshake over `tcp` with `options`.
pub fn tls_connect(
    tcp: TcpStream,
    options: &TlsOptions,
) -> Result<SslStream<TcpStream>, HandshakeError<TcpStream>> {
    tls_handshake(tcp, |builder| tls_options(builder, options))
}

fn tls_options(builder: &mut SslConnectorBuilder, options: &TlsOptions) {
    builder
        .set_min_proto_version(options.min)
        .expect("minimum TLS version");
    builder
        .set_max_proto_version(options.max)
        .expect("maximum TLS version");
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
        builder.set_alpn_protos(&wire).expect("ALPN protocols");
    }
}

/// Writes all of `bytes` in one write call.
pub fn send(s: &mut impl Write, bytes: &[u8]) {
    s.write_all(bytes).expect("send to the server");
    s.flush().expect("flush to the server");
}

pub fn tls12(b: &mut openssl::ssl::SslConnectorBuilder) {
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .expect("TLS 1.2");
    b.set_max_proto_version(Some(SslVersion::TLS1_2))
        .expect("TLS 1.2");
}

/// Runs `openssl s_client -starttls postgres` against the server with extra arguments; returns
/// its standard output and error.
pub fn s_client(port: u16, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-starttls", "postgres", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Like [`s_client`], but holds the connection open for half a second before closing, so
/// that post-handshake messages (TLS 1.3 session tickets) are read and reported.
pub fn s_client_waiting(port: u16, args: &[&str]) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-starttls", "postgres", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    std::thread::sleep(Duration::from_millis(500));
    drop(child.stdin.take());
    let started = Instant::now();
    while child.try_wait().expect("s_client status").is_none() {
        if started.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("s_client output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
