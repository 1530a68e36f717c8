//! Real PostgreSQL as a target, started from its binaries: `postgres:BINDIR`.
//!
//! `initdb` runs once per harness run into a private directory under the system's temporary
//! directory (never under `/root`, which the server's user cannot enter); each set-up gets a
//! copy with its own `postgresql.conf` lines, certificate, `pg_hba.conf` and a private
//! `unix_socket_directories`. PostgreSQL refuses to run as root, so when the harness runs as
//! root the server runs as the `postgres` user (`PGSSL_PG_USER` to choose another).

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{conf_lines, write_server_files};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// PostgreSQL from a binary directory.
pub struct Postgres {
    bindir: PathBuf,
    version: Version,
    full_version: String,
    user: Option<(u32, u32)>,
    base: tempfile::TempDir,
    template: Mutex<Option<PathBuf>>,
    counter: AtomicUsize,
}

impl Postgres {
    /// Checks the binaries and reads their version; nothing is started yet.
    pub fn new(bindir: PathBuf) -> Result<Self, Error> {
        let label = format!("postgres:{}", bindir.display());
        let unavailable = |why: String| Error::TargetUnavailable {
            target: label.clone(),
            why,
        };
        let out = Command::new(bindir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| unavailable(format!("cannot run {}/postgres: {e}", bindir.display())))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let major: u32 = text
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| unavailable(format!("unexpected version output {text:?}")))?;
        let version = Version::from_major(major).ok_or_else(|| {
            unavailable(format!(
                "PostgreSQL {major} has no expectations (15 and 18 do)"
            ))
        })?;
        let user = run_as_user()?;
        let base = tempfile::Builder::new()
            .prefix("pgssl-conform-pg-")
            .tempdir_in(shared_tmp())
            .map_err(|e| Error::io("creating a directory in", shared_tmp(), e))?;
        fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("setting permissions on", base.path(), e))?;
        crate::cleanup::register_dir(base.path().to_path_buf());
        Ok(Self {
            bindir,
            version,
            full_version: text,
            user,
            base,
            template: Mutex::new(None),
            counter: AtomicUsize::new(0),
        })
    }

    /// `postgres --version` as printed.
    pub fn full_version(&self) -> &str {
        &self.full_version
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        cmd.env_remove("PGDATA").env("LC_ALL", "C");
        cmd
    }

    fn chown(&self, path: &Path) -> Result<(), Error> {
        let Some((uid, gid)) = self.user else {
            return Ok(());
        };
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| Error::io("chown", path, e))
    }

    fn chown_tree(&self, path: &Path) -> Result<(), Error> {
        self.chown(path)?;
        if path.is_dir() {
            for entry in fs::read_dir(path).map_err(|e| Error::io("reading", path, e))? {
                let entry = entry.map_err(|e| Error::io("reading", path, e))?;
                self.chown_tree(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Runs initdb once per harness run.
    fn template(&self) -> Result<PathBuf, Error> {
        let mut guard = self.template.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = guard.as_ref() {
            return Ok(t.clone());
        }
        let dir = self.base.path().join("template");
        fs::create_dir(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("setting permissions on", &dir, e))?;
        self.chown(&dir)?;
        let out = self
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&dir)
            .output()
            .map_err(|e| Error::io("running initdb for", &dir, e))?;
        if !out.status.success() {
            return Err(Error::TargetUnavailable {
                target: self.label(),
                why: format!(
                    "initdb failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        *guard = Some(dir.clone());
        Ok(dir)
    }

    fn provision(&self, setup: &Setup) -> Result<(PathBuf, u16), Error> {
        let template = self.template()?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.base.path().join(format!("data-{n}"));
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&dir)
            .status()
            .map_err(|e| Error::io("copying", &template, e))?;
        if !status.success() {
            return Err(Error::TargetUnavailable {
                target: self.label(),
                why: format!("could not copy {} to {}", template.display(), dir.display()),
            });
        }
        let sockets = self.base.path().join(format!("sock-{n}"));
        fs::create_dir(&sockets).map_err(|e| Error::io("creating", &sockets, e))?;
        fs::set_permissions(&sockets, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("setting permissions on", &sockets, e))?;
        self.chown(&sockets)?;
        write_server_files(&dir, setup.cert)?;
        let port = free_port()?;
        let mut conf = format!(
            "\n# pgssl conformance set-up\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n",
            sockets.display()
        );
        for line in conf_lines(setup) {
            conf.push_str(&line);
            conf.push('\n');
        }
        let conf_path = dir.join("postgresql.conf");
        let mut text =
            fs::read_to_string(&conf_path).map_err(|e| Error::io("reading", &conf_path, e))?;
        text.push_str(&conf);
        fs::write(&conf_path, text).map_err(|e| Error::io("writing", &conf_path, e))?;
        let hba = dir.join("pg_hba.conf");
        fs::write(
            &hba,
            "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n",
        )
        .map_err(|e| Error::io("writing", &hba, e))?;
        self.chown_tree(&dir)?;
        Ok((dir, port))
    }
}

/// Where data directories go: a place the server's user can reach.
fn shared_tmp() -> PathBuf {
    let tmp = std::env::temp_dir();
    if tmp.starts_with("/root") {
        PathBuf::from("/var/tmp")
    } else {
        tmp
    }
}

fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding", "127.0.0.1:0", e))?;
    let port = l
        .local_addr()
        .map_err(|e| Error::io("reading the address of", "127.0.0.1:0", e))?
        .port();
    Ok(port)
}

/// The uid/gid to run PostgreSQL as: none when not root, else `PGSSL_PG_USER` or `postgres`.
fn run_as_user() -> Result<Option<(u32, u32)>, Error> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::env::var("PGSSL_PG_USER").unwrap_or_else(|_| "postgres".into());
    let cname = std::ffi::CString::new(name.clone()).map_err(|_| Error::TargetUnavailable {
        target: "postgres".into(),
        why: format!("bad user name {name:?}"),
    })?;
    // SAFETY: getpwnam with a valid C string; the result is read before any other call.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return Err(Error::TargetUnavailable {
            target: "postgres".into(),
            why: format!(
                "running as root and there is no user {name:?} to run PostgreSQL as (PostgreSQL refuses root); create it or set PGSSL_PG_USER"
            ),
        });
    }
    // SAFETY: pw is non-null and points to a passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

struct RunningPostgres {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    datadir: PathBuf,
}

impl RunningPostgres {
    fn lines(&self) -> Vec<String> {
        let dir = self.datadir.display().to_string();
        fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .map(|l| l.replace(&dir, "DATADIR"))
            .collect()
    }
}

impl Running for RunningPostgres {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn log(&self) -> Option<Vec<String>> {
        Some(self.lines())
    }
}

impl Drop for RunningPostgres {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our child's pid: a fast shutdown.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::cleanup::forget_process(self.child.id());
        let _ = fs::remove_dir_all(&self.datadir);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

impl Target for Postgres {
    fn label(&self) -> String {
        format!("postgres-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let (dir, port) = self.provision(setup)?;
        let log_path = dir.with_extension("log");
        let log = fs::File::create(&log_path).map_err(|e| Error::io("creating", &log_path, e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io("opening", &log_path, e))?;
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| Error::io("starting postgres on", &dir, e))?;
        crate::cleanup::register_process(child.id());
        let mut running = RunningPostgres {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log_path,
            datadir: dir,
        };
        let start = Instant::now();
        loop {
            let lines = running.lines();
            if lines
                .iter()
                .any(|l| l.contains("ready to accept connections"))
            {
                return Ok(Started::Running(Box::new(running)));
            }
            if let Ok(Some(_)) = running.child.try_wait() {
                return Ok(Started::Refused(refusal(&lines)));
            }
            if start.elapsed() > START_TIMEOUT {
                return Err(Error::TargetUnavailable {
                    target: self.label(),
                    why: format!(
                        "not ready after {START_TIMEOUT:?}; log:\n{}",
                        lines.join("\n")
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The FATAL line of a failed start and the DETAIL/HINT lines after it, without prefixes.
pub fn refusal(lines: &[String]) -> Vec<String> {
    let messages: Vec<&str> = lines.iter().map(|l| crate::trace::log_message(l)).collect();
    match messages.iter().position(|m| m.starts_with("FATAL:")) {
        Some(i) => messages[i..]
            .iter()
            .take_while(|m| !m.starts_with("LOG:"))
            .map(|m| (*m).to_owned())
            .collect(),
        None => messages
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|m| (*m).to_owned())
            .collect(),
    }
}
