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

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::product::conf::PostgresDefaults;
use super::product::refusal::severe_or_last;
use super::product::server::{self, Launch};
use super::product::workdir::{self, Workdir};
use super::product::{spec, version};
use super::spawned::{LogDialect, run_as_user};
use super::{Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, current_ids};

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
    workdir: Workdir,
}

impl Pgwire {
    /// Parses what follows `pgwire` in a target (``, `@15`), finds the binary and reads the
    /// pgwire version it was built with; nothing is started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let (spec, version) = spec::without_backend("pgwire", rest, DEFAULT_VERSION)?;
        let unavailable = |why| Error::TargetUnavailable {
            target: spec.clone(),
            why,
        };
        let built = locate().map_err(unavailable)?;
        let product = product_version(&built).map_err(unavailable)?;
        let workdir = Workdir::new("pgssl-conform-pgwire-")?;
        let program = runnable_copy(&built, workdir.path())?;
        Ok(Self {
            program,
            product,
            version,
            user: run_as_user()?,
            workdir,
        })
    }
}

/// A copy of the binary in the target's work directory, which the server's user can reach:
/// the build directory may not be (a checkout under `/root`, or in a private temporary
/// directory, when the harness runs as root and the server as `postgres`).
fn runnable_copy(built: &Path, dir: &Path) -> Result<PathBuf, Error> {
    let copy = dir.join(BINARY);
    std::fs::copy(built, &copy).map_err(|e| Error::io("copying", built, e))?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("setting permissions on", &copy, e))?;
    Ok(copy)
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
    version::version_line(
        program,
        "build it with `cargo build -p pgssl-pgwire-server` or set PGSSL_PGWIRE_SERVER",
        "pgwire ",
        "the pgwire version it was built with",
    )
}

/// Writes `pgwire.toml` for the files in `layout.dir` as they are now.
fn write_config(
    layout: &config::Layout,
    defaults: &PostgresDefaults,
    owner: Ids,
) -> Result<PathBuf, String> {
    let read = |name: &str| workdir::read(&layout.dir, name);
    super::product::hba::no_ident_maps(
        &read("pg_ident.conf")?,
        "it reads no pg_ident.conf (its startup handler maps no user names)",
    )?;
    let text = config::server_config(
        &read("postgresql.conf")?,
        &read("pg_hba.conf")?,
        layout,
        defaults,
    )?;
    let path = layout.dir.join("pgwire.toml");
    workdir::write_owned(&path, &text, owner)?;
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
            return Err(server::unmappable(
                &self.product,
                format!("its TLS is rustls, which reads no environment variable such as {name}"),
            ));
        }
        let owner = self.user.unwrap_or_else(current_ids);
        let layout = self.workdir.set_up(setup, owner)?;
        let defaults = PostgresDefaults::of(self.version);
        let launch = Launch {
            label: self.label(),
            log: PGWIRE_LOG,
            product: &self.product,
            user: self.user,
            owner,
            setup,
            layout,
            config: "pgwire.toml",
        };
        // The set-up's environment it is started with is empty: one with any is refused above.
        launch.start(
            move |l| write_config(l, &defaults, owner),
            |_, path| {
                let mut command = Command::new(&self.program);
                command.arg(path);
                command
            },
            Ok,
        )
    }
}

/// The server's `FATAL:` lines (in PostgreSQL's shape, `FATAL:  message`); the last three
/// lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    severe_or_last(lines, |l| l.starts_with("FATAL:"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::{refusal, runnable_copy};

    #[test]
    fn the_binary_runs_from_a_copy_anyone_can_execute() {
        let private = tempfile::tempdir().expect("temporary directory");
        std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let built = private.path().join("built");
        std::fs::write(&built, b"#!/bin/sh\n").expect("write");
        let open = tempfile::tempdir().expect("temporary directory");
        let copy = runnable_copy(&built, open.path()).expect("copied");
        assert_eq!(copy.parent(), Some(open.path()));
        let mode = std::fs::metadata(&copy)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read(&copy).expect("read"), b"#!/bin/sh\n");
        let missing = runnable_copy(&private.path().join("absent"), open.path());
        assert!(missing.is_err_and(|e| e.to_string().contains("absent")));
    }

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
