//! pgpool-II (Debian's `pgpool2`) as a target: `pgpool[:BINDIR][@VERSION]`, in raw mode in
//! front of one real PostgreSQL from BINDIR (default Debian's 15) that the harness starts.
//!
//! Each set-up gets a directory laid out like a data directory (certificate, key,
//! `pg_hba.conf`, `postgresql.conf`, the case's file changes), from which [`config`] writes
//! `pgpool.conf` and [`hba`] `pool_hba.conf`; the directory also holds pgpool's pid file,
//! status file and PCP socket, and a second private directory its client socket. pgpool runs in
//! the foreground (`-n`) in a process group of its own, so that dropping the server stops every
//! child it forked. A reload writes both files again from the files as they are then and sends
//! SIGHUP. pgpool is judged by the expectations of the version it follows (`@VERSION`, by
//! default the backend's). Its log is in its own format, so PostgreSQL's log expectations are
//! not checked against it; a start it refuses is the trace's `start: refused:` lines.

pub mod config;
pub mod hba;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::backend::{Backend, BackendAddr, DEFAULT_BINDIR};
use super::spawned::{self, LogDialect, run_as_user};
use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, conf_lines, current_ids, write_data_directory};

/// How pgpool's log reads (`src/main/pgpool_main.c`).
const PGPOOL_LOG: LogDialect = LogDialect {
    ready: "pgpool-II successfully started",
    reloaded: "reload config files.",
    refusal,
};

/// pgpool-II in front of a PostgreSQL backend.
pub struct Pgpool {
    program: PathBuf,
    product: String,
    backend: Backend,
    version: Version,
    user: Option<Ids>,
    base: tempfile::TempDir,
    counter: AtomicUsize,
}

impl Pgpool {
    /// Parses what follows `pgpool` in a target (``, `@15`, `:BINDIR`, `:BINDIR@15`), checks
    /// the binaries and reads their versions; nothing is started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let spec = format!("pgpool{rest}");
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        let (bindir, version) = match rest.rsplit_once('@') {
            Some((b, v)) => (b, Some(v)),
            None => (rest, None),
        };
        let bindir = if bindir.is_empty() {
            DEFAULT_BINDIR
        } else {
            bindir
        };
        let version = version
            .map(|v| {
                Version::parse(v).ok_or_else(|| Error::UnknownVersion {
                    target: spec.clone(),
                    what: format!("version {v:?}"),
                    known: Version::known(),
                })
            })
            .transpose()?;
        let program = std::env::var_os("PGSSL_PGPOOL")
            .map_or_else(|| PathBuf::from("/usr/sbin/pgpool"), PathBuf::from);
        let product = product_version(&program).map_err(|why| Error::TargetUnavailable {
            target: spec.clone(),
            why,
        })?;
        let backend = Backend::new(PathBuf::from(bindir))?;
        let base = spawned::target_base("pgssl-conform-pgpool-")?;
        Ok(Self {
            program,
            product,
            version: version.unwrap_or_else(|| backend.version()),
            backend,
            user: run_as_user()?,
            base,
            counter: AtomicUsize::new(0),
        })
    }

    fn unmappable(&self, why: String) -> Error {
        Error::Unmappable {
            product: self.product.clone(),
            why,
        }
    }

    fn defaults(&self) -> config::PostgresDefaults {
        config::PostgresDefaults {
            // PostgreSQL's default ssl_ecdh_curve (13 to 17); 18's ssl_groups default,
            // X25519:prime256v1, is a list, and pgpool takes one curve (an EC one: its
            // EC_KEY_new_by_curve_name has no X25519), so it gets the other member.
            curve: "prime256v1",
        }
    }

    /// A directory of the server's user, private to it.
    fn private_dir(&self, path: &Path, owner: Ids) -> Result<(), Error> {
        fs::create_dir(path).map_err(|e| Error::io("creating", path, e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("setting permissions on", path, e))?;
        crate::setup::chown_tree(path, owner)
    }
}

impl Drop for Pgpool {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

/// `pgpool --version`'s line without the release name: `pgpool-II version 4.3.5
/// (tamahomeboshi)` is `pgpool-II 4.3.5`.
fn product_version(program: &Path) -> Result<String, String> {
    let out = Command::new(program).arg("--version").output().map_err(|e| {
        format!(
            "cannot run {}: {e}; install Debian's pgpool2 (scripts/install-deps does) or set PGSSL_PGPOOL",
            program.display()
        )
    })?;
    // pgpool prints its version on standard error.
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim();
    match first.strip_prefix("pgpool-II version ") {
        Some(v) if out.status.success() => {
            let number = v.split_whitespace().next().unwrap_or(v);
            Ok(format!("pgpool-II {number}"))
        }
        _ => Err(format!(
            "{} --version printed {first:?}, not pgpool-II's version",
            program.display()
        )),
    }
}

/// Writes `pgpool.conf`, `pool_hba.conf` and an empty `pcp.conf` for the files in
/// `layout.dir` as they are now; returns the paths of the first two.
fn write_config(
    layout: &config::Layout,
    defaults: &config::PostgresDefaults,
    owner: Ids,
) -> Result<(PathBuf, PathBuf), String> {
    let read = |name: &str| {
        let path = layout.dir.join(name);
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    hba::check_ident(&read("pg_ident.conf")?)?;
    let hba = hba::pool_hba(&read("pg_hba.conf")?)?;
    let conf = config::pgpool_conf(&read("postgresql.conf")?, layout, defaults)?;
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = layout.dir.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1))
            .map_err(|e| format!("cannot give {} to its server: {e}", path.display()))?;
        Ok(path)
    };
    let conf_path = write("pgpool.conf", &conf)?;
    let hba_path = write("pool_hba.conf", &hba)?;
    write("pcp.conf", "")?;
    Ok((conf_path, hba_path))
}

impl Target for Pgpool {
    fn label(&self) -> String {
        format!("pgpool-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{} (raw mode) in front of {}",
            self.product,
            self.backend.full_version()
        ))
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let owner = self.user.unwrap_or_else(current_ids);
        let BackendAddr { socket_dir, port } = self.backend.addr()?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.base.path().join(format!("conf-{n}"));
        let sockets = self.base.path().join(format!("sock-{n}"));
        self.private_dir(&dir, owner)?;
        self.private_dir(&sockets, owner)?;
        let conf = conf_lines(setup).join("\n") + "\n";
        write_data_directory(setup, &dir, owner, Some(&conf))?;
        let defaults = self.defaults();
        let backend_port = port;
        let layout = move |listen: u16| config::Layout {
            dir: dir.clone(),
            sockets: sockets.clone(),
            port: listen,
            backend_dir: socket_dir.clone(),
            backend_port,
        };
        // Checked before any process starts, so an unmappable set-up is not applicable.
        write_config(&layout(0), &defaults, owner).map_err(|why| self.unmappable(why))?;
        let make = |listen: u16| -> Result<Command, Error> {
            let l = layout(listen);
            let (conf, hba) =
                write_config(&l, &defaults, owner).map_err(|why| self.unmappable(why))?;
            // A start retried on another port finds the pid file of the attempt before.
            let _ = fs::remove_file(l.dir.join("pgpool.pid"));
            let mut command = Command::new(&self.program);
            // -n: foreground; -D: no backend status carried over from an earlier start.
            command
                .arg("-n")
                .arg("-D")
                .arg("-f")
                .arg(&conf)
                .arg("-a")
                .arg(&hba)
                .arg("-F")
                .arg(l.dir.join("pcp.conf"))
                // No pool_passwd, so no key file to decrypt it with: a name of its own, not the
                // harness user's ~/.pgpoolkey.
                .arg("-k")
                .arg(l.dir.join("pgpoolkey"))
                .current_dir(&l.dir)
                .process_group(0);
            if let Some((uid, gid)) = self.user {
                command.uid(uid).gid(gid);
            }
            for (name, value) in &setup.env {
                command.env(
                    name,
                    value.replace("{datadir}", &l.dir.display().to_string()),
                );
            }
            Ok(command)
        };
        let l = layout(0);
        let started = spawned::start(
            &self.label(),
            PGPOOL_LOG,
            &make,
            l.dir.clone(),
            l.sockets.clone(),
            owner,
        )?;
        match started {
            Started::Running(inner) => {
                let group = read_pid(&l.dir.join("pgpool.pid"));
                let pool = Pool {
                    inner: Some(inner),
                    group,
                    layout: l,
                    defaults,
                    owner,
                    product: self.product.clone(),
                };
                if pool.group.is_none() {
                    return Err(Error::ProductFailed {
                        product: self.product.clone(),
                        config: pool.layout.dir.join("pgpool.conf"),
                        why: "it wrote no readable pid file (pid_file_name), so its children could not be stopped with it".into(),
                        log_tail: String::new(),
                    });
                }
                Ok(Started::Running(Box::new(pool)))
            }
            Started::Refused { fatal, log } if setup.is_default() => Err(Error::ProductFailed {
                product: self.product.clone(),
                config: l.dir.join("pgpool.conf"),
                why: format!(
                    "it refused the configuration written for the default set-up ({})",
                    fatal.join(" / ")
                ),
                log_tail: log
                    .iter()
                    .rev()
                    .take(10)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
            }),
            refused => Ok(refused),
        }
    }
}

/// The process id in pgpool's pid file (digits, padded with NUL bytes).
fn read_pid(path: &Path) -> Option<i32> {
    let text = fs::read(path).ok()?;
    let digits: String = text
        .iter()
        .map(|&b| b as char)
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|&pid| pid > 1)
}

/// A running pgpool: its reload writes `pgpool.conf` and `pool_hba.conf` again from the files
/// first; dropped, it stops the main process, then whatever is left of its process group.
struct Pool {
    inner: Option<Box<dyn Running>>,
    /// pgpool's main process id, which leads the process group of it and its children.
    group: Option<i32>,
    layout: config::Layout,
    defaults: config::PostgresDefaults,
    owner: Ids,
    product: String,
}

impl Pool {
    fn inner(&self) -> &dyn Running {
        self.inner
            .as_deref()
            .expect("the server is only taken when dropped")
    }
}

impl Running for Pool {
    fn addr(&self) -> std::net::SocketAddr {
        self.inner().addr()
    }

    fn log(&self) -> Option<Vec<String>> {
        None
    }

    fn unix_socket(&self) -> Option<PathBuf> {
        self.inner().unix_socket()
    }

    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        Some((self.layout.dir.clone(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        let layout = config::Layout {
            port: self.inner().addr().port(),
            dir: self.layout.dir.clone(),
            sockets: self.layout.sockets.clone(),
            backend_dir: self.layout.backend_dir.clone(),
            backend_port: self.layout.backend_port,
        };
        write_config(&layout, &self.defaults, self.owner).map_err(|why| Error::Unmappable {
            product: self.product.clone(),
            why,
        })?;
        self.inner().reload()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The main process first (SIGINT, pgpool's fast shutdown, which stops its children),
        // then any child that outlived it.
        drop(self.inner.take());
        if let Some(group) = self.group {
            // SAFETY: kill(2) on the process group pgpool's main process led.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
    }
}

/// pgpool's `FATAL` and `ERROR` lines and the `DETAIL`/`HINT` lines after them, without the
/// prefix (`2026-12-08 02:34:36.659: main pid 16193: FATAL:  x` is `FATAL:  x`); the last
/// three lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    let message = |l: &String| -> String {
        l.split_once(" pid ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map_or(l.as_str(), |(_, m)| m)
            .to_owned()
    };
    let messages: Vec<String> = lines.iter().map(message).collect();
    let mut severe = Vec::new();
    let mut following = false;
    for m in &messages {
        if m.starts_with("FATAL:") || m.starts_with("ERROR:") {
            severe.push(m.clone());
            following = true;
        } else if following && (m.starts_with("DETAIL:") || m.starts_with("HINT:")) {
            severe.push(m.clone());
        } else {
            following = false;
        }
    }
    if severe.is_empty() {
        messages.iter().rev().take(3).rev().cloned().collect()
    } else {
        severe
    }
}

#[cfg(test)]
mod tests {
    use super::{read_pid, refusal};

    #[test]
    fn refusal_is_the_error_lines_without_prefix() {
        let lines = [
            "2026-12-08 02:34:36.659: main pid 16193: LOG:  Backend status file x does not exist"
                .to_owned(),
            "2026-12-08 02:34:36.660: main pid 16193: FATAL:  failed to create INET domain socket".to_owned(),
            "2026-12-08 02:34:36.660: main pid 16193: DETAIL:  bind on socket failed with error \"Address already in use\"".to_owned(),
            "2026-12-08 02:34:36.661: main pid 16193: LOG:  shutting down".to_owned(),
        ];
        assert_eq!(
            refusal(&lines),
            [
                "FATAL:  failed to create INET domain socket",
                "DETAIL:  bind on socket failed with error \"Address already in use\""
            ]
        );
        assert_eq!(
            refusal(&lines[..1]),
            ["LOG:  Backend status file x does not exist"]
        );
    }

    #[test]
    fn pid_file_digits_before_padding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgpool.pid");
        std::fs::write(&path, b"16193\n\0\0\0").expect("write");
        assert_eq!(read_pid(&path), Some(16193));
        std::fs::write(&path, b"\0\0").expect("write");
        assert_eq!(read_pid(&path), None);
        assert_eq!(read_pid(&dir.path().join("missing")), None);
    }
}
