//! The reference server as a target, one server per set-up, under the profile of the version
//! under test.
//!
//! It runs embedded in the harness's process, with its log kept in memory, unless the set-up
//! needs a process of its own: when the harness runs as root (the server then runs as the
//! same unprivileged user as real PostgreSQL, so file-ownership rules mean the same thing), or
//! when the case sets environment variables such as `OPENSSL_CONF`, which OpenSSL reads once
//! per process. The child is the same server, run through `pgssl_server::cli::run` by
//! `pgssl-conform serve` (or a `pgssl-server` binary named by `PGSSL_SERVER_BIN`).

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use pgssl_server::log::Logger;
use pgssl_server::server::Shutdown;
use pgssl_server::start::{Launch, RunningServer};
use tokio::runtime::Runtime;

use super::spawned::{self, run_as_user, shared_tmp};
use super::{Running, Started, Target};
use crate::case::{FileOp, Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, conf_lines, current_ids, write_data_directory};

/// How to run the reference server as a child process: a program and the arguments that
/// precede the server's own (`pgssl-conform serve`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before `-D ...`.
    pub prefix: Vec<String>,
}

impl ServerCommand {
    /// `PGSSL_SERVER_BIN`, else this executable if it is `pgssl-conform`, else a `pgssl-server`
    /// next to it.
    pub fn locate() -> Option<Self> {
        if let Some(bin) = std::env::var_os("PGSSL_SERVER_BIN") {
            return Some(Self {
                program: bin.into(),
                prefix: Vec::new(),
            });
        }
        let exe = std::env::current_exe().ok()?;
        let name = exe.file_name()?.to_string_lossy().into_owned();
        if name == "pgssl-conform" {
            return Some(Self {
                program: exe,
                prefix: vec!["serve".into()],
            });
        }
        let dir = exe.parent()?;
        [dir.join("pgssl-server"), dir.parent()?.join("pgssl-server")]
            .into_iter()
            .find(|p| p.is_file())
            .map(|program| Self {
                program,
                prefix: Vec::new(),
            })
    }
}

/// The reference server under one profile.
pub struct Reference {
    version: Version,
    server: Option<ServerCommand>,
    base: OnceLock<Result<tempfile::TempDir, String>>,
    executable: OnceLock<Result<PathBuf, String>>,
    counter: AtomicUsize,
    embed_as_root: bool,
}

impl Reference {
    /// The reference server behaving as `version`.
    pub fn new(version: Version) -> Self {
        Self::with_server_command(version, ServerCommand::locate())
    }

    /// The same, with an explicit way to run it as a child process.
    pub fn with_server_command(version: Version, server: Option<ServerCommand>) -> Self {
        Self {
            version,
            server,
            base: OnceLock::new(),
            executable: OnceLock::new(),
            counter: AtomicUsize::new(0),
            embed_as_root: false,
        }
    }

    /// Runs the server embedded even when the harness runs as root, unless the set-up changes
    /// a file's owner (whose meaning depends on the server not being root) or sets
    /// environment variables. Fast: generated scenarios use it.
    pub fn embedded_where_possible(mut self) -> Self {
        self.embed_as_root = true;
        self
    }

    /// A directory both the harness and an unprivileged server can use, with a copy of the
    /// server executable (the original may sit where that user cannot reach).
    fn base(&self) -> Result<&Path, Error> {
        let made = self.base.get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("pgssl-conform-ref-")
                .tempdir_in(shared_tmp())
                .map_err(|e| e.to_string())?;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            crate::cleanup::register_dir(dir.path().to_path_buf());
            Ok(dir)
        });
        match made {
            Ok(d) => Ok(d.path()),
            Err(e) => Err(Error::TargetUnavailable {
                target: self.label(),
                why: format!("cannot create a working directory: {e}"),
            }),
        }
    }

    /// Copies the server executable once per target, under a temporary name renamed into
    /// place, so no job executes a file another job is still writing.
    fn executable_copy(&self, server: &ServerCommand) -> Result<PathBuf, Error> {
        let made = self.executable.get_or_init(|| {
            let base = self.base().map_err(|e| e.to_string())?;
            let copy = base.join("pgssl-server-bin");
            let partial = base.join("pgssl-server-bin.partial");
            std::fs::copy(&server.program, &partial)
                .map_err(|e| format!("copying {}: {e}", server.program.display()))?;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            std::fs::rename(&partial, &copy).map_err(|e| e.to_string())?;
            Ok(copy)
        });
        made.clone().map_err(|why| Error::TargetUnavailable {
            target: self.label(),
            why,
        })
    }

    fn conf_text(&self, setup: &Setup) -> String {
        let mut text = format!("pgssl.profile = '{}'\n", self.version);
        for line in conf_lines(setup) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    fn start_spawned(&self, setup: &Setup, server: &ServerCommand) -> Result<Started, Error> {
        let owner = run_as_user()?.unwrap_or_else(current_ids);
        let program = self.executable_copy(server)?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let base = self.base()?;
        let dir = base.join(format!("data-{}-{n}", self.version));
        let sockets = base.join(format!("sock-{}-{n}", self.version));
        for d in [&dir, &sockets] {
            std::fs::create_dir(d).map_err(|e| Error::io("creating", d, e))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("setting permissions on", d, e))?;
        }
        write_data_directory(setup, &dir, owner, Some(&self.conf_text(setup)))?;
        crate::setup::chown_tree(&sockets, owner)?;
        let make = |port: u16| {
            let mut command = Command::new(&program);
            command
                .args(&server.prefix)
                .arg("-D")
                .arg(&dir)
                .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
                .arg(&sockets);
            if owner != current_ids() {
                command.uid(owner.0).gid(owner.1);
            }
            // A session of its own: no controlling terminal, so a protected key with no
            // passphrase command fails as it does under a service manager instead of
            // prompting on the harness's terminal.
            // SAFETY: setsid(2) is async-signal-safe.
            unsafe {
                command.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
            for (name, value) in &setup.env {
                command.env(name, value.replace("{datadir}", &dir.display().to_string()));
            }
            Ok(command)
        };
        spawned::start(
            &self.label(),
            spawned::POSTGRES_LOG,
            &make,
            dir.clone(),
            sockets.clone(),
            owner,
        )
    }

    fn start_embedded(&self, setup: &Setup) -> Result<Started, Error> {
        if !setup.env.is_empty() {
            return Err(Error::TargetUnavailable {
                target: self.label(),
                why: "the set-up sets environment variables, so the reference server must run as a child process, and no server executable was found: run pgssl-conform or set PGSSL_SERVER_BIN".into(),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("pgssl-reference-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory in", std::env::temp_dir(), e))?;
        crate::cleanup::register_dir(dir.path().to_path_buf());
        let owner = current_ids();
        write_data_directory(setup, dir.path(), owner, Some(&self.conf_text(setup)))?;
        let cli = vec![
            ("listen_addresses".to_owned(), "127.0.0.1".to_owned()),
            ("port".to_owned(), "0".to_owned()),
            (
                "unix_socket_directories".to_owned(),
                dir.path().display().to_string(),
            ),
        ];
        let log = LogBuffer::default();
        let logger = Arc::new(Logger::to_writer(Box::new(log.clone())));
        let refused = |e: pgssl_server::Error| {
            let lines: Vec<String> = e
                .log_records()
                .iter()
                .flat_map(|r| r.lines())
                .map(|l| l.replace(&dir.path().display().to_string(), "DATADIR"))
                .collect();
            Ok(Started::Refused {
                fatal: spawned::refusal(&lines),
                log: lines,
            })
        };
        let launch = match Launch::load(dir.path(), cli, logger) {
            Ok(l) => l,
            Err(e) => return refused(e),
        };
        // OpenSSL would ask for the key's passphrase on this process's terminal: the child,
        // in a session of its own, has none, as under a service manager.
        if let (true, Some(server)) = (would_prompt(launch.settings()), &self.server) {
            return self.start_spawned(setup, server);
        }
        let rt = runtime()?;
        let server = match rt.block_on(launch.start()) {
            Ok(server) => server,
            // Cases never choose the listen addresses: the harness's 127.0.0.1, port 0 and
            // private socket directory not binding is its own failure, not a refusal.
            Err(e @ (pgssl_server::Error::Bind { .. } | pgssl_server::Error::NoListeners)) => {
                return Err(Error::TargetUnavailable {
                    target: self.label(),
                    why: format!("cannot listen: {e}"),
                });
            }
            Err(e) => return refused(e),
        };
        let addr =
            server
                .tcp_addresses()
                .first()
                .copied()
                .ok_or_else(|| Error::TargetUnavailable {
                    target: self.label(),
                    why: "the server bound no TCP address".into(),
                })?;
        let unix = server.unix_paths().first().cloned();
        Ok(Started::Running(Box::new(Embedded {
            addr,
            unix,
            log,
            server,
            owner,
            dir,
        })))
    }
}

/// Whether starting with `settings` would prompt for a passphrase: SSL on, no
/// `ssl_passphrase_command`, and an encrypted PEM key.
fn would_prompt(settings: &pgssl_server::config::Settings) -> bool {
    settings.ssl
        && settings.ssl_passphrase_command.is_empty()
        && std::fs::read(settings.resolve(&settings.ssl_key_file))
            .is_ok_and(|pem| pem.windows(9).any(|w| w == b"ENCRYPTED"))
}

fn runtime() -> Result<&'static Runtime, Error> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::TargetUnavailable {
            target: "reference".into(),
            why: format!("could not start the async runtime: {e}"),
        })?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// A `Write` sink the server logs into, readable as lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

struct Embedded {
    addr: SocketAddr,
    unix: Option<PathBuf>,
    log: LogBuffer,
    server: RunningServer,
    owner: Ids,
    dir: tempfile::TempDir,
}

impl Running for Embedded {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn log(&self) -> Option<Vec<String>> {
        let dir = self.dir.path().display().to_string();
        Some(
            self.log
                .lines()
                .into_iter()
                .map(|l| l.replace(&dir, "DATADIR"))
                .collect(),
        )
    }

    fn unix_socket(&self) -> Option<PathBuf> {
        self.unix.clone()
    }

    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        Some((self.dir.path().to_path_buf(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        self.server.reload();
        Ok(())
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.server.shutdown(Shutdown::Fast);
        crate::cleanup::forget_dir(self.dir.path());
    }
}

impl Target for Reference {
    fn label(&self) -> String {
        format!("reference-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let chown = setup
            .files
            .iter()
            .any(|f| matches!(f, FileOp::Chown { .. }));
        let root = current_ids().0 == 0;
        let needs_child = !setup.env.is_empty() || (root && (!self.embed_as_root || chown));
        match (&self.server, needs_child) {
            (Some(server), true) => self.start_spawned(setup, server),
            _ => self.start_embedded(setup),
        }
    }
}
