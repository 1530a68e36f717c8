//! Helpers for the data-directory tests: certificates and keys of any type, data directories
//! the `postgres` user can reach, the server binary spawned with any environment, user or
//! terminal, and TLS clients (the openssl crate and `openssl s_client`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode, SslVersion};
use openssl::symm::Cipher;
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

pub const TIMEOUT: Duration = Duration::from_secs(15);

/// A key and its certificate.
pub struct Identity {
    pub key: PKey<Private>,
    pub cert: X509,
}

pub fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

pub fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// A certificate for `cn` with `key`, signed by `issuer` (self-signed when `None`).
pub fn certificate(cn: &str, key: &PKey<Private>, issuer: Option<&Identity>, ca: bool) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .unwrap();
    cert.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    cert.set_subject_name(&name).unwrap();
    match issuer {
        Some(i) => cert.set_issuer_name(i.cert.subject_name()).unwrap(),
        None => cert.set_issuer_name(&name).unwrap(),
    }
    cert.set_pubkey(key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if ca {
        cert.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&cert.x509v3_context(None, None))
            .unwrap();
        cert.append_extension(ski).unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&cert.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))
            .unwrap();
        cert.append_extension(san).unwrap();
    }
    let signer = issuer.map_or(key, |i| &i.key);
    cert.sign(signer, MessageDigest::sha256()).unwrap();
    cert.build()
}

impl Identity {
    pub fn self_signed(cn: &str, key: PKey<Private>) -> Self {
        let cert = certificate(cn, &key, None, false);
        Self { key, cert }
    }

    pub fn ca(cn: &str) -> Self {
        let key = ec_key();
        let cert = certificate(cn, &key, None, true);
        Self { key, cert }
    }

    pub fn issued_by(cn: &str, issuer: &Identity) -> Self {
        let key = ec_key();
        let cert = certificate(cn, &key, Some(issuer), false);
        Self { key, cert }
    }

    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }

    /// The key encrypted with `passphrase` (AES-256-CBC, PKCS#8).
    pub fn encrypted_key_pem(&self, passphrase: &str) -> Vec<u8> {
        self.key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), passphrase.as_bytes())
            .unwrap()
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }
}

/// A data directory under /var/tmp (reachable by the `postgres` user, unlike /root).
pub struct Data {
    pub dir: tempfile::TempDir,
}

impl Data {
    /// A data directory, mode 0755, holding only a permissive `pg_hba.conf`.
    pub fn empty() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-test-")
            .tempdir_in("/var/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // Trust every connection: the server, like PostgreSQL, refuses to start without a
        // pg_hba.conf.
        std::fs::write(
            dir.path().join("pg_hba.conf"),
            "local all all trust\nhost all all 0.0.0.0/0 trust\nhost all all ::0/0 trust\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("pg_ident.conf"), "").unwrap();
        Self { dir }
    }

    /// A data directory with `server.crt` and `server.key` (0600) for `identity`.
    pub fn with(identity: &Identity) -> Self {
        let data = Self::empty();
        data.write("server.crt", &identity.cert_pem());
        data.write_mode("server.key", &identity.key_pem(), 0o600);
        data
    }

    /// A data directory with a fresh P-256 `localhost` certificate.
    pub fn new() -> Self {
        Self::with(&Identity::self_signed("localhost", ec_key()))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.file(name), bytes).unwrap();
    }

    pub fn write_mode(&self, name: &str, bytes: &[u8], mode: u32) {
        let path = self.file(name);
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn chmod(&self, name: &str, mode: u32) {
        std::fs::set_permissions(self.file(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn chown(&self, name: &str, uid: u32, gid: u32) {
        chown(self.file(name), Some(uid), Some(gid)).unwrap();
    }

    pub fn conf(&self, text: &str) {
        self.write("postgresql.conf", text.as_bytes());
    }
}

/// The uid and gid of a system user, from /etc/passwd.
pub fn user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<_> = l.split(':').collect();
        if f.len() < 4 || f[0] != name {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?))
    })
}

/// How to spawn the server.
#[derive(Default)]
pub struct Spawn {
    pub settings: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run as this uid/gid.
    pub user: Option<(u32, u32)>,
    /// Start a new session (no controlling terminal).
    pub setsid: bool,
}

impl Spawn {
    pub fn with(settings: &[&str]) -> Self {
        Self {
            settings: settings.iter().map(|s| s.to_string()).collect(),
            setsid: true,
            ..Self::default()
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn run_as(mut self, user: (u32, u32)) -> Self {
        self.user = Some(user);
        self
    }

    pub fn command(&self, data: &Path) -> Command {
        let program = match self.user {
            Some(_) => reachable_binary(),
            None => PathBuf::from(env!("CARGO_BIN_EXE_pgssl-server")),
        };
        let mut cmd = Command::new(program);
        cmd.arg("-D")
            .arg(data)
            .args(["-p", "0", "-h", "127.0.0.1", "-k", ""]);
        for s in &self.settings {
            cmd.args(["-c", s]);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some((uid, gid)) = self.user {
            // std drops root's supplementary groups (setgroups(0)) before setuid.
            cmd.uid(uid).gid(gid);
        }
        if self.setsid {
            // SAFETY: setsid is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
        }
        cmd
    }

    /// Starts the server on `data`; returns when it is ready or has exited.
    pub fn start(&self, data: &Data) -> Started {
        self.start_at(data.path())
    }

    /// Starts the server on the data directory `dir`.
    pub fn start_at(&self, dir: &Path) -> Started {
        let log_file = tempfile::NamedTempFile::new().expect("log file");
        let child = self
            .command(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file.reopen().expect("reopen the log file"))
            .spawn()
            .expect("spawn pgssl-server");
        wait_started(child, Log::File(Arc::new(log_file)))
    }
}

/// Where a server's log is read from. A file (the server's stderr) shows every line the
/// server wrote before it answered a client; a pipe read on a thread can lag behind.
#[derive(Clone)]
pub enum Log {
    /// Lines collected from a pipe by [`capture`].
    Pipe(Arc<Mutex<Vec<String>>>),
    /// The server's stderr, redirected to this file.
    File(Arc<tempfile::NamedTempFile>),
}

impl Log {
    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Pipe(lines) => lines.lock().unwrap().clone(),
            Self::File(f) => std::fs::read_to_string(f.path())
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// A copy of the server binary that another user can execute: the build directory may sit
/// where only root can enter (a checkout under /root, or a 0700 temporary directory). Made once
/// per test binary, under a temporary name renamed into place.
fn reachable_binary() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static COPY: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = COPY.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-test-bin-")
            .tempdir_in("/var/tmp")
            .expect("binary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod binary directory");
        let partial = dir.path().join("pgssl-server.partial");
        let path = dir.path().join("pgssl-server");
        std::fs::copy(env!("CARGO_BIN_EXE_pgssl-server"), &partial).expect("copy the binary");
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the binary");
        std::fs::rename(&partial, &path).expect("rename the binary");
        (dir, path)
    });
    path.clone()
}

/// Collects lines from `r` on a thread.
pub fn capture(r: impl Read + Send + 'static) -> Log {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Log::Pipe(log)
}

pub fn wait_started(mut child: Child, log: Log) -> Started {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            let log = log.lines();
            return Started::Exited {
                status,
                log: strip(&log),
            };
        }
        let lines = log.lines();
        if lines
            .iter()
            .any(|l| l.contains("ready to accept connections"))
        {
            let port = lines
                .iter()
                .find_map(|l| l.split("port ").nth(1)?.trim().parse().ok())
                .expect("port in log");
            return Started::Running(Running { child, port, log });
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("server did not start:\n{}", lines.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Log lines without the `timestamp [pid] ` prefix.
pub fn strip(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l.split_once("] ") {
            Some((prefix, rest)) if prefix.contains(" [") => rest.to_owned(),
            _ => l.clone(),
        })
        .collect()
}

pub enum Started {
    Running(Running),
    Exited {
        status: ExitStatus,
        log: Vec<String>,
    },
}

impl Started {
    /// The server must have refused to start; returns its log (prefixes removed).
    pub fn refused(self) -> Vec<String> {
        match self {
            Started::Exited { status, log } => {
                assert!(!status.success(), "exit status {status}");
                log
            }
            Started::Running(r) => panic!("server started:\n{}", r.log().join("\n")),
        }
    }

    pub fn running(self) -> Running {
        match self {
            Started::Running(r) => r,
            Started::Exited { status, log } => {
                panic!("server exited ({status}):\n{}", log.join("\n"))
            }
        }
    }
}

/// Asserts that `log` ends with `expected` (the FATAL line and its DETAIL/HINT).
pub fn assert_log_ends_with(log: &[String], expected: &[&str]) {
    assert!(
        log.len() >= expected.len() && log[log.len() - expected.len()..] == *expected,
        "log does not end with {expected:#?}:\n{}",
        log.join("\n")
    );
}

pub struct Running {
    pub child: Child,
    pub port: u16,
    log: Log,
}

impl Running {
    pub fn log(&self) -> Vec<String> {
        strip(&self.log.lines())
    }

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

    /// Sends SIGHUP and waits for the reload to finish (the next log line after it).
    pub fn reload(&self) -> Vec<String> {
        let before = self.log().len();
        self.signal(libc::SIGHUP);
        // The reload logs its first line at once; give it time to finish the rest.
        let start = Instant::now();
        while self.log().len() == before && start.elapsed() < TIMEOUT {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.log()[before..].to_vec()
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// Sends SSLRequest and returns the one-byte answer.
    pub fn ssl_request(&self) -> (TcpStream, u8) {
        let mut s = self.connect();
        s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        (s, b[0])
    }

    /// SSLRequest, then a TLS handshake with `configure` applied to the client.
    pub fn tls(
        &self,
        configure: impl FnOnce(&mut openssl::ssl::SslConnectorBuilder),
    ) -> Result<SslStream<TcpStream>, String> {
        let (tcp, answer) = self.ssl_request();
        assert_eq!(answer, b'S', "SSLRequest answer");
        let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
        builder.set_verify(SslVerifyMode::NONE);
        configure(&mut builder);
        let connector = builder.build();
        let config = connector.configure().unwrap().verify_hostname(false);
        config.connect("localhost", tcp).map_err(|e| e.to_string())
    }

    /// The CN of the certificate a default TLS client is shown.
    pub fn peer_cn(&self) -> String {
        let tls = self.tls(|_| {}).expect("handshake");
        cn(&tls.ssl().peer_certificate().expect("peer certificate"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.signal(libc::SIGINT);
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

pub fn cn(cert: &X509) -> String {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
        .unwrap_or_default()
}

pub fn tls12(b: &mut openssl::ssl::SslConnectorBuilder) {
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
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
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
