//! A server running as a child process (real PostgreSQL, the reference server when it must
//! run as another user or with its own environment, or a third-party product): start-up
//! watched through its log, reload by SIGHUP, fast shutdown and clean-up when dropped.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Running, Started};
use crate::error::Error;
use crate::setup::Ids;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How a spawned server's log reads: what says it is ready, what says it reloaded, and which
/// lines of a failed start are its refusal.
#[derive(Clone, Copy)]
pub struct LogDialect {
    /// A line containing this means the server accepts connections.
    pub ready: &'static str,
    /// A line containing this is logged once per SIGHUP.
    pub reloaded: &'static str,
    /// The lines of a failed start that the trace shows as `start: refused:`.
    pub refusal: fn(&[String]) -> Vec<String>,
}

/// PostgreSQL's (and the reference server's) log.
pub const POSTGRES_LOG: LogDialect = LogDialect {
    ready: "ready to accept connections",
    reloaded: "received SIGHUP",
    refusal,
};

/// Where data directories go: a place the server's user can reach.
pub fn shared_tmp() -> PathBuf {
    let tmp = std::env::temp_dir();
    if tmp.starts_with("/root") {
        PathBuf::from("/var/tmp")
    } else {
        tmp
    }
}

/// A private working directory for one target under [`shared_tmp`], readable by the server's
/// user (0755) and removed at Ctrl-C as well as when dropped.
pub fn target_base(prefix: &str) -> Result<tempfile::TempDir, Error> {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(shared_tmp())
        .map_err(|e| Error::io("creating a directory in", shared_tmp(), e))?;
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("setting permissions on", base.path(), e))?;
    crate::cleanup::register_dir(base.path().to_path_buf());
    Ok(base)
}

/// The uid/gid to run PostgreSQL as: none when not root, else `PGSSL_PG_USER` or `postgres`.
pub fn run_as_user() -> Result<Option<(u32, u32)>, Error> {
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

/// A free loopback port (bound and released: another process could take it first, which
/// shows up as a start-up failure naming the port).
pub fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding", "127.0.0.1:0", e))?;
    let port = l
        .local_addr()
        .map_err(|e| Error::io("reading the address of", "127.0.0.1:0", e))?
        .port();
    Ok(port)
}

/// Starts the server `make(port)` builds (its arguments, user and environment given) with
/// its output in `<datadir>.log`, and waits until it is ready or has exited. The port is
/// free when picked but not reserved: when another process takes it first (`Address
/// already in use`, likely when set-ups start in parallel), the start is retried on a new
/// one; a port still taken after the last attempt is the harness's failure, not the server's
/// refusal.
pub fn start(
    label: &str,
    dialect: LogDialect,
    make: &dyn Fn(u16) -> Result<Command, Error>,
    datadir: PathBuf,
    sockets: PathBuf,
    owner: Ids,
) -> Result<Started, Error> {
    const ATTEMPTS: usize = 5;
    for attempt in 1..=ATTEMPTS {
        let port = free_port()?;
        let (started, port_taken) = start_once(
            label,
            dialect,
            make(port)?,
            datadir.clone(),
            sockets.clone(),
            port,
            owner,
        )?;
        if !port_taken {
            return Ok(started);
        }
        if attempt == ATTEMPTS {
            return Err(Error::TargetUnavailable {
                target: label.to_owned(),
                why: format!(
                    "no free port: {ATTEMPTS} ports were taken before the server bound them"
                ),
            });
        }
    }
    unreachable!("the last attempt returns")
}

fn start_once(
    label: &str,
    dialect: LogDialect,
    mut command: Command,
    datadir: PathBuf,
    sockets: PathBuf,
    port: u16,
    owner: Ids,
) -> Result<(Started, bool), Error> {
    let log_path = datadir.with_extension("log");
    let log = fs::File::create(&log_path).map_err(|e| Error::io("creating", &log_path, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::io("opening", &log_path, e))?;
    // A server never outlives the harness: killed with it (a CI job's timeout, a mutant's
    // test run cut short), the server gets SIGKILL instead of running on, orphaned, with its
    // port and its CPU. The thread that spawns a server is the one that stops it.
    // SAFETY: prctl(2) is async-signal-safe; it runs after the uid change, which would
    // otherwise clear the setting.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::io("starting a server on", &datadir, e))?;
    crate::cleanup::register_process(child.id());
    let mut running = Spawned {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log_path,
        datadir,
        sockets,
        owner,
        dialect,
        keep_files: false,
    };
    let start = Instant::now();
    loop {
        let lines = running.lines();
        if lines.iter().any(|l| l.contains(dialect.ready)) {
            return Ok((Started::Running(Box::new(running)), false));
        }
        if let Ok(Some(_)) = running.child.try_wait() {
            let lines = running.lines();
            let port_taken = lines.iter().any(|l| l.contains("Address already in use"));
            // The retry starts from the same data directory.
            running.keep_files = port_taken;
            let refused = Started::Refused {
                fatal: (dialect.refusal)(&lines),
                log: lines,
            };
            return Ok((refused, port_taken));
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(Error::TargetUnavailable {
                target: label.to_owned(),
                why: format!(
                    "not ready after {START_TIMEOUT:?}; log:\n{}",
                    lines.join("\n")
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running child server.
struct Spawned {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    datadir: PathBuf,
    sockets: PathBuf,
    owner: Ids,
    dialect: LogDialect,
    /// Leave the data directory, sockets and log in place when dropped (a start retried on
    /// another port reuses them).
    keep_files: bool,
}

impl Spawned {
    fn lines(&self) -> Vec<String> {
        let dir = self.datadir.display().to_string();
        fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .map(|l| l.replace(&dir, "DATADIR"))
            .collect()
    }
}

impl Running for Spawned {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn log(&self) -> Option<Vec<String>> {
        Some(self.lines())
    }

    fn unix_socket(&self) -> Option<PathBuf> {
        Some(self.sockets.join(format!(".s.PGSQL.{}", self.addr.port())))
    }

    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        Some((self.datadir.clone(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        super::sighup_and_wait(self.child.id(), self.dialect.reloaded, &|| self.lines())
    }
}

impl Drop for Spawned {
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
        if self.keep_files {
            return;
        }
        let _ = fs::remove_dir_all(&self.datadir);
        let _ = fs::remove_dir_all(&self.sockets);
        let _ = fs::remove_file(&self.log_path);
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
