//! The `pgssl-server` binary under test: started on a free port with any settings,
//! environment, user or terminal; its log read back; signals; and [`Server`], the plain
//! "start it with these `-c` settings" case most protocol tests need.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::ssl::SslStream;

use crate::certs::cn;
use crate::client::tls_handshake;
use crate::datadir::Data;

/// How long a test waits for the server (to start, to log, to answer, to exit).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The `pgssl-server` binary cargo built for this test run. Cargo sets
/// `CARGO_BIN_EXE_pgssl-server` for the package's own integration tests (at run time too since
/// cargo 1.9x); this library is not one, so failing that it is found where cargo puts it, next
/// to the test executable's `deps/` directory (`target/<profile>/pgssl-server`).
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_pgssl-server") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("pgssl-server"))
        .expect("the test executable sits in target/<profile>/deps");
    assert!(
        path.exists(),
        "{} does not exist: run the tests with cargo test -p pgssl-server",
        path.display()
    );
    path
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
    /// Listen on a Unix socket in this directory (`-k`); none by default.
    pub socket_dir: Option<PathBuf>,
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
            None => server_binary(),
        };
        let mut cmd = Command::new(program);
        cmd.arg("-D")
            .arg(data)
            .args(["-p", "0", "-h", "127.0.0.1", "-k"])
            .arg(self.socket_dir.as_deref().unwrap_or(Path::new("")));
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
        start_command(self.command(dir))
    }
}

/// Runs `command` (a server command line) with its standard error in a log file; returns
/// when the server is ready or has exited.
pub fn start_command(mut command: Command) -> Started {
    let log_file = tempfile::NamedTempFile::new().expect("log file");
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file.reopen().expect("reopen the log file"))
        .spawn()
        .expect("spawn pgssl-server");
    wait_started(child, Log::File(Arc::new(log_file)))
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
            Self::Pipe(lines) => lines.lock().expect("log lines").clone(),
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
        std::fs::copy(server_binary(), &partial).expect("copy the binary");
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
            sink.lock().expect("log lines").push(line);
        }
    });
    Log::Pipe(log)
}

pub fn wait_started(mut child: Child, log: Log) -> Started {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("server status") {
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
                .find_map(|l| l.split("port ").nth(1)?.trim().parse().ok());
            let Some(port) = port else {
                // A server with no TCP listener: stop it rather than leave it running.
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server is ready but logged no TCP port:\n{}",
                    lines.join("\n")
                );
            };
            return Started::Running(Running { child, port, log });
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
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

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str) -> String {
        wait_for_line(needle, || self.log())
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
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the server");
        s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
        s
    }

    /// Sends SSLRequest and returns the one-byte answer.
    pub fn ssl_request(&self) -> (TcpStream, u8) {
        let mut s = self.connect();
        s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            .expect("send SSLRequest");
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("SSLRequest answer");
        (s, b[0])
    }

    /// SSLRequest, then a TLS handshake with `configure` applied to the client.
    pub fn tls(
        &self,
        configure: impl FnOnce(&mut openssl::ssl::SslConnectorBuilder),
    ) -> Result<SslStream<TcpStream>, String> {
        let (tcp, answer) = self.ssl_request();
        assert_eq!(answer, b'S', "SSLRequest answer");
        tls_handshake(tcp, configure).map_err(|e| e.to_string())
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

/// Waits until one of `lines()` contains `needle`; returns that line.
fn wait_for_line(needle: &str, lines: impl Fn() -> Vec<String>) -> String {
    let start = Instant::now();
    loop {
        if let Some(line) = lines().into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "no log line with {needle:?}:\n{}",
            lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server started with `-c` settings on a fresh [`Data::new`] directory, listening on
/// 127.0.0.1 and on a Unix socket in a directory of its own; stopped (SIGINT) when dropped.
/// Its log is read as written, `[pid] ` prefixes included.
pub struct Server {
    running: Running,
    pub port: u16,
    pub socket_dir: PathBuf,
    _data: Data,
    _sockets: tempfile::TempDir,
}

impl Server {
    /// Starts the server; panics with its log if it exits instead.
    pub fn start(settings: &[&str]) -> Server {
        let data = Data::new();
        let sockets = tempfile::tempdir().expect("socket directory");
        let spawn = Spawn {
            settings: settings.iter().map(|s| s.to_string()).collect(),
            socket_dir: Some(sockets.path().to_path_buf()),
            ..Spawn::default()
        };
        let running = spawn.start(&data).running();
        Server {
            port: running.port,
            running,
            socket_dir: sockets.path().to_path_buf(),
            _data: data,
            _sockets: sockets,
        }
    }

    /// A TCP connection with the read timeout set and Nagle off.
    pub fn connect(&self) -> TcpStream {
        let s = self.running.connect();
        s.set_nodelay(true).expect("TCP_NODELAY");
        s
    }

    /// The server's Unix socket.
    pub fn unix_path(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{}", self.port))
    }

    /// The log lines so far, as written.
    pub fn log(&self) -> Vec<String> {
        self.running.log.lines()
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str) -> String {
        wait_for_line(needle, || self.log())
    }

    /// Waits until `count` log lines contain `needle` (the log arrives after the client has
    /// seen the server act); returns those lines' messages.
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
}
