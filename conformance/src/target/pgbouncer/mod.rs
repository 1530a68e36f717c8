//! PgBouncer (Debian's `pgbouncer`) as a target: `pgbouncer[:BINDIR][@VERSION]`, in front of
//! a real PostgreSQL from BINDIR (default Debian's 15) that the harness starts.
//!
//! Each set-up gets a directory laid out like a data directory (certificate, key,
//! `pg_hba.conf`, `postgresql.conf`, the case's file changes), from which
//! [`config`] writes `pgbouncer.ini`; a reload writes it again from the files as they are
//! then. PgBouncer is judged by the expectations of the version it follows (`@VERSION`, by
//! default the backend's). Its log is in its own format, so PostgreSQL's log expectations
//! are not checked against it; a start it refuses is the trace's `start: refused:` lines.

pub mod config;

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

/// How PgBouncer's log reads.
const PGBOUNCER_LOG: LogDialect = LogDialect {
    ready: "process up:",
    reloaded: "got SIGHUP",
    refusal,
};

/// PgBouncer in front of a PostgreSQL backend.
pub struct Pgbouncer {
    program: PathBuf,
    product: String,
    backend: Backend,
    version: Version,
    user: Option<Ids>,
    base: tempfile::TempDir,
    counter: AtomicUsize,
}

impl Pgbouncer {
    /// Parses what follows `pgbouncer` in a target (``, `@15`, `:BINDIR`, `:BINDIR@15`),
    /// checks the binaries and reads their versions; nothing is started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let spec = format!("pgbouncer{rest}");
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
        let program = std::env::var_os("PGSSL_PGBOUNCER")
            .map_or_else(|| PathBuf::from("/usr/sbin/pgbouncer"), PathBuf::from);
        let product = product_version(&program).map_err(|why| Error::TargetUnavailable {
            target: spec.clone(),
            why,
        })?;
        let backend = Backend::new(PathBuf::from(bindir))?;
        let base = spawned::target_base("pgssl-conform-pgbouncer-")?;
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
            // PostgreSQL's default ssl_ecdh_curve (13 to 17) and ssl_groups (18).
            groups: if self.version == Version::Pg18 {
                "X25519:prime256v1"
            } else {
                "prime256v1"
            },
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

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

/// `pgbouncer --version`'s first line, `PgBouncer 1.18.0`.
fn product_version(program: &Path) -> Result<String, String> {
    let out = Command::new(program).arg("--version").output().map_err(|e| {
        format!(
            "cannot run {}: {e}; install Debian's pgbouncer (scripts/install-deps does) or set PGSSL_PGBOUNCER",
            program.display()
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim();
    if !out.status.success() || !first.starts_with("PgBouncer ") {
        return Err(format!(
            "{} --version printed {first:?}, not PgBouncer's version",
            program.display()
        ));
    }
    Ok(first.to_owned())
}

/// Writes `pgbouncer.ini` for the files in `layout.dir` as they are now.
fn write_ini(
    layout: &config::Layout,
    defaults: &config::PostgresDefaults,
    owner: Ids,
) -> Result<PathBuf, String> {
    let read = |name: &str| {
        let path = layout.dir.join(name);
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let ident = read("pg_ident.conf")?;
    if ident
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    {
        return Err("PgBouncer 1.18 reads no pg_ident.conf (no user name maps)".into());
    }
    config::check_hba(&read("pg_hba.conf")?)?;
    let ini = config::ini(&read("postgresql.conf")?, layout, defaults)?;
    let path = layout.dir.join("pgbouncer.ini");
    fs::write(&path, ini).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let _ = std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1));
    Ok(path)
}

impl Target for Pgbouncer {
    fn label(&self) -> String {
        format!("pgbouncer-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{} in front of {}",
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
        let userlist = dir.join("userlist.txt");
        fs::write(&userlist, "\"postgres\" \"\"\n")
            .map_err(|e| Error::io("writing", &userlist, e))?;
        crate::setup::chown_tree(&userlist, owner)?;
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
        write_ini(&layout(0), &defaults, owner).map_err(|why| self.unmappable(why))?;
        let make = |listen: u16| -> Result<Command, Error> {
            let l = layout(listen);
            let ini = write_ini(&l, &defaults, owner).map_err(|why| self.unmappable(why))?;
            let mut command = Command::new(&self.program);
            command.arg(&ini).current_dir(&l.dir);
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
            PGBOUNCER_LOG,
            &make,
            l.dir.clone(),
            l.sockets.clone(),
            owner,
        )?;
        match started {
            Started::Running(inner) => Ok(Started::Running(Box::new(Bouncer {
                inner,
                layout: l,
                defaults,
                owner,
                product: self.product.clone(),
            }))),
            Started::Refused { fatal, log } if setup.is_default() => Err(Error::ProductFailed {
                product: self.product.clone(),
                config: l.dir.join("pgbouncer.ini"),
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

/// A running PgBouncer: its reload writes `pgbouncer.ini` again from the files first.
struct Bouncer {
    inner: Box<dyn Running>,
    layout: config::Layout,
    defaults: config::PostgresDefaults,
    owner: Ids,
    product: String,
}

impl Running for Bouncer {
    fn addr(&self) -> std::net::SocketAddr {
        self.inner.addr()
    }

    fn log(&self) -> Option<Vec<String>> {
        None
    }

    fn unix_socket(&self) -> Option<PathBuf> {
        self.inner.unix_socket()
    }

    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        Some((self.layout.dir.clone(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        let layout = config::Layout {
            port: self.inner.addr().port(),
            dir: self.layout.dir.clone(),
            sockets: self.layout.sockets.clone(),
            backend_dir: self.layout.backend_dir.clone(),
            backend_port: self.layout.backend_port,
        };
        write_ini(&layout, &self.defaults, self.owner).map_err(|why| Error::Unmappable {
            product: self.product.clone(),
            why,
        })?;
        self.inner.reload()
    }
}

/// PgBouncer's `FATAL` and `ERROR` lines, without the timestamp and pid (`… [123] FATAL x` is
/// `FATAL x`); the last three lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    let message =
        |l: &String| -> String { l.split_once("] ").map_or(l.as_str(), |(_, m)| m).to_owned() };
    let severe: Vec<String> = lines
        .iter()
        .map(message)
        .filter(|m| m.starts_with("FATAL ") || m.starts_with("ERROR "))
        .collect();
    if severe.is_empty() {
        lines.iter().rev().take(3).rev().map(message).collect()
    } else {
        severe
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refusal_is_the_error_lines_without_prefix() {
        let lines = [
            "2026-12-07 23:42:15.047 UTC [3123] LOG kernel file descriptor limit: 1024".to_owned(),
            "2026-12-07 23:42:15.047 UTC [3123] ERROR TLS setup failed: x".to_owned(),
            "2026-12-07 23:42:15.047 UTC [3123] FATAL cannot load TLS".to_owned(),
        ];
        assert_eq!(
            refusal(&lines),
            ["ERROR TLS setup failed: x", "FATAL cannot load TLS"]
        );
        assert_eq!(
            refusal(&lines[..1]),
            ["LOG kernel file descriptor limit: 1024"]
        );
    }
}
