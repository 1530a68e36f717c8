//! The crates.io `pgwire` crate as a target: `pgwire[@VERSION]`, run as
//! `products/pgwire-server` (`pgssl-pgwire-server`), a small service embedding pgwire the way
//! its examples do, with rustls TLS. There is no backend: the server answers `SELECT 1`
//! itself.
//!
//! The binary is `PGSSL_PGWIRE_SERVER`, else `pgssl-pgwire-server` next to the running
//! executable (or one directory up, for test binaries in `target/<profile>/deps/`). Each
//! set-up gets a directory laid out like a data directory, from which [`config`] writes the
//! server's `pgwire.toml` ([`hba`] checks `pg_hba.conf`); a reload writes it again from the files as they are then and sends
//! SIGHUP. With no PostgreSQL behind it to follow, it is judged by 15's expectations unless
//! `@VERSION` says otherwise. Its log is in its own format, so PostgreSQL's log expectations
//! are not checked against it; a start it refuses is the trace's `start: refused:` lines.

pub mod config;
pub mod hba;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::spawned::{self, LogDialect, run_as_user};
use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, conf_lines, current_ids, write_data_directory};

/// The server's binary name.
const BINARY: &str = "pgssl-pgwire-server";

/// The version judged when `@VERSION` is not given: no backend decides it.
pub const DEFAULT_VERSION: Version = Version::Pg15;

/// How the server's log reads (`LEVEL:  message` lines).
const PGWIRE_LOG: LogDialect = LogDialect {
    ready: "pgssl-pgwire-server ready:",
    reloaded: "SIGHUP:",
    refusal,
};

/// pgwire, in `pgssl-pgwire-server`.
pub struct Pgwire {
    program: PathBuf,
    product: String,
    version: Version,
    user: Option<Ids>,
    base: tempfile::TempDir,
    counter: AtomicUsize,
}

impl Pgwire {
    /// Parses what follows `pgwire` in a target (``, `@15`), finds the binary and reads the
    /// pgwire version it was built with; nothing is started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let spec = format!("pgwire{rest}");
        let version = match rest.strip_prefix('@') {
            None if rest.is_empty() => DEFAULT_VERSION,
            Some(v) => Version::parse(v).ok_or_else(|| Error::UnknownVersion {
                target: spec.clone(),
                what: format!("version {v:?}"),
                known: Version::known(),
            })?,
            None => return Err(Error::BadTarget(spec)),
        };
        let unavailable = |why| Error::TargetUnavailable {
            target: spec.clone(),
            why,
        };
        let program = locate().map_err(unavailable)?;
        let product = product_version(&program).map_err(unavailable)?;
        Ok(Self {
            program,
            product,
            version,
            user: run_as_user()?,
            base: spawned::target_base("pgssl-conform-pgwire-")?,
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
                &["X25519", "prime256v1"]
            } else {
                &["prime256v1"]
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

impl Drop for Pgwire {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

/// `PGSSL_PGWIRE_SERVER`, else the binary beside the running executable, or beside its
/// directory when that is cargo's `deps/` (integration tests).
fn locate() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PGSSL_PGWIRE_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| {
        format!("cannot tell where this executable is ({e}); set PGSSL_PGWIRE_SERVER")
    })?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let mut places = vec![dir.join(BINARY)];
    if dir.file_name().is_some_and(|n| n == "deps") {
        if let Some(up) = dir.parent() {
            places.push(up.join(BINARY));
        }
    }
    places.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "no {BINARY} in {}: build it with `cargo build -p pgssl-pgwire-server` (the same profile as this executable), or set PGSSL_PGWIRE_SERVER",
            places
                .iter()
                .map(|p| p.parent().unwrap_or(p).display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        )
    })
}

/// `pgssl-pgwire-server --version`: `pgwire 0.42.1`.
fn product_version(program: &Path) -> Result<String, String> {
    let out = Command::new(program).arg("--version").output().map_err(|e| {
        format!(
            "cannot run {}: {e}; build it with `cargo build -p pgssl-pgwire-server` or set PGSSL_PGWIRE_SERVER",
            program.display()
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("").trim();
    if !out.status.success() || !first.starts_with("pgwire ") {
        return Err(format!(
            "{} --version printed {first:?}, not the pgwire version it was built with",
            program.display()
        ));
    }
    Ok(first.to_owned())
}

/// Writes `pgwire.toml` for the files in `layout.dir` as they are now.
fn write_config(
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
        return Err("it reads no pg_ident.conf (its startup handler maps no user names)".into());
    }
    let text = config::server_config(
        &read("postgresql.conf")?,
        &read("pg_hba.conf")?,
        layout,
        defaults,
    )?;
    let path = layout.dir.join("pgwire.toml");
    fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let _ = std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1));
    Ok(path)
}

impl Target for Pgwire {
    fn label(&self) -> String {
        format!("pgwire-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{} with rustls (aws-lc-rs) in pgssl-pgwire-server, no backend",
            self.product
        ))
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        if let Some((name, _)) = setup.env.first() {
            return Err(self.unmappable(format!(
                "its TLS is rustls, which reads no environment variable such as {name}"
            )));
        }
        let owner = self.user.unwrap_or_else(current_ids);
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.base.path().join(format!("conf-{n}"));
        let sockets = self.base.path().join(format!("sock-{n}"));
        self.private_dir(&dir, owner)?;
        self.private_dir(&sockets, owner)?;
        let conf = conf_lines(setup).join("\n") + "\n";
        write_data_directory(setup, &dir, owner, Some(&conf))?;
        let defaults = self.defaults();
        let layout = |port: u16| config::Layout {
            dir: dir.clone(),
            sockets: sockets.clone(),
            port,
        };
        // Checked before any process starts, so an unmappable set-up is not applicable.
        write_config(&layout(0), &defaults, owner).map_err(|why| self.unmappable(why))?;
        let make = |port: u16| -> Result<Command, Error> {
            let l = layout(port);
            let path = write_config(&l, &defaults, owner).map_err(|why| self.unmappable(why))?;
            let mut command = Command::new(&self.program);
            command.arg(&path).current_dir(&l.dir);
            if let Some((uid, gid)) = self.user {
                command.uid(uid).gid(gid);
            }
            Ok(command)
        };
        let started = spawned::start(
            &self.label(),
            PGWIRE_LOG,
            &make,
            dir.clone(),
            sockets.clone(),
            owner,
        )?;
        match started {
            Started::Running(inner) => Ok(Started::Running(Box::new(Server {
                inner,
                dir,
                sockets,
                defaults,
                owner,
                product: self.product.clone(),
            }))),
            Started::Refused { fatal, log } if setup.is_default() => Err(Error::ProductFailed {
                product: self.product.clone(),
                config: dir.join("pgwire.toml"),
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

/// A running server: its reload writes `pgwire.toml` again from the files first.
struct Server {
    inner: Box<dyn Running>,
    dir: PathBuf,
    sockets: PathBuf,
    defaults: config::PostgresDefaults,
    owner: Ids,
    product: String,
}

impl Running for Server {
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
        Some((self.dir.clone(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        let layout = config::Layout {
            dir: self.dir.clone(),
            sockets: self.sockets.clone(),
            port: self.inner.addr().port(),
        };
        write_config(&layout, &self.defaults, self.owner).map_err(|why| Error::Unmappable {
            product: self.product.clone(),
            why,
        })?;
        self.inner.reload()
    }
}

/// The server's `FATAL:` lines (in PostgreSQL's shape, `FATAL:  message`); the last three
/// lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    let fatal: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("FATAL:"))
        .cloned()
        .collect();
    if fatal.is_empty() {
        lines.iter().rev().take(3).rev().cloned().collect()
    } else {
        fatal
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refusal_is_the_fatal_lines() {
        let lines = [
            "LOG:  something".to_owned(),
            "FATAL:  cannot read the private key file DATADIR/server.key: No such file or directory (os error 2)".to_owned(),
        ];
        assert_eq!(
            refusal(&lines),
            [
                "FATAL:  cannot read the private key file DATADIR/server.key: No such file or directory (os error 2)"
            ]
        );
        assert_eq!(refusal(&lines[..1]), ["LOG:  something"]);
    }
}
