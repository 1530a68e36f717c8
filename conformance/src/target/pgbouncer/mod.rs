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
use std::path::{Path, PathBuf};
use std::process::Command;

use super::product::conf::PostgresDefaults;
use super::product::proxy::{Program, Proxy};
use super::product::refusal::severe_or_last;
use super::product::server::Launch;
use super::product::workdir;
use super::product::{hba, version};
use super::spawned::LogDialect;
use super::{Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::Ids;

/// How PgBouncer's log reads.
const PGBOUNCER_LOG: LogDialect = LogDialect {
    ready: "process up:",
    reloaded: "got SIGHUP",
    refusal,
};

/// How PgBouncer's program is found and its version read.
const PROGRAM: Program = Program {
    name: "pgbouncer",
    var: "PGSSL_PGBOUNCER",
    default: "/usr/sbin/pgbouncer",
    version: product_version,
};

/// PgBouncer in front of a PostgreSQL backend.
pub struct Pgbouncer {
    proxy: Proxy,
}

impl Pgbouncer {
    /// Parses what follows `pgbouncer` in a target (``, `@15`, `:BINDIR`, `:BINDIR@15`), checks
    /// the binaries and reads their versions; nothing is started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        Ok(Self {
            proxy: Proxy::parse(rest, &PROGRAM)?,
        })
    }
}

/// `pgbouncer --version`'s first line, `PgBouncer 1.18.0`.
fn product_version(program: &Path) -> Result<String, String> {
    version::version_line(
        program,
        "install Debian's pgbouncer (scripts/install-deps does) or set PGSSL_PGBOUNCER",
        "PgBouncer ",
        "PgBouncer's version",
    )
}

/// Writes `pgbouncer.ini` for the files in `layout.dir` as they are now.
fn write_ini(
    layout: &config::Layout,
    defaults: &PostgresDefaults,
    owner: Ids,
) -> Result<PathBuf, String> {
    let read = |name: &str| workdir::read(&layout.dir, name);
    hba::no_ident_maps(
        &read("pg_ident.conf")?,
        "PgBouncer 1.18 reads no pg_ident.conf (no user name maps)",
    )?;
    config::check_hba(&read("pg_hba.conf")?)?;
    let ini = config::ini(&read("postgresql.conf")?, layout, defaults)?;
    let path = layout.dir.join("pgbouncer.ini");
    workdir::write_owned(&path, &ini, owner)?;
    Ok(path)
}

impl Target for Pgbouncer {
    fn label(&self) -> String {
        format!("pgbouncer-{}", self.proxy.version)
    }

    fn version(&self) -> Version {
        self.proxy.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{} in front of {}",
            self.proxy.product,
            self.proxy.backend.full_version()
        ))
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let (owner, layout) = self.proxy.set_up(setup)?;
        let userlist = layout.dir.join("userlist.txt");
        fs::write(&userlist, "\"postgres\" \"\"\n")
            .map_err(|e| Error::io("writing", &userlist, e))?;
        crate::setup::chown_tree(&userlist, owner)?;
        let defaults = PostgresDefaults::of(self.proxy.version);
        let launch = Launch {
            label: self.label(),
            log: PGBOUNCER_LOG,
            product: &self.proxy.product,
            user: self.proxy.user,
            owner,
            setup,
            layout,
            config: "pgbouncer.ini",
        };
        launch.start(
            move |l| write_ini(l, &defaults, owner),
            |_, ini| {
                let mut command = Command::new(&self.proxy.program);
                command.arg(ini);
                command
            },
            Ok,
        )
    }
}

/// PgBouncer's `FATAL` and `ERROR` lines, without the timestamp and pid (`… [123] FATAL x` is
/// `FATAL x`); the last three lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    let messages: Vec<String> = lines
        .iter()
        .map(|l| l.split_once("] ").map_or(l.as_str(), |(_, m)| m).to_owned())
        .collect();
    severe_or_last(&messages, |m| {
        m.starts_with("FATAL ") || m.starts_with("ERROR ")
    })
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
