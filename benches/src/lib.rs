//! Helpers for the criterion benchmarks: the reference server started in-process on a tokio
//! runtime (as the conformance harness's embedded target does), the server certificates, and
//! a blocking client that runs one full connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use pgssl_pki::{CertBuilder, KeyType};
use pgssl_server::log::Logger;
use pgssl_server::server::Shutdown;
use pgssl_server::start::{Launch, RunningServer};
use pgssl_server::wire::{BackendMessage, StartupMessage, StartupPacket};

/// The server certificate's key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA 2048.
    Rsa2048,
    /// ECDSA P-256.
    P256,
}

impl KeyKind {
    /// A short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa2048",
            KeyKind::P256 => "p256",
        }
    }
}

/// A self-signed server certificate (CN=localhost, serial 1, a year from now, no
/// extensions) and its key, as PEM, made by the `pgssl-pki` factory.
pub fn server_certificate(kind: KeyKind) -> (Vec<u8>, Vec<u8>) {
    let key_type = match kind {
        KeyKind::P256 => KeyType::P256,
        KeyKind::Rsa2048 => KeyType::Rsa2048,
    };
    let id = CertBuilder::common_name("localhost")
        .key_type(key_type)
        .serial(1)
        .valid_days(365)
        .build()
        .expect("server certificate");
    (
        id.cert_pem().expect("certificate PEM"),
        id.key_pem().expect("key PEM"),
    )
}

/// How the in-process server is set up.
pub struct ServerSpec {
    /// Server certificate and key (PEM); `None` for `ssl = off`.
    pub cert: Option<(Vec<u8>, Vec<u8>)>,
    /// Extra `postgresql.conf` lines.
    pub conf: Vec<String>,
    /// `pg_hba.conf`.
    pub hba: String,
}

impl ServerSpec {
    /// TLS with `cert`, trust for every TCP connection, PostgreSQL 15's rules.
    pub fn tls(cert: (Vec<u8>, Vec<u8>)) -> Self {
        Self {
            cert: Some(cert),
            conf: Vec::new(),
            hba: "host all all 127.0.0.1/32 trust\n".into(),
        }
    }
}

/// The reference server running on its own tokio runtime in this process; stopped when
/// dropped.
pub struct InProcessServer {
    /// Where it listens.
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    rt: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl InProcessServer {
    /// Writes a data directory for `spec` and starts the server on 127.0.0.1, port 0.
    pub fn start(spec: &ServerSpec) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-bench-")
            .tempdir()
            .expect("temporary directory");
        let mut conf = String::from("pgssl.profile = '15'\nlog_connections = off\n");
        if let Some((crt, key)) = &spec.cert {
            std::fs::write(dir.path().join("server.crt"), crt).expect("server.crt");
            let key_path = dir.path().join("server.key");
            std::fs::write(&key_path, key).expect("server.key");
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
                .expect("server.key mode");
            conf.push_str("ssl = on\n");
        }
        for line in &spec.conf {
            conf.push_str(line);
            conf.push('\n');
        }
        std::fs::write(dir.path().join("postgresql.conf"), conf).expect("postgresql.conf");
        std::fs::write(dir.path().join("pg_hba.conf"), &spec.hba).expect("pg_hba.conf");
        std::fs::write(dir.path().join("pg_ident.conf"), "").expect("pg_ident.conf");
        let cli = vec![
            ("listen_addresses".to_owned(), "127.0.0.1".to_owned()),
            ("port".to_owned(), "0".to_owned()),
            ("unix_socket_directories".to_owned(), String::new()),
        ];
        let logger = Arc::new(Logger::to_writer(Box::new(std::io::sink())));
        let launch = Launch::load(dir.path(), cli, logger).expect("configuration loads");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = rt.block_on(launch.start()).expect("server binds");
        let addr = *server.tcp_addresses().first().expect("a TCP address");
        Self {
            addr,
            server: Some(server),
            rt: Some(rt),
            _dir: dir,
        }
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.shutdown(Shutdown::Fast);
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

/// A client TLS context, built once and reused for every connection.
pub fn connector(
    version: SslVersion,
    client_cert: Option<(&Path, &Path)>,
    ca: Option<&Path>,
) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("connector");
    b.set_min_proto_version(Some(version)).expect("min version");
    b.set_max_proto_version(Some(version)).expect("max version");
    match ca {
        Some(ca) => b.set_ca_file(ca).expect("CA file"),
        None => b.set_verify(SslVerifyMode::NONE),
    }
    if let Some((crt, key)) = client_cert {
        b.set_certificate_chain_file(crt).expect("client cert");
        b.set_private_key_file(key, SslFiletype::PEM)
            .expect("client key");
    }
    b.build()
}

/// The bytes of a StartupMessage for `user` (database `postgres`).
pub fn startup_bytes(user: &str) -> Vec<u8> {
    StartupPacket::Startup(StartupMessage::new(
        pgssl_server::wire::ProtocolVersion(0x0003_0000),
        &[("user", user), ("database", "postgres")],
    ))
    .to_bytes()
}

/// Terminate ('X').
pub const TERMINATE: &[u8] = &[b'X', 0, 0, 0, 4];

/// Reads backend messages until ReadyForQuery; panics on ErrorResponse or EOF.
pub fn read_until_ready(stream: &mut impl Read) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut at = 0;
        while let Some((msg, used)) =
            BackendMessage::decode(&buf[at..]).expect("well-formed backend message")
        {
            at += used;
            match msg {
                BackendMessage::ReadyForQuery(_) => return,
                BackendMessage::ErrorResponse(e) => panic!("server refused: {}", e.message()),
                _ => {}
            }
        }
        buf.drain(..at);
        let n = stream.read(&mut chunk).expect("read from server");
        assert!(n > 0, "server closed the connection before ReadyForQuery");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One full connection: SSLRequest, TLS handshake (when `tls` is given), StartupMessage,
/// authentication, ReadyForQuery, Terminate.
pub fn connect_once(addr: SocketAddr, tls: Option<&SslConnector>, startup: &[u8]) {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    match tls {
        Some(connector) => {
            tcp.write_all(&StartupPacket::ssl_request().to_bytes())
                .expect("SSLRequest");
            let mut reply = [0u8; 1];
            tcp.read_exact(&mut reply).expect("SSLRequest reply");
            assert_eq!(reply[0], b'S', "server declined SSL");
            let mut ssl = connector
                .configure()
                .expect("configure")
                .verify_hostname(false)
                .connect("localhost", tcp)
                .expect("TLS handshake");
            ssl.write_all(startup).expect("StartupMessage");
            read_until_ready(&mut ssl);
            ssl.write_all(TERMINATE).expect("Terminate");
            let _ = ssl.shutdown();
        }
        None => {
            tcp.write_all(startup).expect("StartupMessage");
            read_until_ready(&mut tcp);
            tcp.write_all(TERMINATE).expect("Terminate");
        }
    }
}
