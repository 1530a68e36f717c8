//! pg-gateway as a target: `pg-gateway[@VERSION]`, our small Node server on the npm
//! `pg-gateway` package (`products/pg-gateway/server.mjs`), with no PostgreSQL behind it.
//!
//! `scripts/install-deps` installs the package, pinned by `products/pg-gateway/package-lock.json`,
//! into `/opt/pgssl/pg-gateway` (`PGSSL_PG_GATEWAY` overrides). The server script is built
//! into this binary from the checkout and written into the target's own directory beside a
//! `node_modules` link to the installed package: the script run is always the one this
//! harness was built with (an installed copy could be stale), it needs no checkout at run
//! time, and the unprivileged user the server runs as when the harness is root can read it.
//!
//! Each set-up gets a directory laid out like a data directory, from which [`config`] writes
//! the server's JSON configuration ([`hba`] reduces `pg_hba.conf` to its one method); a reload writes it again and sends SIGHUP, on which the
//! server re-reads it. Having no backend, it is judged by PostgreSQL 15's expectations unless
//! `@VERSION` says otherwise. Its log is its own, so PostgreSQL's log expectations are not
//! checked against it; a start it refuses is the trace's `start: refused:` lines.

pub mod config;
pub mod hba;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::product::conf::PostgresDefaults;
use super::product::refusal::severe_or_last;
use super::product::server::Launch;
use super::product::workdir::{self, Workdir};
use super::product::{spec, version};
use super::spawned::{LogDialect, run_as_user};
use super::{Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{Ids, current_ids};

/// The server, as built into the harness.
const SERVER_SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../products/pg-gateway/server.mjs"
));

/// Where `scripts/install-deps` installs the package.
const DEFAULT_INSTALL_DIR: &str = "/opt/pgssl/pg-gateway";

/// The version judged by default: there is no backend whose version it would follow.
const DEFAULT_VERSION: Version = Version::Pg15;

/// The configuration file's name in each set-up's directory.
const CONFIG_FILE: &str = "pg-gateway.json";

/// How the server's log reads.
const GATEWAY_LOG: LogDialect = LogDialect {
    ready: "LOG: ready: listening",
    reloaded: "LOG: received SIGHUP",
    refusal,
};

/// Our pg-gateway server, one process per set-up.
pub struct PgGateway {
    script: PathBuf,
    product: String,
    runtime: String,
    version: Version,
    user: Option<Ids>,
    workdir: Workdir,
}

impl PgGateway {
    /// Parses what follows `pg-gateway` in a target (`` or `@VERSION`), prepares the server
    /// script beside the installed package and reads the package's version; nothing is
    /// started yet.
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let (spec, version) = spec::without_backend("pg-gateway", rest, DEFAULT_VERSION)?;
        let install = std::env::var_os("PGSSL_PG_GATEWAY")
            .map_or_else(|| PathBuf::from(DEFAULT_INSTALL_DIR), PathBuf::from);
        let modules = install.join("node_modules");
        if !modules.join("pg-gateway").join("package.json").is_file() {
            return Err(Error::TargetUnavailable {
                target: spec,
                why: format!(
                    "no pg-gateway package under {}: run scripts/install-deps, or set PGSSL_PG_GATEWAY to the directory holding its node_modules",
                    modules.display()
                ),
            });
        }
        let workdir = Workdir::new("pgssl-conform-pg-gateway-")?;
        let script = workdir.path().join("server.mjs");
        fs::write(&script, SERVER_SCRIPT).map_err(|e| Error::io("writing", &script, e))?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io("setting permissions on", &script, e))?;
        let link = workdir.path().join("node_modules");
        std::os::unix::fs::symlink(&modules, &link).map_err(|e| Error::io("linking", &link, e))?;
        let runtime = product_version(&script)
            .map_err(|why| Error::TargetUnavailable { target: spec, why })?;
        let product = runtime
            .split(" on ")
            .next()
            .unwrap_or(runtime.as_str())
            .to_owned();
        Ok(Self {
            script,
            product,
            runtime,
            version,
            user: run_as_user()?,
            workdir,
        })
    }
}

/// `node server.mjs --version`: `pg-gateway 0.3.0-beta.4 on Node v20.20.2 (OpenSSL 3.0.19)`.
fn product_version(script: &Path) -> Result<String, String> {
    let printed = version::printed(
        Command::new("node").arg(script).arg("--version"),
        "install Node.js 20 or later",
    )?;
    let first = version::first_line(&printed.stdout);
    if !printed.success || !first.starts_with("pg-gateway ") {
        return Err(format!(
            "node server.mjs --version printed {first:?}, not pg-gateway's version: {}",
            printed.stderr.trim()
        ));
    }
    Ok(first.to_owned())
}

/// Writes the server's configuration for the files in `layout.dir` as they are now.
fn write_config(
    layout: &config::Layout,
    defaults: &PostgresDefaults,
    owner: Ids,
) -> Result<PathBuf, String> {
    let read = |name: &str| workdir::read(&layout.dir, name);
    let value = config::config(
        &read("postgresql.conf")?,
        &read("pg_hba.conf")?,
        &read("pg_ident.conf")?,
        layout,
        defaults,
    )?;
    let text = serde_json::to_string_pretty(&value)
        .map_err(|e| format!("cannot write the configuration as JSON: {e}"))?;
    let path = layout.dir.join(CONFIG_FILE);
    workdir::write_owned(&path, &(text + "\n"), owner)?;
    Ok(path)
}

impl Target for PgGateway {
    fn label(&self) -> String {
        format!("pg-gateway-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "{}, served by products/pg-gateway/server.mjs, no backend",
            self.runtime
        ))
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let owner = self.user.unwrap_or_else(current_ids);
        let layout = self.workdir.set_up(setup, owner)?;
        let defaults = PostgresDefaults::of(self.version);
        let launch = Launch {
            label: self.label(),
            log: GATEWAY_LOG,
            product: &self.product,
            user: self.user,
            owner,
            setup,
            layout,
            config: CONFIG_FILE,
        };
        launch.start(
            move |l| write_config(l, &defaults, owner),
            |_, path| {
                let mut command = Command::new("node");
                command.arg(&self.script).arg(path);
                command
            },
            Ok,
        )
    }
}

/// The server's `FATAL: ` lines; the last three lines when there is none.
fn refusal(lines: &[String]) -> Vec<String> {
    severe_or_last(lines, |l| l.starts_with("FATAL: "))
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refusal_is_the_fatal_lines() {
        let lines = [
            "LOG: pg-gateway 0.3.0-beta.4 on Node v20.20.2 (OpenSSL 3.0.19)".to_owned(),
            "FATAL: could not read the TLS key file \"DATADIR/server.key\": ENOENT".to_owned(),
        ];
        assert_eq!(
            refusal(&lines),
            ["FATAL: could not read the TLS key file \"DATADIR/server.key\": ENOENT"]
        );
        assert_eq!(refusal(&lines[..1]), [lines[0].clone()]);
    }
}
